"""The report's statistics: t intervals over seeds, pairwise tests, Holm's correction, importances.

Conventions stated in the report itself (docs/validity.md, "Statistics by n"): 95% t-based
intervals of a mean over seeds, clipped to the metric's declared range; the difference of two
variants' means with a percentile bootstrap interval (`scipy.stats.bootstrap`, each variant's seeds
resampled independently, fixed RNG seed, so the same results give the same report), only with at
least MIN_SEEDS seeds per side; Welch's t-test (`scipy.stats.ttest_ind`, unequal variances) and the
exact Mann-Whitney U test, both two-sided. Fewer than MIN_SEEDS seeds per side is too few to tell.
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


UNBOUNDED = (-math.inf, math.inf)


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    std: float  # sample standard deviation (ddof=1); NaN below 2 values
    ci_low: float  # clipped to the metric's range
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


def clip(low: float, high: float, bounds: tuple[float, float]) -> tuple[float, float]:
    """An interval cut to the range the values can take: a mean of bounded values stays inside it."""
    return min(max(low, bounds[0]), bounds[1]), max(min(high, bounds[1]), bounds[0])


def summarize(values: Sequence[float], bounds: tuple[float, float] = UNBOUNDED) -> Summary:
    """Mean, standard deviation and t-based CONFIDENCE interval of the mean, clipped to `bounds`."""
    x = finite(values)
    if x.size == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if x.size == 1:
        return Summary(1, mean, math.nan, math.nan, math.nan)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, x.size - 1)) * std / math.sqrt(x.size)
    return Summary(int(x.size), mean, std, *clip(mean - half, mean + half, bounds))


def mean_difference(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    return a.mean(axis=axis) - b.mean(axis=axis)


def bootstrap_diff(a: np.ndarray, b: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                   seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(a) - mean(b), a and b resampled independently
    (scipy.stats.bootstrap). NaN with fewer than MIN_SEEDS values on a side: with 2 seeds per side the
    "interval" is little more than the range of the differences, and would be quoted as evidence.

    A percentile interval is made of resampled differences of means, so it never leaves what a
    difference of the metric's values can be."""
    if min(a.size, b.size) < MIN_SEEDS:
        return math.nan, math.nan
    with warnings.catch_warnings():  # identical values: a degenerate distribution, which scipy warns about
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        found = stats.bootstrap((a, b), mean_difference, n_resamples=resamples, vectorized=True,
                                confidence_level=CONFIDENCE, method="percentile", rng=np.random.default_rng(seed))
    return float(found.confidence_interval.low), float(found.confidence_interval.high)


def smallest_mann_whitney_p(n_a: int, n_b: int) -> float:
    """The smallest two-sided p the exact Mann-Whitney U test can give with these sample sizes:
    2 / C(n_a + n_b, n_a), the two most extreme of the equally likely orderings (at most 1)."""
    if n_a < 1 or n_b < 1:
        return math.nan
    return min(1.0, 2 / math.comb(n_a + n_b, n_a))


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
        # exact even with ties: scipy's default switches to the normal approximation on ties, which at
        # 3 seeds per side gives p = 0.072, below the 0.1 that 3 vs 3 can ever reach
        mann_whitney = float(stats.mannwhitneyu(a, b, alternative="two-sided", method="exact").pvalue)
    return Comparison(int(a.size), int(b.size), float(a.mean() - b.mean()), low, high, welch, mann_whitney)


def seeds_text(n_a: int, n_b: int) -> str:
    """`n = 2` when both sides have 2 seeds, `n = 3 and 2` otherwise."""
    return f"n = {n_a}" if n_a == n_b else f"n = {n_a} and {n_b}"


def too_few_text(n_a: int, n_b: int) -> str:
    """What a cell shows in place of a number that needs MIN_SEEDS seeds per side."""
    return f"too few seeds ({seeds_text(n_a, n_b)})"


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


AT_THIS_BUDGET = " at this budget"


def conclusion(cmp: Comparison, adjusted_p: float, direction: str, name_a: str, name_b: str,
               scoped: bool = False) -> str:
    """One phrase: who is better (`at this budget` when `scoped`: a side had not converged), no clear
    difference, or too few seeds to tell."""
    if not cmp.enough_seeds:
        return f"too few seeds to tell ({seeds_text(cmp.n_a, cmp.n_b)}; need ≥ {MIN_SEEDS} each)"
    excludes_zero = cmp.ci_low > 0 or cmp.ci_high < 0
    if excludes_zero and adjusted_p < ALPHA:
        return f"{name_a if better(cmp.diff, direction) else name_b} better" + (AT_THIS_BUDGET if scoped else "")
    return "no clear difference"


def param_importances(study: Any) -> dict[str, float]:
    """Optuna's importances of the search study's knobs with PED-ANOVA, named explicitly."""
    import optuna
    from optuna.importance import PedAnovaImportanceEvaluator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        found = optuna.importance.get_param_importances(study, evaluator=PedAnovaImportanceEvaluator())
    return dict(sorted(found.items()))
