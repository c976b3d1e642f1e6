"""Was a variant still improving when training stopped? The rule behind `convergence.csv`.

The rule (docs/validity.md, section 1) reads each seed's own curve, not only the spread between
seeds. Over the **window**, the evaluations in the last WINDOW_FRACTION of each run's training, a
least-squares line (`scipy.stats.linregress`) gives the run's **late gain**: the fitted change over
the window, signed so that positive means better. The variant's late gain is the mean over its
seeds, with a standard error: between seeds (sd / sqrt(n), n - 1 degrees of freedom) with two or
more seeds, the fit's own with one (k - 2 degrees of freedom for k evaluations). The **threshold**
is the larger of the between-seed sd of the final values and RELATIVE_FLOOR of their mean.

- `improving` (still improving): the gain is significantly above 0 (one-sided t-test, p < ALPHA)
  and larger than the threshold: a longer run can move the variant past another one.
- `converged`: at least MIN_SEEDS seeds and MIN_WINDOW_EVALUATIONS evaluations in every window, and
  the one-sided 1 - ALPHA bounds of the gain lie within ± threshold: even its plausible largest
  late gain is smaller than what separates seeds.
- `unknown` otherwise, with the reason and its numbers: too few evaluations in the window, too few
  seeds to call it converged, getting significantly worse (still moving), or a trend too noisy to
  tell.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

WINDOW_FRACTION = 1 / 2  # the window: evaluations in the last half of each run's training
MIN_WINDOW_EVALUATIONS = 3  # per run: a line through 2 points has no noise estimate
MIN_SEEDS = 3  # to say `converged`: with fewer, seeds cannot show how much the gain varies
ALPHA = 0.05  # one-sided level of "significantly improving" and of the bounds of the gain
RELATIVE_FLOOR = 0.02  # a gain under 2% of the value is no gain, even when seeds agree exactly
BUDGET_FACTOR = 4  # the budget to try next: this many times the steps of a run still moving
ROUNDOFF = 1e-12  # a standard error this small against the values is floating-point noise: seeds that agree
CONVERGED, IMPROVING, UNKNOWN = "converged", "improving", "unknown"


@dataclass(frozen=True)
class Convergence:
    """One variant's status and the numbers behind it (the columns of convergence.csv)."""

    status: str
    seeds: int
    evaluations: int  # in the window, the fewest of any of its runs
    final_step: float
    from_step: float  # where the window starts (mean over seeds)
    value_final: float  # mean over seeds of the final values
    improvement: float  # the late gain: mean over seeds of the fitted change over the window, positive = better
    improvement_se: float  # its standard error (between seeds; the fit's own with one seed)
    degrees_of_freedom: float
    improvement_low: float  # one-sided 1 - ALPHA bounds of the late gain
    improvement_high: float
    p_improving: float  # one-sided p of "the late gain is above 0"
    seed_sd: float  # between-seed sample sd of the final values (NaN with one seed)
    threshold: float
    suggested_steps: float  # BUDGET_FACTOR x final_step where the status is not converged
    reason: str


@dataclass(frozen=True)
class RunTrend:
    """One run's line over its window."""

    gain: float  # the fitted change over the window, positive = better
    gain_se: float  # the fit's standard error of that change (NaN with 2 points)
    evaluations: int
    from_step: float
    final_step: float
    final_value: float


def value_at(steps: Sequence[float], values: Sequence[float], at: float) -> float:
    """Linear interpolation of a run's history at `at` (NaN outside the evaluated range)."""
    x, y = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    if x.size == 0 or at < x[0] or at > x[-1]:
        return math.nan
    return float(np.interp(at, x, y))


def run_trend(steps: Sequence[float], values: Sequence[float], direction: str) -> RunTrend:
    """The least-squares line through the run's evaluations in its window (the last WINDOW_FRACTION)."""
    x, y = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    final_step = float(x[-1])
    inside = x >= final_step * (1 - WINDOW_FRACTION)
    x, y = x[inside], y[inside]
    sign = -1.0 if direction == "minimize" else 1.0  # a falling minimized objective is a gain
    gain = gain_se = math.nan
    if x.size >= 2 and np.all(np.isfinite(y)):
        span = float(x[-1] - x[0])
        fit = stats.linregress(x, y)
        gain = sign * float(fit.slope) * span
        gain_se = float(fit.stderr) * span if x.size > 2 else math.nan
    return RunTrend(gain, gain_se, int(x.size), float(x[0]), final_step, float(y[-1]))


def one_sided(gain: float, se: float, df: float) -> tuple[float, float, float]:
    """(p of gain > 0, lower bound, upper bound) from Student's t with `df` degrees of freedom."""
    if se == 0:  # seeds (or points) that agree exactly: the gain is what it is
        return (0.0 if gain > 0 else 1.0 if gain < 0 else 0.5), gain, gain
    quantile = float(stats.t.ppf(1 - ALPHA, df))
    return float(stats.t.sf(gain / se, df)), gain - quantile * se, gain + quantile * se


def gain_noise(trends: Sequence[RunTrend]) -> tuple[float, float]:
    """(standard error of the mean late gain, its degrees of freedom): between seeds with two or
    more, the fit's own with one."""
    if len(trends) == 1:
        return trends[0].gain_se, float(trends[0].evaluations - 2)
    gains = np.array([t.gain for t in trends])
    return float(gains.std(ddof=1) / math.sqrt(gains.size)), float(gains.size - 1)


def unknown(runs: int, evaluations: int, reason: str) -> Convergence:
    nan = math.nan
    return Convergence(UNKNOWN, runs, evaluations, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, reason)


def measured(trends: Sequence[RunTrend]) -> dict[str, float]:
    """Every number of the rule for one variant's runs (the fields of Convergence but status and reason)."""
    finals = np.array([t.final_value for t in trends])
    gain = float(np.mean([t.gain for t in trends]))
    se, df = gain_noise(trends)
    se = 0.0 if se <= ROUNDOFF * max(abs(gain), float(np.abs(finals).max())) else se
    p, low, high = one_sided(gain, se, df)
    seed_sd = float(finals.std(ddof=1)) if finals.size > 1 else math.nan
    threshold = max(0.0 if math.isnan(seed_sd) else seed_sd, RELATIVE_FLOOR * abs(float(finals.mean())))
    final_step = float(max(t.final_step for t in trends))
    return dict(seeds=len(trends), evaluations=min(t.evaluations for t in trends), final_step=final_step,
                from_step=float(np.mean([t.from_step for t in trends])), value_final=float(finals.mean()),
                improvement=gain, improvement_se=se, degrees_of_freedom=df, improvement_low=low,
                improvement_high=high, p_improving=p, seed_sd=seed_sd, threshold=threshold,
                suggested_steps=BUDGET_FACTOR * final_step)


def decide(n: dict[str, float]) -> tuple[str, str]:
    """(status, reason) from the measured numbers; the reason carries them."""
    gain, low, high, tau = n["improvement"], n["improvement_low"], n["improvement_high"], n["threshold"]
    numbers = (f"late gain {gain:.3g} ± {n['improvement_se']:.2g} over steps {n['from_step']:.4g}–"
               f"{n['final_step']:.4g}, one-sided {1 - ALPHA:.0%} bounds [{low:.3g}, {high:.3g}], threshold {tau:.3g}")
    if low > 0 and gain > tau:
        return IMPROVING, f"still improving: {numbers}; p = {n['p_improving']:.2g} < {ALPHA}"
    if high < 0 and -gain > tau:
        return UNKNOWN, f"getting worse, still moving: {numbers}"
    if n["seeds"] < MIN_SEEDS:
        return UNKNOWN, (f"too few seeds (n = {n['seeds']}): converged needs {MIN_SEEDS} seeds per variant; "
                         f"{numbers}")
    if -tau <= low and high <= tau:
        return CONVERGED, f"flat: {numbers}, bounds within ± threshold"
    return UNKNOWN, (f"too noisy to tell: {numbers}, bounds beyond ± threshold (more seeds, or evaluating more "
                     "often with `train.eval_every`, narrow them)")


def assess(histories: Sequence[tuple[Sequence[float], Sequence[float]]], direction: str) -> Convergence:
    """The status of one variant from its runs' (steps, values) histories, steps ascending."""
    histories = [(s, v) for s, v in histories if len(s)]
    if not histories:
        return unknown(0, 0, "no finished confirmation run with a stored evaluation history")
    trends = [run_trend(s, v, direction) for s, v in histories]
    evaluations = min(t.evaluations for t in trends)
    if evaluations < MIN_WINDOW_EVALUATIONS:
        return unknown(len(trends), evaluations, f"too few evaluations: {evaluations} in the last "
                       f"{WINDOW_FRACTION:.0%} of training (per run), the rule needs {MIN_WINDOW_EVALUATIONS}")
    if not all(math.isfinite(t.gain) and math.isfinite(t.final_value) for t in trends):
        return unknown(len(trends), evaluations, "a value in the window is not finite")
    numbers = measured(trends)
    status, reason = decide(numbers)
    if status == CONVERGED:
        numbers["suggested_steps"] = math.nan
    return Convergence(status, **numbers, reason=reason)


def histories_of(evals: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per trial number, its (steps, values) ordered by step, from the report's evals frame."""
    return [(rows.step.to_numpy(float), rows.value.to_numpy(float))
            for _, rows in evals.sort_values("step").groupby("number", sort=True)]


def convergence_table(evals_by_variant: dict[str, pd.DataFrame], direction: str) -> pd.DataFrame:
    """convergence.csv: one row per variant, in the order given."""
    rows = [{"variant": variant, **asdict(assess(histories_of(evals), direction))}
            for variant, evals in evals_by_variant.items()]
    return pd.DataFrame(rows, columns=["variant", *Convergence.__dataclass_fields__])
