"""The convergence rule on synthetic histories, with the numbers worked out by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from harness.report.convergence import (CONVERGED, IMPROVING, UNKNOWN, assess, convergence_table, improvement,
                                        value_at)

STEPS = [150.0, 300.0, 450.0, 600.0]


def test_value_at_interpolates_linearly_and_never_extrapolates() -> None:
    assert value_at(STEPS, [4.0, 3.0, 2.0, 1.0], 400.0) == pytest.approx(2.0 + 1.0 * 50 / 150)
    assert value_at(STEPS, [4.0, 3.0, 2.0, 1.0], 600.0) == 1.0
    assert math.isnan(value_at(STEPS, [4.0, 3.0, 2.0, 1.0], 100.0))
    assert math.isnan(value_at(STEPS, [4.0, 3.0, 2.0, 1.0], 601.0))


def test_improvement_is_measured_from_two_thirds_of_the_final_step() -> None:
    # 2/3 of 600 = 400, between 300 (30) and 450 (20): 30 - 10 * 100/150 = 23.333; final 10
    gain, start = improvement(STEPS, [40.0, 30.0, 20.0, 10.0], "minimize")
    assert start == pytest.approx(400.0)
    assert gain == pytest.approx(13.3333333, rel=1e-6)
    gain, _ = improvement(STEPS, [0.1, 0.2, 0.3, 0.4], "maximize")  # higher is better: rising is a gain
    assert gain == pytest.approx(0.4 - (0.2 + 0.1 * 100 / 150))


def test_still_falling_is_improving() -> None:
    # seeds end at 10, 11, 12: sd 1.0, floor 2% of 11 = 0.22 -> threshold 1.0; each gains 13.33 > 1
    histories = [(STEPS, [40.0 + e, 30.0 + e, 20.0 + e, 10.0 + e]) for e in (0.0, 1.0, 2.0)]
    result = assess(histories, "minimize")
    assert result.status == IMPROVING
    assert result.improvement == pytest.approx(13.3333333, rel=1e-6)
    assert result.seed_sd == pytest.approx(1.0)
    assert result.threshold == pytest.approx(1.0)
    assert result.value_final == pytest.approx(11.0)
    assert result.value_from == pytest.approx(24.3333333, rel=1e-6)
    assert result.suggested_steps == 2400.0


def test_flat_is_converged() -> None:
    histories = [(STEPS, [40.0, 10.0, 10.0, 10.0]), (STEPS, [41.0, 10.5, 10.5, 10.5])]
    result = assess(histories, "minimize")
    assert result.status == CONVERGED
    assert result.improvement == 0.0
    assert math.isnan(result.suggested_steps)


def test_noisy_flat_is_converged_because_the_gain_is_within_the_seed_spread() -> None:
    # finals 10.0, 12.0, 11.0: sd 1.0. Gains: (10.4 - 10.0), (11.6 - 12.0), (11.3 - 11.0) -> mean 0.1 < 1.0
    histories = [(STEPS, [30.0, 10.4, 10.4, 10.0]), (STEPS, [30.0, 11.6, 11.6, 12.0]),
                 (STEPS, [30.0, 11.3, 11.3, 11.0])]
    result = assess(histories, "minimize")
    assert result.improvement == pytest.approx(0.1)
    assert result.threshold == pytest.approx(1.0)
    assert result.status == CONVERGED


def test_the_relative_floor_keeps_agreeing_seeds_from_calling_a_tiny_gain_improving() -> None:
    # identical seeds: sd 0, floor 2% of 100 = 2; a gain of 1 is below it, a gain of 3 above it
    flat = [(STEPS, [150.0, 101.0, 101.0, 100.0])] * 2  # from 400: 101 -> gain 1
    falling = [(STEPS, [150.0, 103.0, 103.0, 100.0])] * 2  # gain 3
    assert assess(flat, "minimize").status == CONVERGED
    assert assess(flat, "minimize").threshold == pytest.approx(2.0)
    assert assess(falling, "minimize").status == IMPROVING


def test_getting_worse_beyond_the_threshold_is_unknown_not_converged() -> None:
    histories = [(STEPS, [40.0, 10.0, 10.0, 20.0]), (STEPS, [40.0, 10.0, 10.0, 21.0])]
    result = assess(histories, "minimize")
    assert result.status == UNKNOWN
    assert result.improvement == pytest.approx(-10.5)
    assert "worse" in result.reason


def test_too_few_evaluations_is_unknown() -> None:
    result = assess([(STEPS[:3], [3.0, 2.0, 1.0])], "minimize")
    assert result.status == UNKNOWN
    assert result.evaluations == 3
    assert "too few evaluations" in result.reason
    assert assess([], "minimize").status == UNKNOWN


def test_one_seed_uses_the_floor_alone() -> None:
    result = assess([(STEPS, [40.0, 30.0, 20.0, 10.0])], "minimize")
    assert math.isnan(result.seed_sd)
    assert result.threshold == pytest.approx(0.2)
    assert result.status == IMPROVING


def test_table_has_a_row_per_variant_with_its_numbers() -> None:
    def frame(values: list[list[float]]) -> pd.DataFrame:
        return pd.DataFrame([{"number": n, "step": s, "value": v} for n, vs in enumerate(values)
                             for s, v in zip(STEPS, vs)])

    table = convergence_table({"a": frame([[40, 30, 20, 10], [41, 31, 21, 11]]), "b": frame([[3, 2, 1]])},
                              "minimize")
    assert list(table.variant) == ["a", "b"]
    assert list(table.status) == [IMPROVING, UNKNOWN]
    assert {"improvement", "threshold", "seed_sd", "reason"} <= set(table.columns)
