"""Was the search budget enough? Expected best objective after k search trials (Dodge et al. 2019).

With n complete search trials whose objective values, ordered from worst to best, are
v(1) .. v(n), the best of k trials drawn independently from their empirical distribution has

    E[best of k] = sum_i v(i) * ((i/n)^k - ((i-1)/n)^k)

(Dodge et al. 2019, "Show Your Work", eq. 1), computed exactly from the stored trials, never by
resampling. The same weights give E[best^2] and so the standard deviation of the best. A curve
still rising (falling, for a minimized objective) at k = n says that more trials would likely
have found better settings; RISING_FLOOR decides "still rising" (docs/validity.md). With fewer than
MIN_TRIALS complete trials nothing is said, neither "still rising" nor "flattened": a curve of 2
trials, one of them often the config's own values, shows nothing about the search.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

RISING_FLOOR = 0.02  # a last-trial gain under 2% of the expected best counts as flat
MIN_TRIALS = 3  # complete search trials needed to judge the search budget at all


def best_weights(n: int, k: int) -> np.ndarray:
    """P(the best of k draws is the i-th worst of n values), i = 1..n."""
    i = np.arange(1, n + 1, dtype=float)
    return (i / n) ** k - ((i - 1) / n) ** k


def worst_to_best(values: Sequence[float], direction: str) -> np.ndarray:
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=float)
    return np.sort(v)[::-1] if direction == "minimize" else np.sort(v)


def expected_best(values: Sequence[float], k: int, direction: str) -> tuple[float, float]:
    """(E[best of k], sd of the best of k) under the empirical distribution of `values`."""
    v = worst_to_best(values, direction)
    if v.size == 0 or k < 1:
        return math.nan, math.nan
    w = best_weights(v.size, k)
    mean = float(w @ v)
    return mean, math.sqrt(max(float(w @ v**2) - mean**2, 0.0))


def budget_curve(values: Sequence[float], direction: str) -> pd.DataFrame:
    """k = 1..n with the expected best and its sd."""
    n = len(worst_to_best(values, direction))
    rows = [(k, *expected_best(values, k, direction)) for k in range(1, n + 1)]
    return pd.DataFrame(rows, columns=["k", "expected_best", "sd"])


def last_gain(curve: pd.DataFrame, direction: str) -> float:
    """How much the n-th trial improved the expected best over n - 1 trials (positive = better)."""
    if len(curve) < 2:
        return math.nan
    gain = float(curve.expected_best.iloc[-1] - curve.expected_best.iloc[-2])
    return -gain if direction == "minimize" else gain


def still_rising(curve: pd.DataFrame, direction: str) -> bool | None:
    """Whether the last trial still moved the expected best by more than RISING_FLOOR (None: fewer than
    MIN_TRIALS trials, too few to tell)."""
    gain = last_gain(curve, direction)
    if len(curve) < MIN_TRIALS or math.isnan(gain):
        return None
    return gain > RISING_FLOOR * abs(float(curve.expected_best.iloc[-1]))
