"""Comparing variants at equal training time instead of equal generator steps.

Each confirmation run records, at every evaluation, its pure training seconds so far (evaluation
and logging excluded). The common time T is the largest that every run reached: the smallest
final training time of any compared run. Each run's objective at T is read off its history by
linear interpolation between the two evaluations around T; a run whose first evaluation came
after T has no value there (nothing is extrapolated). docs/validity.md states the same.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.report.convergence import value_at

GRID_POINTS = 40  # points of the mean ± sd curve per variant
# Seeds of one variant do the same work per step; if their measured speed differs by more than this
# (coefficient of variation), the machine's load changed during the sweep and times are not comparable.
SPEED_SPREAD_LIMIT = 0.25


def common_time(evals: pd.DataFrame) -> float:
    """T: the smallest final training time of any run in `evals` (NaN when there is none)."""
    finals = evals.sort_values("train_seconds").groupby(["variant", "number"]).train_seconds.max()
    return float(finals.min()) if len(finals) else math.nan


def runs_at(evals: pd.DataFrame, at: float) -> pd.DataFrame:
    """Per run (variant, number): the objective and the generator step at training time `at`."""
    rows = []
    for (variant, number), run in evals.sort_values("train_seconds").groupby(["variant", "number"], sort=False):
        seconds = run.train_seconds.to_numpy(float)
        rows.append({"variant": variant, "number": number, "seconds": at,
                     "value": value_at(seconds, run.value.to_numpy(float), at),
                     "step": value_at(seconds, run.step.to_numpy(float), at),
                     "first_eval_seconds": float(seconds[0]), "final_seconds": float(seconds[-1])})
    return pd.DataFrame(rows, columns=["variant", "number", "seconds", "value", "step", "first_eval_seconds",
                                       "final_seconds"])


def mean_curve(evals: pd.DataFrame, points: int = GRID_POINTS) -> pd.DataFrame:
    """One variant's objective against training seconds: mean and sd over its runs on a common grid.

    The grid spans the times where every run has a value: from the latest first evaluation to the
    earliest final one; beyond that a mean would silently switch between runs."""
    runs = [run for _, run in evals.sort_values("train_seconds").groupby("number")]
    if not runs:
        return pd.DataFrame(columns=["seconds", "mean", "sd", "runs"])
    start = max(float(r.train_seconds.iloc[0]) for r in runs)
    stop = min(float(r.train_seconds.iloc[-1]) for r in runs)
    if not stop >= start:
        return pd.DataFrame(columns=["seconds", "mean", "sd", "runs"])
    grid = np.linspace(start, stop, points) if stop > start else np.array([start])
    values = np.array([[value_at(r.train_seconds.to_numpy(float), r.value.to_numpy(float), t) for t in grid]
                       for r in runs])
    sd = values.std(axis=0, ddof=1) if len(runs) > 1 else np.full(grid.size, math.nan)
    return pd.DataFrame({"seconds": grid, "mean": values.mean(axis=0), "sd": sd, "runs": len(runs)})


def speed_spread(evals: pd.DataFrame) -> float:
    """Coefficient of variation (sd / mean, ddof 1) of one variant's runs' training seconds per step.

    Its runs do identical work per step, so a large spread measures the machine, not the recipe.
    NaN with fewer than two runs."""
    finals = evals.sort_values("step").groupby("number").last()
    rates = (finals.train_seconds / finals.step).to_numpy(float)
    if rates.size < 2 or not np.all(np.isfinite(rates)) or rates.mean() <= 0:
        return math.nan
    return float(rates.std(ddof=1) / rates.mean())
