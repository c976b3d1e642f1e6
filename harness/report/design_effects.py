"""What the cells say of each factor's levels: marginal means (main effects), robustness over the other
factors, and the call per factor (best, tied, overlapping or untested), from the cell table and the
analysis (`harness.report.design_anova`). The rules: docs/report-designs.md.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.report.design import Design, select
from harness.report.design_anova import JOIN, Anova
from harness.report.stats import ALPHA, UNBOUNDED, summarize
from harness.report.tables import STATS

BEST, TIED, OVERLAP, UNTESTED, NOTHING = "best", "no clear difference", "overlapping intervals", "untested", "nothing"


def better_first(direction: str) -> bool:
    """pandas' `ascending` that puts the better value first."""
    return direction == "minimize"


def main_effects(seeds: pd.DataFrame, design: Design, direction: str,
                 bounds: tuple[float, float] = UNBOUNDED) -> pd.DataFrame:
    """Per factor and level: the mean over the seed-level values of every cell at that level, its CI,
    n (values), the cells it pools, and the level's rank within its factor (1 = best)."""
    rows = []
    for factor in design.factors:
        for level in design.levels[factor]:
            at = seeds[seeds[factor] == level]
            s = summarize(at.value.tolist(), bounds)
            rows.append({"factor": factor, "level": level, "cells": int(at.cell.nunique()),
                         **{k: getattr(s, k) for k in STATS}})
    frame = pd.DataFrame(rows, columns=["factor", "level", "cells", *STATS])
    ranks = frame.groupby("factor", sort=False)["mean"].rank(method="min", ascending=better_first(direction))
    frame.insert(2, "rank", ranks.astype("Int64"))
    return frame


def column_labels(design: Design) -> list[tuple[str, ...]]:
    """The robustness table's columns: the combinations of every factor after the first."""
    return list(itertools.product(*(design.levels[f] for f in design.factors[1:])))


def robustness(cells: pd.DataFrame, design: Design, direction: str) -> pd.DataFrame:
    """Per level of the first factor: its worst and best cell means over the other factors' levels, the
    range |best - worst|, the cells it has values in, and its rank (1 = best) among the first factor's
    levels in each column; sorted by the worst cell, best first (missing cells last)."""
    first, rest = design.factors[0], list(design.factors[1:])
    labels = column_labels(design)
    names = [" · ".join(label) for label in labels]
    means = pd.DataFrame({name: [select(cells, ((first, row),) + tuple(zip(rest, label)))["mean"].iloc[0]
                                 for row in design.levels[first]] for name, label in zip(names, labels)},
                         index=pd.Index(design.levels[first], name=first), dtype="float64")
    frame = pd.DataFrame([extremes(row, direction) for _, row in means.iterrows()], index=means.index,
                         columns=["worst", "worst_in", "best", "range", "cells"])
    frame["columns"] = len(names)
    ranks = means.rank(axis=0, method="min", ascending=better_first(direction)).astype("Int64")
    frame = frame.join(ranks.add_prefix("rank: "))
    return frame.sort_values("worst", ascending=better_first(direction), na_position="last", kind="stable")


def extremes(means: pd.Series, direction: str) -> tuple[float, str, float, float, int]:
    """(worst mean, the column it is in, best mean, |best - worst|, cells with a value) of one row."""
    present = means.dropna()
    if present.empty:
        return math.nan, "", math.nan, math.nan, 0
    ordered = present.sort_values(ascending=better_first(direction), kind="stable")
    best, worst = float(ordered.iloc[0]), float(ordered.iloc[-1])
    return worst, str(ordered.index[-1]), best, abs(best - worst), int(present.size)


# Calls ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """What may be said of one factor's levels, before the validity scope."""

    factor: str
    outcome: str  # BEST, TIED, OVERLAP (significant factor, best and runner-up not apart), UNTESTED, NOTHING
    best: str | None
    runner_up: str | None
    test: pd.Series | None  # the factor's ANOVA row
    interaction: pd.Series | None  # the most significant interaction involving the factor, if p < ALPHA


def factor_call(effects: pd.DataFrame, anova: Anova, factor: str, direction: str) -> Call:
    """Which level of `factor` is best by marginal mean, and whether that may be called: the factor's
    ANOVA p < ALPHA and the best level's CI apart from the runner-up's. Otherwise tied or untested."""
    rows = effects[(effects.factor == factor) & (effects.n > 0)].sort_values(
        "mean", ascending=better_first(direction), kind="stable")
    test = anova.row(factor)
    interaction = significant_interaction(anova, factor)
    if len(rows) < 2:
        return Call(factor, NOTHING, rows.level.iloc[0] if len(rows) else None, None, test, interaction)
    best, second = rows.iloc[0], rows.iloc[1]
    if test is None:
        outcome = UNTESTED
    elif not test.p < ALPHA:
        outcome = TIED
    else:
        outcome = OVERLAP if intervals_overlap(best, second) else BEST
    return Call(factor, outcome, best.level, second.level, test, interaction)


def intervals_overlap(a: pd.Series, b: pd.Series) -> bool:
    """Whether two levels' CIs share a point (a missing CI, from one value, counts as overlapping)."""
    if not all(math.isfinite(x) for x in (a.ci_low, a.ci_high, b.ci_low, b.ci_high)):
        return True
    return a.ci_low <= b.ci_high and b.ci_low <= a.ci_high


def significant_interaction(anova: Anova, factor: str) -> pd.Series | None:
    rows = anova.table[anova.table.effect.str.contains(JOIN, regex=False)]
    involved = np.array([factor in str(e).split(JOIN) for e in rows.effect], dtype=bool)
    rows = rows[involved & (rows.p < ALPHA).to_numpy()]
    return None if rows.empty else rows.sort_values("p", kind="stable").iloc[0]
