"""The report's statistics: t intervals, bootstrap, tests, Holm, and the words they lead to, each rule
at n = 1, 2, 3 and 10 on hand-computed cases (docs/validity.md, "Statistics by n")."""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest
from scipy import stats

from harness.report.stats import (MIN_SEEDS, Comparison, bootstrap_diff, compare, conclusion, holm,
                                  smallest_mann_whitney_p, summarize, too_few_text)

T975 = {1: 12.706204736174698, 2: 4.302652729911275, 9: 2.2621571627409915}  # t(0.975, df)


def test_summary_is_mean_sample_std_and_a_t_interval() -> None:
    s = summarize([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2 df) * std 1 / sqrt(n)
    assert (s.n, s.mean, s.std) == (3, 2.0, 1.0)
    assert s.ci_low == pytest.approx(2 - half) and s.ci_high == pytest.approx(2 + half)


def test_summary_of_too_few_values_has_no_spread_and_ignores_nan() -> None:
    assert summarize([]).n == 0 and math.isnan(summarize([]).mean)
    one = summarize([4.0, math.nan])
    assert one.n == 1 and one.mean == 4.0 and math.isnan(one.std) and math.isnan(one.ci_low)


CLASSES = (0.0, 10.0)  # class_coverage on a 10-class dataset


def test_a_one_seed_summary_has_no_interval() -> None:
    one = summarize([7.0], CLASSES)
    assert (one.n, one.mean) == (1, 7.0) and math.isnan(one.ci_low) and math.isnan(one.ci_high)


def test_a_two_seed_interval_is_clipped_to_the_metrics_range() -> None:
    # 7 and 10: mean 8.5, sd 2.1213, half width 12.706 * 2.1213 / sqrt(2) = 19.06 -> [-10.56, 27.56]
    s = summarize([7.0, 10.0], CLASSES)
    assert s.mean == 8.5 and s.std == pytest.approx(math.sqrt(4.5))
    assert (s.ci_low, s.ci_high) == (0.0, 10.0)
    unclipped = summarize([7.0, 10.0])
    assert unclipped.ci_high == pytest.approx(8.5 + T975[1] * math.sqrt(4.5) / math.sqrt(2))


def test_a_three_seed_interval_is_clipped_where_it_passes_the_bound() -> None:
    # 9, 10, 10: mean 9.667, sd 0.5774, half 4.3027 * 0.5774 / sqrt(3) = 1.434 -> [8.232, 11.10] -> [8.232, 10]
    s = summarize([9.0, 10.0, 10.0], CLASSES)
    assert s.ci_low == pytest.approx(29 / 3 - T975[2] / 3) and s.ci_high == 10.0
    kl = summarize([0.01, 0.5, 0.02], (0.0, math.inf))  # class_kl >= 0
    assert kl.ci_low == 0.0 and kl.ci_high == pytest.approx(0.53 / 3 + T975[2] * kl.std / math.sqrt(3))


def test_a_ten_seed_interval_is_clipped_too() -> None:
    # nine 10s and a 9: mean 9.9, variance 0.9 / 9 = 0.1, half 2.2622 * 0.3162 / 3.1623 = 0.2262
    s = summarize([10.0] * 9 + [9.0], CLASSES)
    assert s.ci_low == pytest.approx(9.9 - T975[9] * 0.1) and s.ci_high == 10.0


@pytest.mark.parametrize("n", [1, 2])
def test_no_bootstrap_interval_below_three_seeds_a_side(n: int) -> None:
    """With 2 seeds per side the "interval" is the min-max of the differences: it once read [-50.96, -15.71],
    excluding 0, next to a Welch p of 0.2."""
    a, b = np.array([-40.0, 10.0][:n]), np.array([30.0, 40.0][:n])
    assert all(math.isnan(x) for x in bootstrap_diff(a, b))
    cmp = compare(a, b)
    assert math.isnan(cmp.ci_low) and math.isnan(cmp.ci_high) and cmp.diff == pytest.approx(a.mean() - b.mean())
    assert too_few_text(n, n) == f"too few seeds (n = {n})" and too_few_text(3, n) == f"too few seeds (n = 3 and {n})"


def test_three_seed_bootstrap_matches_the_enumerated_bootstrap_distribution() -> None:
    # 3 values a side: 27 x 27 equally likely resamples; their 2.5% and 97.5% percentiles, by enumeration
    a, b = np.array([1.0, 1.3, 0.8]), np.array([2.0, 2.4, 1.9])
    every = [np.mean(x) - np.mean(y) for x in product(a, repeat=3) for y in product(b, repeat=3)]
    low, high = np.percentile(every, [2.5, 97.5])
    found = bootstrap_diff(a, b)
    assert found == bootstrap_diff(a, b)  # a fixed RNG seed: the same stores give the same report
    assert found[0] == pytest.approx(low, abs=0.02) and found[1] == pytest.approx(high, abs=0.02)
    assert min(a) - max(b) <= found[0] < found[1] <= max(a) - min(b)  # never outside what a difference can be


def test_ten_seed_bootstrap_brackets_the_difference_of_means() -> None:
    a, b = np.linspace(0.0, 1.0, 10), np.linspace(2.0, 3.0, 10)  # difference of means exactly -2
    low, high = bootstrap_diff(a, b)
    assert low < -2.0 < high and high - low < 0.8
    assert (low, high) == bootstrap_diff(a, b)
    identical = bootstrap_diff(np.ones(10), np.full(10, 2.0))
    assert identical == (-1.0, -1.0)


@pytest.mark.parametrize(("n_a", "n_b", "least"), [(1, 1, 1.0), (2, 2, 1 / 3), (3, 2, 0.2), (3, 3, 0.1),
                                                    (10, 10, 2 / 184756)])
def test_the_smallest_possible_mann_whitney_p_is_computed_from_the_seed_counts(n_a: int, n_b: int,
                                                                               least: float) -> None:
    # two-sided exact: 2 / C(n_a + n_b, n_a), capped at 1; scipy's p for completely separated samples
    assert smallest_mann_whitney_p(n_a, n_b) == pytest.approx(least)
    if n_a > 1:
        separated = stats.mannwhitneyu(range(n_a), range(n_a, n_a + n_b), method="exact").pvalue
        assert separated == pytest.approx(least)


def test_compare_reports_welch_and_mann_whitney() -> None:
    cmp = compare([1.0, 1.1, 0.9], [2.0, 2.2, 1.9])
    assert (cmp.n_a, cmp.n_b) == (3, 3) and cmp.diff == pytest.approx(-1.0333333)
    assert cmp.welch_p == pytest.approx(stats.ttest_ind([1.0, 1.1, 0.9], [2.0, 2.2, 1.9], equal_var=False).pvalue)
    assert cmp.mann_whitney_p == pytest.approx(0.1)  # the smallest two-sided exact p with 3 vs 3


def test_mann_whitney_stays_exact_with_ties() -> None:
    # scipy's default falls back to the normal approximation on ties: p = 0.072, below what 3 vs 3 can reach
    assert compare([1.0, 2.0, 2.0], [3.0, 3.0, 4.0]).mann_whitney_p == pytest.approx(0.1)
    assert compare([1.0, 2.0], [3.0, 4.0]).mann_whitney_p == pytest.approx(1 / 3)  # n = 2: never below 0.33


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


def test_a_call_is_at_this_budget_when_scoped() -> None:
    cmp = Comparison(3, 3, -1.0, -1.5, -0.5, 0.001, 0.1)
    assert conclusion(cmp, 0.001, "minimize", "a", "b", scoped=True) == "a better at this budget"


def test_conclusion_says_when_seeds_are_too_few_or_the_interval_holds_zero() -> None:
    few = Comparison(MIN_SEEDS - 1, 3, -1.0, -1.5, -0.5, 0.001, 0.1)
    assert conclusion(few, 0.001, "minimize", "a", "b") == "too few seeds to tell (n = 2 and 3; need ≥ 3 each)"
    unclear = Comparison(3, 3, -0.1, -0.3, 0.1, 0.3, 0.4)
    assert conclusion(unclear, 0.3, "minimize", "a", "b") == "no clear difference"
