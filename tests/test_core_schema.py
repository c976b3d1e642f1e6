"""The config schema: every count and duration has a finite maximum, and every default keeps its own rule."""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

import pytest

from harness.core.schema import (DataConfig, EvalConfig, ExperimentConfig, ModelConfig, SweepConfig, TrackingConfig,
                                 TrainConfig)
from harness.core.strict import parse_value

SECTIONS = {"": ExperimentConfig, "data.": DataConfig, "model.": ModelConfig, "train.": TrainConfig,
            "eval.": EvalConfig, "sweep.": SweepConfig, "tracking.": TrackingConfig}


def number_type(tp: Any) -> type | None:
    """int or float for a numeric field (`int | None` too), None for any other."""
    args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
    return args[0] if len(args) == 1 and args[0] in (int, float) else None


def fields_of_the_schema() -> list[tuple[str, Any, dataclasses.Field]]:
    """(dotted key, type, field) of every field the sections declare themselves (not the entries' knobs)."""
    found = []
    for prefix, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        found += [(prefix + f.name, hints[f.name], f) for f in dataclasses.fields(cls) if not f.metadata.get("inline")]
    return found


NUMBERS = [(key, f.metadata) for key, tp, f in fields_of_the_schema()
           if number_type(tp) is not None and f.metadata.get("choices") is None]


@pytest.mark.parametrize("key, meta", NUMBERS, ids=[key for key, _ in NUMBERS])
def test_every_count_and_duration_has_a_finite_maximum(key: str, meta: typing.Mapping[str, Any]) -> None:
    """Issue 26: `train.steps: 10**30` ran, and `sweep.heartbeat_seconds: 10**12` killed the heartbeat thread."""
    assert meta.get("max") is not None and math.isfinite(meta["max"]), f"{key} has no maximum"
    assert meta.get("min") is not None, f"{key} has no minimum"


def test_the_numbers_are_all_found() -> None:
    keys = {key for key, _ in NUMBERS}
    assert {"train.steps", "train.lr", "sweep.heartbeat_seconds", "sweep.trials_per_variant", "eval.num_samples",
            "tracking.connect_timeout_seconds", "seed"} <= keys and len(keys) >= 25


DEFAULTS = [(key, tp, f) for key, tp, f in fields_of_the_schema()
            if f.default is not dataclasses.MISSING and not dataclasses.is_dataclass(tp)]


@pytest.mark.parametrize("key, tp, f", DEFAULTS, ids=[key for key, _, _ in DEFAULTS])
def test_every_default_keeps_its_own_rule(key: str, tp: Any, f: dataclasses.Field) -> None:
    parse_value(tp, list(f.default) if isinstance(f.default, tuple) else f.default, key, f.metadata)
