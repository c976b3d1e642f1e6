"""Sweep search spaces: grid points of `sweep.space`.

Where each knob applies and the rules of `sweep.space` live one layer down, with the resolver,
in `harness.knob_space`; they are re-exported here for the sweep's modules.
"""

from __future__ import annotations

import itertools
from typing import Any

from harness.knob_space import applicable_space, knob_applies, knob_names, knob_type  # noqa: F401
from harness.schema import KnobSpace


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
