"""Was a variant still improving when training stopped? The rule behind `convergence.csv`.

The rule (docs/validity.md, "Convergence"): for each confirmation run, the improvement over the
last third of training is the objective at 2/3 of the final step (linear interpolation between
evaluations) minus the objective at the final step, signed so that positive means better. A
variant is `improving` when the mean improvement over its seeds exceeds the threshold, the larger
of the between-seed standard deviation of the final values and RELATIVE_FLOOR of the mean final
value's magnitude: the late gain is bigger than what separates seeds, so a longer run can move
the ranking. A variant that got worse by more than the threshold is `unknown` (still moving, not
converged), as is one with fewer than MIN_EVALUATIONS evaluations per run. Otherwise `converged`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

MIN_EVALUATIONS = 4  # per run: fewer cannot place a point at 2/3 of training and still see a trend
LAST_FRACTION = 1 / 3
RELATIVE_FLOOR = 0.02  # a gain under 2% of the value is no gain, even when seeds agree exactly
BUDGET_FACTOR = 4  # the budget to try next: this many times the steps of a run still moving
CONVERGED, IMPROVING, UNKNOWN = "converged", "improving", "unknown"


@dataclass(frozen=True)
class Convergence:
    """One variant's status and the numbers behind it (the columns of convergence.csv)."""

    status: str
    seeds: int
    evaluations: int  # the fewest of any of its runs
    final_step: float
    from_step: float  # where the last third starts
    value_from: float  # mean over seeds at from_step
    value_final: float  # mean over seeds at the final step
    improvement: float  # mean over seeds of value_from - value_final, positive = better
    seed_sd: float  # between-seed sample sd of the final values (NaN with one seed)
    threshold: float
    suggested_steps: float  # BUDGET_FACTOR x final_step where the status is not converged
    reason: str


def value_at(steps: Sequence[float], values: Sequence[float], at: float) -> float:
    """Linear interpolation of a run's history at `at` (NaN outside the evaluated range)."""
    x, y = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    if x.size == 0 or at < x[0] or at > x[-1]:
        return math.nan
    return float(np.interp(at, x, y))


def improvement(steps: Sequence[float], values: Sequence[float], direction: str) -> tuple[float, float]:
    """(gain over the last third of training, its starting step); positive gain = better."""
    final_step = float(steps[-1])
    from_step = final_step * (1 - LAST_FRACTION)
    gain = value_at(steps, values, from_step) - float(values[-1])
    return (gain if direction == "minimize" else -gain), from_step


def unknown(runs: int, evaluations: int, reason: str) -> Convergence:
    nan = math.nan
    return Convergence(UNKNOWN, runs, evaluations, nan, nan, nan, nan, nan, nan, nan, nan, reason)


def assess(histories: Sequence[tuple[Sequence[float], Sequence[float]]], direction: str) -> Convergence:
    """The status of one variant from its runs' (steps, values) histories, steps ascending."""
    histories = [(s, v) for s, v in histories if len(s)]
    if not histories:
        return unknown(0, 0, "no finished confirmation run with a stored evaluation history")
    evaluations = min(len(s) for s, _ in histories)
    if evaluations < MIN_EVALUATIONS:
        return unknown(len(histories), evaluations, f"too few evaluations: {evaluations} per run, the rule needs "
                                                    f"{MIN_EVALUATIONS}")
    gains, starts = zip(*(improvement(s, v, direction) for s, v in histories))
    finals = np.array([float(v[-1]) for _, v in histories])
    if not all(map(math.isfinite, [*gains, *finals])):
        return unknown(len(histories), evaluations, "the last third starts before the first evaluation, or a "
                                                    "value is not finite")
    gain, seed_sd = float(np.mean(gains)), float(finals.std(ddof=1)) if finals.size > 1 else math.nan
    threshold = max(0.0 if math.isnan(seed_sd) else seed_sd, RELATIVE_FLOOR * abs(float(finals.mean())))
    final_step = float(max(s[-1] for s, _ in histories))
    sign = 1 if direction == "minimize" else -1
    numbers = dict(seeds=len(histories), evaluations=evaluations, final_step=final_step,
                   from_step=float(np.mean(starts)), value_from=float(finals.mean() + sign * gain),
                   value_final=float(finals.mean()), improvement=gain, seed_sd=seed_sd, threshold=threshold)
    if gain > threshold:
        return Convergence(IMPROVING, **numbers, suggested_steps=BUDGET_FACTOR * final_step,
                           reason="gained more over the last third than the threshold")
    if gain < -threshold:
        return Convergence(UNKNOWN, **numbers, suggested_steps=BUDGET_FACTOR * final_step,
                           reason="got worse over the last third by more than the threshold: still moving")
    return Convergence(CONVERGED, **numbers, suggested_steps=math.nan,
                       reason="changed by less than the threshold over the last third")


def histories_of(evals: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per trial number, its (steps, values) ordered by step, from the report's evals frame."""
    return [(rows.step.to_numpy(float), rows.value.to_numpy(float))
            for _, rows in evals.sort_values("step").groupby("number", sort=True)]


def convergence_table(evals_by_variant: dict[str, pd.DataFrame], direction: str) -> pd.DataFrame:
    """convergence.csv: one row per variant, in the order given."""
    rows = [{"variant": variant, **asdict(assess(histories_of(evals), direction))}
            for variant, evals in evals_by_variant.items()]
    return pd.DataFrame(rows, columns=["variant", *Convergence.__dataclass_fields__])
