"""The analysis sections of a factorial design: each level's marginal mean (Main effects), the two-way
ANOVA or why there is none (Two-way analysis), and each first-factor level's worst and best cell
(Robustness). docs/report-designs.md.
"""

from __future__ import annotations

import math

import pandas as pd

from harness.report import design as d, design_anova as a, design_effects, tables
from harness.report.render import Block, Bullets, Heading, Table, Text
from harness.report.stats import ALPHA, CONFIDENCE


def main_effects_section(effects: pd.DataFrame, cells: pd.DataFrame, seeds: d.SeedFrame) -> list[Block]:
    missing = int((cells.n == 0).sum())
    text = (f"Each level's **marginal mean**: the mean of the seed-level {seeds.objective} values of every cell at "
            f"that level, with the {CONFIDENCE:.0%} t interval of that mean (clipped to the metric's range) and n, the "
            "number of values pooled. The values come from different cells, so the interval holds the other "
            "factors' spread as well as the seeds': wide by construction, and no test of its own (the analysis "
            "below tests the factors).")
    if missing:
        text += (f" **{missing} of {len(cells)} cells have no value**, so levels average over different cells and "
                 "their marginal means may not compare fairly.")
    display = pd.DataFrame({"Factor": effects.factor, "Level": effects.level, "Rank": effects["rank"].map(tables.num),
                            "Mean": effects["mean"].map(tables.num),
                            f"{CONFIDENCE:.0%} CI": tables.interval(effects.ci_low, effects.ci_high),
                            "n (seeds)": effects.n.map(str), "Cells": effects.cells.map(str)})
    return [Heading("Main effects", 3), Text(text), Table(display, "design_main_effects.csv", effects)]


def method_name(anova: a.Anova) -> str:
    """The analysis in words: `ANOVA on the values`, `ANOVA on aligned ranks (ART)`, or `none`."""
    return {a.OLS: "ANOVA on the values", a.ART: "ANOVA on aligned ranks (ART)"}.get(anova.method, "none")


def anova_section(anova: a.Anova) -> list[Block]:
    heading = Heading("Two-way analysis", 3)
    model = f"Model `{anova.formula}` (statsmodels `ols`, `anova_lm(typ=2)`)"
    if anova.method == a.REFUSED:
        return [heading, Text(f"{model}: **no analysis**, because {anova.reason}. No F or p is shown.")]
    t = anova.table
    display = pd.DataFrame({"Effect": t.effect, "df": [f"{tables.num(x)}, {tables.num(anova.residual_df)}"
                                                        for x in t.df],
                            "Sum of squares" + (" (ranks)" if anova.method == a.ART else ""): t.sum_sq.map(tables.num),
                            "F": t.F.map(lambda x: tables.num(x, 3)), "p": t.p.map(lambda x: tables.num(x, 2)),
                            "Partial η²": t.partial_eta_sq.map(lambda x: tables.num(x, 2))})
    levene = (f"not checked (a cell with fewer than {a.MIN_LEVENE_SEEDS} seeds)" if math.isnan(anova.levene_p)
              else f"p = {tables.num(anova.levene_p, 2)}")
    text = (f"{model}: **{method_name(anova)}**: {anova.reason}. Homogeneity of variance across cells (Levene, "
            f"median-centred): {levene}. Effect size: **partial η²** = SS_effect / (SS_effect + SS_residual)"
            + (", from the ranked ANOVA of that effect" if anova.method == a.ART else "") + f"; p < {ALPHA} counts "
            "as significant.")
    blocks: list[Block] = [heading, Text(text), Table(display, "design_anova.csv", t)]
    return blocks + ([Bullets(anova.notes)] if anova.notes else [])


def robustness_section(cells: pd.DataFrame, design: d.Design, seeds: d.SeedFrame) -> list[Block]:
    first, rest = design.factors[0], design.factors[1:]
    r = design_effects.robustness(cells, design, seeds.direction)
    over = " × ".join(rest)
    display = pd.DataFrame({first: r.index, "Worst cell mean": [f"{tables.num(w)} ({over} = {at})" if at else
                                                                tables.DASH for w, at in zip(r.worst, r.worst_in)],
                            "Best cell mean": r.best.map(tables.num), "Range": r.range.map(tables.num),
                            "Cells with a value": [f"{c} of {n}" for c, n in zip(r.cells, r["columns"])]})
    for column in (c for c in r.columns if c.startswith("rank: ")):
        display[f"Rank at {over} = {column.removeprefix('rank: ')}"] = r[column].map(tables.num).to_numpy()
    worst = "highest" if seeds.direction == "minimize" else "lowest"
    text = (f"How sensitive is each level of {first} to {over}? Per level: its **worst cell** (the {worst} cell mean "
            f"over the levels of {over}), its best, the **range** |best − worst| between them, and its **rank** "
            f"among the levels of {first} in each column of the matrix (1 = best). Sorted by the worst cell, best "
            "first: the top row loses least where it does worst. By means only; the matrix has the intervals.")
    return [Heading("Robustness", 3), Text(text), Table(display, "design_robustness.csv", r, index=True)]
