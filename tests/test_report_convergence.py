"""The convergence rule on synthetic histories, with the numbers worked out by hand, at n = 1, 2, 3, 10 seeds.

A shortcut for the hand computations: with three equally spaced evaluations y1, y2, y3 in the window,
the least-squares line's change over the window is y3 - y1, and its standard error is
|y1 + y3 - 2 y2| / sqrt(3) (the residuals are d/6, -d/3, d/6 with d = y1 + y3 - 2 y2, so s^2 = d^2/6
on one degree of freedom; the slope's error is s / (h sqrt 2) for a spacing h, times the span 2h).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness.report.convergence import (ALPHA, CONVERGED, IMPROVING, MIN_SEEDS, UNKNOWN, assess, convergence_table,
                                        run_trend, value_at)

STEPS = [150.0, 300.0, 450.0, 600.0]  # the window (the last half, steps >= 300) holds the last three
T95 = {1: 6.313751514675037, 2: 2.9199855803537242, 9: 1.833112932656237}  # t(0.95, df)


def test_value_at_interpolates_linearly_and_never_extrapolates() -> None:
    assert value_at(STEPS, [4.0, 3.0, 2.0, 1.0], 400.0) == pytest.approx(2.0 + 1.0 * 50 / 150)
    assert value_at(STEPS, [4.0, 3.0, 2.0, 1.0], 600.0) == 1.0
    assert math.isnan(value_at(STEPS, [4.0, 3.0, 2.0, 1.0], 100.0))
    assert math.isnan(value_at(STEPS, [4.0, 3.0, 2.0, 1.0], 601.0))


def test_a_runs_trend_is_the_fitted_change_over_the_last_half() -> None:
    # window 300, 450, 600 with 30, 21, 10: gain 30 - 10 = 20 (falling is better when minimizing),
    # d = 30 + 10 - 42 = -2, so the standard error is 2 / sqrt(3)
    trend = run_trend(STEPS, [40.0, 30.0, 21.0, 10.0], "minimize")
    assert (trend.evaluations, trend.from_step, trend.final_step, trend.final_value) == (3, 300.0, 600.0, 10.0)
    assert trend.gain == pytest.approx(20.0) and trend.gain_se == pytest.approx(2 / math.sqrt(3))
    assert run_trend(STEPS, [0.1, 0.2, 0.3, 0.4], "maximize").gain == pytest.approx(0.2)  # rising is a gain
    fit = stats.linregress([300.0, 450.0, 600.0], [30.0, 21.0, 10.0])  # the same numbers from scipy
    assert trend.gain == pytest.approx(-fit.slope * 300) and trend.gain_se == pytest.approx(fit.stderr * 300)


def test_too_few_evaluations_in_the_window_is_unknown_with_the_numbers() -> None:
    short = assess([([200.0, 400.0], [3.0, 1.0])] * 3, "minimize")
    assert short.status == UNKNOWN and short.evaluations == 2
    assert "too few evaluations: 2 in the last 50% of training (per run), the rule needs 3" in short.reason
    assert assess([], "minimize").status == UNKNOWN


# n = 1


def test_one_seed_falling_is_still_improving_on_the_fits_own_noise() -> None:
    # window 30, 20, 10: gain 20, standard error 0 (a straight line); floor 2% of 10 = 0.2
    result = assess([(STEPS, [40.0, 30.0, 20.0, 10.0])], "minimize")
    assert result.status == IMPROVING
    assert result.improvement == pytest.approx(20.0) and result.improvement_se == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(result.seed_sd) and result.threshold == pytest.approx(0.2)
    assert result.suggested_steps == 2400.0


def test_one_seed_flat_is_unknown_never_converged() -> None:
    # window 10, 11, 10: gain 0, d = -2 -> se 2/sqrt(3) on 1 df; bounds +- 6.3138 * 1.1547; one seed
    # cannot say converged
    result = assess([(STEPS, [30.0, 10.0, 11.0, 10.0])], "minimize")
    assert result.status == UNKNOWN and result.degrees_of_freedom == 1
    assert result.improvement == pytest.approx(0.0, abs=1e-9)
    assert result.improvement_se == pytest.approx(2 / math.sqrt(3))
    assert result.improvement_high == pytest.approx(T95[1] * 2 / math.sqrt(3))
    assert result.p_improving == pytest.approx(0.5)
    assert f"too few seeds (n = 1): converged needs {MIN_SEEDS} seeds per variant" in result.reason


# n = 2


def test_two_seeds_still_falling_are_improving_whatever_the_spread_of_their_final_values() -> None:
    """The issue's case: two seeds ending 40 apart, both still falling by 30 over the last half. The old
    rule compared the gain over the last third (20) with the sd of the two finals (28.3) and said converged."""
    histories = [([50.0, 100.0, 150.0, 200.0], [300.0, 120.0, 105.0, 90.0]),
                 ([50.0, 100.0, 150.0, 200.0], [300.0, 160.0, 145.0, 130.0])]
    result = assess(histories, "minimize")
    assert result.status == IMPROVING
    assert result.improvement == pytest.approx(30.0) and result.seed_sd == pytest.approx(40 / math.sqrt(2))
    assert result.improvement > result.threshold


def test_two_seeds_with_a_tiny_spread_are_improving_by_hand() -> None:
    # gains 20 (30 -> 10) and 21 (31 -> 10): mean 20.5, sd 0.7071, se 0.5 on 1 df, t = 41,
    # one-sided p = 1/2 - atan(41)/pi = 0.00776; lower bound 20.5 - 6.3138 * 0.5 = 17.34
    histories = [(STEPS, [40.0, 30.0, 20.0, 10.0]), (STEPS, [41.0, 31.0, 20.0, 10.0])]
    result = assess(histories, "minimize")
    assert result.status == IMPROVING
    assert result.improvement == pytest.approx(20.5) and result.improvement_se == pytest.approx(0.5)
    assert result.p_improving == pytest.approx(0.5 - math.atan(41) / math.pi)
    assert result.improvement_low == pytest.approx(20.5 - T95[1] * 0.5)


def test_two_flat_seeds_are_unknown_because_converged_needs_three() -> None:
    histories = [(STEPS, [40.0, 10.0, 10.0, 10.0]), (STEPS, [41.0, 10.5, 10.5, 10.5])]
    result = assess(histories, "minimize")
    assert result.status == UNKNOWN and result.improvement == pytest.approx(0.0, abs=1e-9)
    assert "too few seeds (n = 2): converged needs 3 seeds per variant" in result.reason
    assert result.suggested_steps == 2400.0


# n = 3

FLAT3 = [(STEPS, [30.0, 10.0, 10.1, 10.0]), (STEPS, [30.0, 11.1, 11.0, 11.0]), (STEPS, [30.0, 12.0, 12.0, 12.1])]


def test_three_flat_noisy_seeds_are_converged_by_hand() -> None:
    # gains 0, 0.1, -0.1: mean 0, sd 0.1, se 0.1/sqrt(3) on 2 df, bounds +- 2.92 * 0.0577 = +- 0.1686;
    # finals 10, 11, 12.1: sd 1.0504 = the threshold; the bounds lie inside +- 1.0504
    result = assess(FLAT3, "minimize")
    assert result.status == CONVERGED
    assert result.improvement == pytest.approx(0.0, abs=1e-9)
    assert result.improvement_se == pytest.approx(0.1 / math.sqrt(3))
    assert result.improvement_high == pytest.approx(T95[2] * 0.1 / math.sqrt(3))
    assert result.threshold == pytest.approx(np.std([10.0, 11.0, 12.1], ddof=1))
    assert math.isnan(result.suggested_steps) and "flat" in result.reason


def test_three_seeds_falling_with_a_tiny_spread_are_still_improving() -> None:
    histories = [(STEPS, [40.0 + e, 30.0 + e, 20.0 + e, 10.0 + e]) for e in (0.0, 0.1, 0.2)]
    result = assess(histories, "minimize")
    assert result.status == IMPROVING and result.improvement == pytest.approx(20.0)
    assert result.p_improving < ALPHA and "still improving" in result.reason


def test_three_seeds_whose_trends_disagree_are_too_noisy_to_call_converged() -> None:
    # gains 0, 2, -2: mean 0, se 2/sqrt(3) = 1.155, bounds +- 3.37; finals 10, 10.1, 10.2: threshold
    # max(0.1, 2% of 10.1) = 0.202. Not significantly improving, and not shown to be flat either.
    histories = [(STEPS, [20.0, 10.0, 10.0, 10.0]), (STEPS, [20.0, 12.1, 11.0, 10.1]),
                 (STEPS, [20.0, 8.2, 9.0, 10.2])]
    result = assess(histories, "minimize")
    assert result.status == UNKNOWN and result.threshold == pytest.approx(0.202)
    assert result.improvement_high == pytest.approx(T95[2] * 2 / math.sqrt(3))
    assert "too noisy to tell" in result.reason


def test_three_seeds_getting_worse_are_unknown_not_converged() -> None:
    histories = [(STEPS, [40.0, 10.0 + e, 15.0 + e, 20.0 + e]) for e in (0.0, 0.5, 1.0)]
    result = assess(histories, "minimize")
    assert result.status == UNKNOWN and result.improvement == pytest.approx(-10.0)
    assert "getting worse" in result.reason


# n = 10


def test_ten_seeds_by_hand() -> None:
    # gains +0.1 and -0.1 alternating (windows a+0.05, a, a-0.05 and back, d = 0): mean 0,
    # sd sqrt(10 * 0.01 / 9), se = that / sqrt(10) = 1/30, bounds +- 1.8331/30 = +- 0.0611;
    # levels a = 10 + i/10 (finals' sd about 0.3 > 2% of the mean): converged
    histories = [(STEPS, [30.0, a + 0.05 * s, a, a - 0.05 * s]) for i in range(10)
                 for a, s in [(10 + i / 10, 1 if i % 2 == 0 else -1)]]
    result = assess(histories, "minimize")
    assert result.status == CONVERGED and result.seeds == 10 and result.degrees_of_freedom == 9
    assert result.improvement_se == pytest.approx(1 / 30)
    assert result.improvement_high == pytest.approx(T95[9] / 30)


def synthetic(seeds: int, slope: float, noise: float, spread: float, rng: np.random.Generator) -> list:
    steps = np.arange(1.0, 21.0) * 50  # 20 evaluations, 10 of them in the last half
    return [(steps, 100 + spread * rng.standard_normal() + slope * steps + noise * rng.standard_normal(steps.size))
            for _ in range(seeds)]


@pytest.mark.parametrize("seeds", [3, 10])
def test_synthetic_flat_plus_noise_is_converged_and_a_steady_fall_is_still_improving(seeds: int) -> None:
    rng = np.random.default_rng(0)
    assert assess(synthetic(seeds, 0.0, 0.2, 5.0, rng), "minimize").status == CONVERGED
    falling = assess(synthetic(seeds, -0.01, 0.2, 0.01, rng), "minimize")  # 5 units over the window, seeds agree
    assert falling.status == IMPROVING and falling.improvement == pytest.approx(5.0, rel=0.2)


@pytest.mark.parametrize("seeds", [1, 2])
def test_synthetic_flat_curves_are_never_converged_below_three_seeds(seeds: int) -> None:
    result = assess(synthetic(seeds, 0.0, 0.2, 5.0, np.random.default_rng(0)), "minimize")
    assert result.status == UNKNOWN and f"too few seeds (n = {seeds})" in result.reason


def test_the_between_seed_test_is_scipys_one_sample_t_test() -> None:
    histories = synthetic(3, -0.001, 0.3, 1.0, np.random.default_rng(1))
    result = assess(histories, "minimize")
    gains = [run_trend(s, v, "minimize").gain for s, v in histories]
    assert result.p_improving == pytest.approx(stats.ttest_1samp(gains, 0.0, alternative="greater").pvalue)


def test_table_has_a_row_per_variant_with_its_numbers() -> None:
    def frame(values: list[list[float]]) -> pd.DataFrame:
        return pd.DataFrame([{"number": n, "step": s, "value": v} for n, vs in enumerate(values)
                             for s, v in zip(STEPS, vs)])

    table = convergence_table({"a": frame([[40, 30, 20, 10], [41, 31, 21, 11], [42, 32, 22, 12]]),
                               "b": frame([[3, 2]])}, "minimize")
    assert list(table.variant) == ["a", "b"]
    assert list(table.status) == [IMPROVING, UNKNOWN]
    assert {"improvement", "improvement_se", "improvement_low", "improvement_high", "p_improving", "threshold",
            "seed_sd", "reason"} <= set(table.columns)
