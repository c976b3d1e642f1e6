"""Sweep search spaces: grid points of `sweep.space`, and a trial's suggestions from it.

Where each knob applies and the rules of `sweep.space` live lower down, with the resolver,
in `harness.config.knob_space`; they are re-exported here for the sweep's modules.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from harness.config.knob_space import (applicable_space, knob_applies, knob_names, knob_type,  # noqa: F401
                                      knob_value, searched)
from harness.core.schema import KnobSpace

if TYPE_CHECKING:
    import optuna


def grid_values(spec: KnobSpace) -> list[Any]:
    """The grid points of one knob: its choices, or low..high by step."""
    if spec.choices is not None:
        return list(spec.choices)
    count = int(round((spec.high - spec.low) / spec.step)) + 1
    values = [spec.low + i * spec.step for i in range(count)]
    return [v for v in values if v <= spec.high + 1e-12]


def grid_points(space: dict[str, KnobSpace]) -> list[dict[str, Any]]:
    """Every combination of the knobs' grid values (the full factorial), in a fixed order."""
    names = sorted(space)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid_values(space[n]) for n in names))]


def suggest(trial: "optuna.Trial", space: dict[str, KnobSpace]) -> dict[str, Any]:
    """Ask the trial for every applicable knob (queued fixed values come back unchanged).

    The Optuna param is named by its space key: `lambda_gp` for a train knob, `model.ngf` for a model one.
    """
    params: dict[str, Any] = {}
    for knob in sorted(space):
        spec = space[knob]
        if spec.choices is not None:
            params[knob] = trial.suggest_categorical(knob, list(spec.choices))
        elif knob_type(knob) is int:
            params[knob] = trial.suggest_int(knob, spec.low, spec.high, step=spec.step or 1, log=spec.log)
        else:
            params[knob] = trial.suggest_float(knob, float(spec.low), float(spec.high), step=spec.step, log=spec.log)
    return params
