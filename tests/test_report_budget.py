"""Expected best after k trials (Dodge et al. 2019), against hand-computed values."""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pytest

from harness.report.budget import MIN_TRIALS, best_weights, budget_curve, expected_best, last_gain, still_rising


def test_weights_are_the_probabilities_that_each_value_is_the_best_of_k() -> None:
    assert best_weights(3, 2) == pytest.approx([1 / 9, 3 / 9, 5 / 9])
    assert best_weights(4, 1) == pytest.approx([0.25] * 4)


def test_expected_max_by_hand() -> None:
    # k=2 over {1, 2, 3}: (1*1 + 2*3 + 3*5) / 9 = 22/9; E[max^2] = (1 + 12 + 45) / 9 = 58/9
    mean, sd = expected_best([3.0, 1.0, 2.0], 2, "maximize")
    assert mean == pytest.approx(22 / 9)
    assert sd == pytest.approx(math.sqrt(58 / 9 - (22 / 9) ** 2))
    assert expected_best([3.0, 1.0, 2.0], 1, "maximize")[0] == pytest.approx(2.0)


def test_expected_min_for_a_minimized_objective() -> None:
    # the best is the smallest: weights 1/9, 3/9, 5/9 on 3, 2, 1 -> (3 + 6 + 5) / 9 = 14/9
    assert expected_best([1.0, 2.0, 3.0], 2, "minimize")[0] == pytest.approx(14 / 9)


def test_matches_enumeration_of_every_draw_with_replacement() -> None:
    values, k = [0.3, 1.7, 0.9, 2.4], 3
    draws = [max(c) for c in product(values, repeat=k)]
    assert expected_best(values, k, "maximize")[0] == pytest.approx(np.mean(draws))
    assert expected_best(values, k, "maximize")[1] == pytest.approx(np.std(draws))


def test_curve_and_non_finite_values() -> None:
    curve = budget_curve([1.0, 2.0, math.nan, 3.0], "maximize")
    assert list(curve.k) == [1, 2, 3]  # the NaN is no trial
    assert curve.expected_best.is_monotonic_increasing
    assert budget_curve([], "maximize").empty


def test_last_gain_and_still_rising_at_three_trials() -> None:
    curve = budget_curve([1.0, 2.0, 3.0], "maximize")
    gain = 3 ** -3 * (1 * 1 + 2 * 7 + 3 * 19) - 22 / 9  # k=3 weights 1/27, 7/27, 19/27
    assert last_gain(curve, "maximize") == pytest.approx(gain)
    assert still_rising(curve, "maximize") is True  # 0.2222 > 2% of 2.667
    # {10, 10, 10.01}: k=2 gives 10 + 0.01 * 5/9, k=3 gives 10 + 0.01 * 19/27: a gain of 0.0015, under 2%
    flat = budget_curve([10.0, 10.0, 10.01], "maximize")
    assert last_gain(flat, "maximize") == pytest.approx(0.01 * (19 / 27 - 5 / 9))
    assert still_rising(flat, "maximize") is False
    assert still_rising(budget_curve([10.0, 10.0, 10.01], "minimize"), "minimize") is False  # got worse


@pytest.mark.parametrize("values", [[10.0], [10.0, 10.1], [1.0, 2.0]])
def test_fewer_than_three_trials_say_neither_rising_nor_flattened(values: list[float]) -> None:
    """Two trials, one of them often the config's own values, once read "flattened"."""
    assert MIN_TRIALS == 3
    assert still_rising(budget_curve(values, "maximize"), "maximize") is None
    assert still_rising(budget_curve(values, "minimize"), "minimize") is None


def test_ten_trials_by_hand() -> None:
    # values 1..10: E[best of k] = 10 - sum_{m=1..9} (m/10)^k, so the 10th trial gains
    # sum (m/10)^9 - (m/10)^10 = 0.083, under 2% of E[best of 10] = 9.51: flattened
    curve = budget_curve([float(v) for v in range(1, 11)], "maximize")
    m = np.arange(1, 10) / 10
    assert curve.expected_best.iloc[-1] == pytest.approx(10 - np.sum(m ** 10))
    assert last_gain(curve, "maximize") == pytest.approx(np.sum(m ** 9 - m ** 10))
    assert still_rising(curve, "maximize") is False
