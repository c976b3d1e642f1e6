"""Shared fixtures: tiny experiment configs that train in well under a second per run."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch

from harness.config import ExperimentConfig, RunConfig, parse_experiment, resolve_run

VARIANTS = ("vanilla", "wgan_clip", "wgan_gp", "wgan_gp_sched")
# (dataset, extra config) per architecture the parametrized tests cover
ARCH_CASES = {
    "mlp-ring8": {"data": {"name": "ring8"}, "model": {"width": 32, "depth": 2}},
    "dcgan-digits8": {"data": {"name": "digits"}, "model": {"width": 16}},
    "dcgan-digits16": {"data": {"name": "digits", "image_size": 16}, "model": {"width": 16}},
}


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = deep_merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


TINY = {
    "name": "tiny",
    "seed": 0,
    "train": {"steps": 6, "batch_size": 16, "log_every": 3, "eval_every": 6, "sample_every": 6, "device": "cpu"},
    # One classifier cache for the whole suite, outside the repo (it trains once, then loads).
    "eval": {"num_samples": 200, "cache_dir": str(Path(tempfile.gettempdir()) / "harness-test-cache")},
    "sweep": {"trials_per_variant": 2, "seeds": 1},
}


def tiny_experiment(**sections: Any) -> ExperimentConfig:
    """A valid experiment with tiny budgets; keyword sections are merged over the defaults."""
    return parse_experiment(deep_merge(TINY, sections))


def tiny_run(variant: str = "wgan_gp", case: str = "mlp-ring8", **sections: Any) -> RunConfig:
    return resolve_run(tiny_experiment(**deep_merge(ARCH_CASES[case], sections)), variant)


@pytest.fixture(autouse=True)
def _deterministic_threads() -> None:
    torch.set_num_threads(1)  # the same numbers on every machine; tests are tiny anyway
