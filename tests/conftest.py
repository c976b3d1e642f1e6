"""Shared fixtures: tiny experiment configs that train in well under a second per run."""

from __future__ import annotations

import contextlib
import copy
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from harness.config.resolve import DEFAULT_VARIANTS, ExperimentConfig, RunConfig, parse_experiment, resolve_run
from harness.data import DATASETS
from harness.config.knob_space import AXES
from harness.models import ARCHS
from harness.recipes.presets import PRESETS
from harness.core.registry import CATALOG

VARIANTS = tuple(PRESETS.names())  # every preset, derived: a new one is trained by the parametrized tests
BASE_PRESET = "wgan_gp"  # the recipe whose other axes stay fixed while one axis runs through its entries
# One variant per entry of each recipe axis (loss, constraint, scheduler), plus a combined constraint list.
AXIS_VARIANTS = {f"{kind}-{name}": {"preset": BASE_PRESET, "name": f"{kind}-{name}", "train": {AXES[kind]: name}}
                 for kind in AXES for name in CATALOG[kind].names()}
AXIS_VARIANTS["constraint-spectral_norm+gp"] = {"preset": BASE_PRESET, "name": "constraint-spectral_norm-gp",
                                                "train": {"constraint": ["spectral_norm", "gp"]}}


def pytest_configure(config: pytest.Config) -> None:
    """A suite started in the background (`cmd &`, `nohup`) inherits SIGINT ignored, and so would every
    sweep it starts, which then never sees the Ctrl-C that the interrupt tests send its process group.
    Restore Python's own handler: the sweeps the tests start then begin with SIGINT as a terminal has it."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def saved_signal_handlers() -> Iterator[None]:
    """A test that installs signal handlers leaves the process's handlers as it found them."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = deep_merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


# The dataset each kind of architecture trains on in the tests: the 2-D ring, 8x8 digits.
KIND_DATA = {"points": "ring8", "images": "digits"}
TEST_WIDTH = 16  # every integer model knob above this (widths, channels) shrinks to it: tiny, fast models


def arch_case(arch: str) -> tuple[str, dict[str, Any]]:
    """(case name, config sections) of a registered architecture on its kind's test dataset."""
    entry = ARCHS.get(arch)
    data = KIND_DATA[entry.kind]
    side = DATASETS.get(data).native_size
    knobs = {k.name: min(k.default, TEST_WIDTH) for k in entry.knobs if k.type is int}
    return f"{arch}-{data if side is None else f'{data}{side}'}", {"data": {"name": data},
                                                                 "model": {"arch": arch, **knobs}}


# (dataset, extra config) per architecture the parametrized tests cover: one case per registered
# architecture (derived: a new one is trained by the parametrized tests), plus dcgan at 16 px.
ARCHITECTURES = tuple(arch_case(arch)[0] for arch in ARCHS.names())
ARCH_CASES = dict(arch_case(arch) for arch in ARCHS.names())
ARCH_CASES["dcgan-digits16"] = deep_merge(ARCH_CASES["dcgan-digits8"], {"data": {"image_size": 16}})


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
    """A tiny run of `variant`: a preset name, or a key of AXIS_VARIANTS."""
    if "variants" not in sections and variant in AXIS_VARIANTS:
        sections["variants"] = [AXIS_VARIANTS[variant]]
        variant = AXIS_VARIANTS[variant]["name"]
    elif "variants" not in sections and variant not in DEFAULT_VARIANTS:
        sections["variants"] = [variant]
    return resolve_run(tiny_experiment(**deep_merge(ARCH_CASES[case], sections)), variant)


@contextlib.contextmanager
def registries_restored() -> Iterator[None]:
    """Whatever a plugin registers inside the block (any registry, its knobs too) is unregistered after it."""
    from harness.config.plugin_loader import forget_new_entries, registered_names

    before = registered_names()
    try:
        yield
    finally:
        forget_new_entries(before)


@pytest.fixture(autouse=True)
def _deterministic_threads() -> None:
    torch.set_num_threads(1)  # the same numbers on every machine; tests are tiny anyway
