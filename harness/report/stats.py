"""The report's statistics: t intervals over seeds, pairwise tests, Holm's correction, importances.

Conventions stated in the report itself: 95% t-based intervals of a mean over seeds; the
difference of two variants' means with a percentile bootstrap interval (each variant's seeds
resampled independently, fixed RNG seed, so the same results give the same report); Welch's
t-test and the Mann-Whitney U test, both two-sided; fewer than MIN_SEEDS seeds per side is
too few to tell.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
MIN_SEEDS = 3
ALPHA = 0.05
IMPORTANCE_EVALUATOR = "PED-ANOVA"  # Optuna 5's default evaluator, named explicitly below


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    std: float  # sample standard deviation (ddof=1); NaN below 2 values
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Comparison:
    """Variant a against variant b: difference of means a - b and the tests' p-values."""

    n_a: int
    n_b: int
    diff: float
    ci_low: float
    ci_high: float
    welch_p: float
    mann_whitney_p: float

    @property
    def enough_seeds(self) -> bool:
        return min(self.n_a, self.n_b) >= MIN_SEEDS


def finite(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[np.isfinite(array)]


def summarize(values: Sequence[float]) -> Summary:
    """Mean, standard deviation and t-based CONFIDENCE interval of the mean."""
    x = finite(values)
    if x.size == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if x.size == 1:
        return Summary(1, mean, math.nan, math.nan, math.nan)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, x.size - 1)) * std / math.sqrt(x.size)
    return Summary(int(x.size), mean, std, mean - half, mean + half)


def bootstrap_diff(a: np.ndarray, b: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                   seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(a) - mean(b), resampling a and b independently."""
    rng = np.random.default_rng(seed)
    means_a = a[rng.integers(0, a.size, (resamples, a.size))].mean(axis=1)
    means_b = b[rng.integers(0, b.size, (resamples, b.size))].mean(axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(means_a - means_b, [tail, 100 - tail])
    return float(low), float(high)


def compare(values_a: Sequence[float], values_b: Sequence[float]) -> Comparison:
    a, b = finite(values_a), finite(values_b)
    if a.size == 0 or b.size == 0:
        return Comparison(a.size, b.size, math.nan, math.nan, math.nan, math.nan, math.nan)
    low, high = bootstrap_diff(a, b)
    welch = mann_whitney = math.nan
    if a.size >= 2 and b.size >= 2:
        with warnings.catch_warnings():  # identical values: scipy warns and returns NaN, which we show
            warnings.simplefilter("ignore", RuntimeWarning)
            welch = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
        mann_whitney = float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    return Comparison(int(a.size), int(b.size), float(a.mean() - b.mean()), low, high, welch, mann_whitney)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(pvalues, dtype=float)
    tested = np.flatnonzero(np.isfinite(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    adjusted = np.full(p.shape, math.nan)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (order.size - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def better(diff: float, direction: str) -> bool:
    """Whether a difference a - b favours a under the objective's direction."""
    return diff < 0 if direction == "minimize" else diff > 0


def conclusion(cmp: Comparison, adjusted_p: float, direction: str, name_a: str, name_b: str) -> str:
    """One phrase: who is better, no clear difference, or too few seeds to tell."""
    if not cmp.enough_seeds:
        return f"too few seeds to tell (n={cmp.n_a} vs {cmp.n_b}; need ≥ {MIN_SEEDS} each)"
    excludes_zero = cmp.ci_low > 0 or cmp.ci_high < 0
    if excludes_zero and adjusted_p < ALPHA:
        return f"{name_a if better(cmp.diff, direction) else name_b} better"
    return "no clear difference"


def param_importances(study: Any) -> dict[str, float]:
    """Optuna's importances of the search study's knobs with PED-ANOVA, named explicitly."""
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        found = optuna.importance.get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
    return dict(sorted(found.items()))
