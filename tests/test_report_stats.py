"""The report's statistics: t intervals, bootstrap, tests, Holm, and the words they lead to."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.report.stats import MIN_SEEDS, Comparison, bootstrap_diff, compare, conclusion, holm, summarize


def test_summary_is_mean_sample_std_and_a_t_interval() -> None:
    s = summarize([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2 df) * std 1 / sqrt(n)
    assert (s.n, s.mean, s.std) == (3, 2.0, 1.0)
    assert s.ci_low == pytest.approx(2 - half) and s.ci_high == pytest.approx(2 + half)


def test_summary_of_too_few_values_has_no_spread_and_ignores_nan() -> None:
    assert summarize([]).n == 0 and math.isnan(summarize([]).mean)
    one = summarize([4.0, math.nan])
    assert one.n == 1 and one.mean == 4.0 and math.isnan(one.std) and math.isnan(one.ci_low)


def test_bootstrap_is_deterministic_and_brackets_the_difference() -> None:
    a, b = np.array([1.0, 1.1, 0.9, 1.05]), np.array([2.0, 2.2, 1.9])
    first, second = bootstrap_diff(a, b), bootstrap_diff(a, b)
    assert first == second
    assert first[0] < a.mean() - b.mean() < first[1] < 0


def test_compare_reports_welch_and_mann_whitney() -> None:
    cmp = compare([1.0, 1.1, 0.9], [2.0, 2.2, 1.9])
    assert (cmp.n_a, cmp.n_b) == (3, 3) and cmp.diff == pytest.approx(-1.0333333)
    assert cmp.welch_p < 0.01
    assert cmp.mann_whitney_p == pytest.approx(0.1)  # the smallest two-sided exact p with 3 vs 3


def test_compare_with_identical_or_missing_values_gives_nan_not_an_error() -> None:
    assert math.isnan(compare([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]).welch_p)
    empty = compare([], [1.0, 2.0])
    assert empty.n_a == 0 and math.isnan(empty.diff)


def test_holm_adjusts_in_order_and_skips_nan() -> None:
    adjusted = holm([0.01, math.nan, 0.04, 0.03])
    assert adjusted[0] == pytest.approx(0.03) and math.isnan(adjusted[1])
    assert adjusted[3] == pytest.approx(0.06) and adjusted[2] == pytest.approx(0.06)  # monotone


@pytest.mark.parametrize(("direction", "diff", "expected"), [("minimize", -1.0, "a better"),
                                                             ("maximize", -1.0, "b better")])
def test_conclusion_respects_the_direction(direction: str, diff: float, expected: str) -> None:
    cmp = Comparison(3, 3, diff, diff - 0.5, diff + 0.5, 0.001, 0.1)
    assert conclusion(cmp, 0.001, direction, "a", "b") == expected


def test_conclusion_says_when_seeds_are_too_few_or_the_interval_holds_zero() -> None:
    few = Comparison(MIN_SEEDS - 1, 3, -1.0, -1.5, -0.5, 0.001, 0.1)
    assert conclusion(few, 0.001, "minimize", "a", "b").startswith("too few seeds to tell")
    unclear = Comparison(3, 3, -0.1, -0.3, 0.1, 0.3, 0.4)
    assert conclusion(unclear, 0.3, "minimize", "a", "b") == "no clear difference"
