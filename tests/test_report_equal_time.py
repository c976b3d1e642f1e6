"""Equal-training-time comparison: the common time T, interpolation at T, the mean curve."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from harness.report.equal_time import common_time, mean_curve, runs_at, speed_spread


def history(variant: str, number: int, seconds: list[float], values: list[float]) -> list[dict]:
    return [{"variant": variant, "number": number, "step": 100.0 * (i + 1), "value": v, "train_seconds": t}
            for i, (t, v) in enumerate(zip(seconds, values))]


EVALS = pd.DataFrame(history("fast", 0, [1.0, 2.0, 3.0], [9.0, 6.0, 5.0])
                     + history("fast", 1, [1.2, 2.4, 3.6], [8.0, 7.0, 4.0])
                     + history("slow", 0, [2.0, 4.0, 6.0], [5.0, 3.0, 2.0])
                     + history("slow", 1, [4.0, 8.0, 12.0], [5.0, 3.0, 2.0]))


def test_common_time_is_the_shortest_run() -> None:
    assert common_time(EVALS) == 3.0
    assert math.isnan(common_time(EVALS.iloc[0:0]))


def test_values_at_t_by_hand() -> None:
    at = runs_at(EVALS, 3.0).set_index(["variant", "number"])
    assert at.loc[("fast", 0), "value"] == 5.0
    # between 2.4 (7.0) and 3.6 (4.0): 7 - 3 * 0.6/1.2 = 5.5; step 200 + 100 * 0.5 = 250
    assert at.loc[("fast", 1), "value"] == pytest.approx(5.5)
    assert at.loc[("fast", 1), "step"] == pytest.approx(250.0)
    # between 2.0 (5.0) and 4.0 (3.0): 4.0
    assert at.loc[("slow", 0), "value"] == pytest.approx(4.0)
    # first evaluation at 4.0 s, after T: no value, nothing extrapolated
    assert math.isnan(at.loc[("slow", 1), "value"])
    assert at.loc[("slow", 1), "first_eval_seconds"] == 4.0


def test_mean_curve_spans_only_the_times_every_run_covers() -> None:
    curve = mean_curve(EVALS[EVALS.variant == "fast"], points=3)
    assert list(curve.seconds) == pytest.approx([1.2, 2.1, 3.0])
    # at 2.1: run 0 between 2.0 (6) and 3.0 (5) -> 5.9; run 1 between 1.2 (8) and 2.4 (7) -> 7.25
    assert curve["mean"].iloc[1] == pytest.approx((5.9 + 7.25) / 2)
    assert curve.sd.iloc[1] == pytest.approx(abs(5.9 - 7.25) / math.sqrt(2))
    disjoint = pd.DataFrame(history("x", 0, [1.0, 2.0], [1.0, 1.0]) + history("x", 1, [3.0, 4.0], [1.0, 1.0]))
    assert mean_curve(disjoint).empty


def test_speed_spread_is_the_coefficient_of_variation_of_seconds_per_step() -> None:
    # final rates 3.0/300 = 0.01 and 3.6/300 = 0.012: mean 0.011, sd 0.0014142 -> 0.12856
    assert speed_spread(EVALS[EVALS.variant == "fast"]) == pytest.approx(math.sqrt(2) * 0.001 / 0.011)
    # 6/300 and 12/300: mean 0.03, sd 0.014142 -> 0.4714
    assert speed_spread(EVALS[EVALS.variant == "slow"]) == pytest.approx(math.sqrt(2) * 0.01 / 0.03)
    assert math.isnan(speed_spread(EVALS[(EVALS.variant == "slow") & (EVALS.number == 0)]))
