"""The report's sections for a factorial design (two factors or more): the design, the cell matrix and
its heatmap, main effects, the two-way analysis, robustness, and a verdict per factor.

Numbers come from `harness.report.design`; each verdict is scoped by the report's validity checks
(`harness.report.validity.Validity`: convergence, equal training time, search budget). A one-factor
design (a `variants:` list) gets no section: the report stays as it always was. docs/report-designs.md.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from harness.config.design import VARIANT_FACTOR
from harness.config.recipe import read_recipe
from harness.report import budget, convergence, design as d, figures, tables
from harness.report.render import Block, Bullets, Heading, Image, Table, Text
from harness.report.sections import ReportInputs
from harness.report.stats import ALPHA, CONFIDENCE
from harness.report.validity import Validity
from harness.stores import keys

DOCS = "docs/report-designs.md"
FIGURE = "design_matrix.png"
CELL_INCHES = (1.25, 0.75)  # per matrix cell: room for a mean and its n


def stored_design(inputs: ReportInputs) -> d.Design:
    """The design as stored: each cell's levels from its search study, or the config's where the cell
    has none yet; levels in the config's order."""
    specs = {spec.name: spec.levels for spec in inputs.exp.variants}
    cells = [(info.variant, info.levels if info.search is not None or not specs.get(info.variant)
              else specs[info.variant]) for info in inputs.sweep.variants]
    order = {factor.name: [level.name for level in factor.levels] for factor in inputs.exp.factors}
    return d.design_of(cells, order)


def design_sections(inputs: ReportInputs, checks: Validity, out_dir: Path) -> list[Block]:
    """Every design section, in reading order. A design of one factor gets its Design section only (the
    comparison of its levels is the report's own), and a `variants:` list, the factor `variant`, none: its
    report stays as it was before designs. Writes FIGURE into out_dir."""
    design = stored_design(inputs)
    if len(design.factors) < 2:
        named = design.factors and design.factors[0] != VARIANT_FACTOR
        return design_section(inputs, design) if named else []
    seeds = d.seed_frame(inputs.sweep, design)
    bounds = tables.metric_ranges(inputs.sweep)[seeds.objective]
    why = {info.variant: tables.status(inputs.sweep, info) for info in inputs.sweep.variants}
    cells = d.cell_table(seeds.frame, design, bounds, why)
    effects = d.main_effects(seeds.frame, design, seeds.direction, bounds)
    anova = d.analyse(seeds.frame, design)
    return [*design_section(inputs, design), *matrix_section(cells, design, seeds, out_dir),
            *main_effects_section(effects, cells, seeds), *anova_section(anova),
            *robustness_section(cells, design, seeds),
            *verdict_section(inputs, checks, design, seeds, effects, anova)]


# The design -------------------------------------------------------------------------------------------


def recipes_of(inputs: ReportInputs, design: d.Design) -> dict[str, dict[str, Any]]:
    """Each started cell's stored recipe (the values it ran with, before any search), config order."""
    found = {info.variant: read_recipe(keys.text_attr(info.search, keys.RECIPE)) for info in inputs.sweep.variants
             if info.variant in design.cells.values()}
    return {cell: recipe for cell, recipe in found.items() if recipe}


def overrides_text(entry: dict[str, Any]) -> str:
    """What one level sets as stored: `preset sngan; train.lr=0.0002`."""
    parts = [f"preset `{entry['preset']}`"] if entry.get("preset") else []
    for section, values in entry.items():
        if isinstance(values, dict):
            parts += [f"{section}.{k}={d.as_text(v)}" for k, v in sorted(values.items())]
    return "; ".join(parts) if parts else "nothing (the experiment's own values)"


def level_rows(inputs: ReportInputs, design: d.Design) -> pd.DataFrame:
    """One row per level: what it sets (the stored level overrides, else read off the recipes)."""
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    for info in inputs.sweep.variants:
        for factor, entry in info.level_overrides.items():
            if isinstance(entry, dict) and entry.get("level") is not None:
                stored.setdefault((factor, str(entry["level"])), entry)
    derived = d.level_settings(recipes_of(inputs, design), design)
    rows = []
    for factor in design.factors:
        for level in design.levels[factor]:
            if (factor, level) in stored:
                sets = overrides_text(stored[(factor, level)])
            else:
                found = derived.get((factor, level)) or {}
                sets = ("; ".join(f"{k}={d.as_text(v)}" for k, v in found.items()) + " (read off the recipes)"
                        if found else tables.DASH)
            cells = sum(combo[design.factors.index(factor)] == level for combo in design.cells)
            rows.append({"Factor": factor, "Level": level, "Sets": sets, "Cells": str(cells)})
    return pd.DataFrame(rows)


def design_section(inputs: ReportInputs, design: d.Design) -> list[Block]:
    shape = " × ".join(f"{f} ({len(design.levels[f])})" for f in design.factors)
    product = design.product()
    excluded = [combo for combo in product if combo not in design.cells]
    text = (f"A factorial design: {shape} = {len(product)} combinations, {len(design.cells)} of them cells of the "
            f"design" + (f" ({len(excluded)} excluded: {d.cells_text(excluded)})" if excluded else "") + ". Each "
            "cell is a variant of its own: a search study and a confirmation study. What each level sets, as "
            f"the sweep stored it; rules and formulas of the sections below: `{DOCS}`.")
    blocks: list[Block] = [Heading(f"Design: {' × '.join(design.factors)}"), Text(text),
                           Table(level_rows(inputs, design), "design_levels.csv")]
    differing = d.differing_settings(recipes_of(inputs, design))
    if differing.columns.size:
        searched = ("the values before a search; the searched knobs' confirmed values are in Results, Best "
                    "hyperparameters" if inputs.sweep.searched else "no search ran: every seed trained these values")
        blocks += [Text(f"The effective values that differ between cells, from the recipes the cells stored "
                        f"({searched}):"),
                   Table(differing.reset_index(), "design_settings.csv")]
    return blocks


# The cell matrix --------------------------------------------------------------------------------------


def cell_text(row: pd.Series) -> str:
    """`mean [low, high] (n = 3)`, the mean alone from one seed, or – and why there is no value."""
    if row.n == 0:
        return f"{tables.DASH} ({row.missing})"
    ci = "" if not math.isfinite(row.ci_low) else f" [{tables.num(row.ci_low)}, {tables.num(row.ci_high)}]"
    return f"{tables.num(row['mean'])}{ci} (n = {row.n})"


def matrix_display(cells: pd.DataFrame, design: d.Design) -> pd.DataFrame:
    first, second = design.factors[:2]
    shown = cells.assign(text=[cell_text(row) for _, row in cells.iterrows()])
    table = d.grid(shown, design, "text")
    table.columns = [f"{second} = {level}" for level in table.columns]
    return table.reset_index().rename(columns={first: f"{first} \\ {second}"})


def fixed_text(fixed: d.Pairs) -> str:
    return ", ".join(f"{factor} = {level}" for factor, level in fixed)


def matrix_section(cells: pd.DataFrame, design: d.Design, seeds: d.SeedFrame, out_dir: Path) -> list[Block]:
    better = "lower" if seeds.direction == "minimize" else "higher"
    text = (f"{seeds.objective} per cell ({better} is better): the mean over the cell's confirmation seeds with its "
            f"**{CONFIDENCE:.0%} t interval** (Student's t, n − 1 degrees of freedom, clipped to the metric's range; "
            f"none from one seed) and n. Rows are the levels of {design.factors[0]}, columns those of "
            f"{design.factors[1]}" + ("; one matrix per combination of the further factors' levels" if
                                      len(design.factors) > 2 else "") +
            f". {tables.DASH} marks a cell without a value, with the reason.")
    blocks: list[Block] = [Heading("Cell matrix", 3), Text(text)]
    for i, fixed in enumerate(design.further()):
        if fixed:
            blocks.append(Text(f"At {fixed_text(fixed)}:"))
        blocks.append(Table(matrix_display(d.select(cells, fixed), design), "design_cells.csv" if i == 0 else None,
                            cells if i == 0 else None))
    heatmap(cells, design, seeds.objective, seeds.direction, out_dir / FIGURE)
    colour = "low" if seeds.direction == "minimize" else "high"
    blocks += [Text(f"The same means as a heatmap: **brighter (yellow) is better** in every panel, so the colour "
                    f"scale runs from {colour} values bright (viridis, reversed for a minimized objective); one scale "
                    "for all panels; each cell shows its mean and n, grey where it has no value."),
               Image(FIGURE, f"{seeds.objective} per cell, brighter is better")]
    return blocks


def heatmap(cells: pd.DataFrame, design: d.Design, objective: str, direction: str, path: Path) -> Path:
    return figures.save(heatmap_figure(cells, design, objective, direction), path)


def colour_map(direction: str) -> str:
    """viridis runs dark to bright (yellow) from low to high values: reversed where low is better."""
    return "viridis_r" if direction == "minimize" else "viridis"


def heatmap_figure(cells: pd.DataFrame, design: d.Design, objective: str, direction: str) -> Figure:
    """One annotated heatmap per matrix, on one colour scale on which better is always brighter."""
    combos = design.further()
    rows, cols = (len(design.levels[f]) for f in design.factors[:2])
    inches = (CELL_INCHES[0] * cols + 2.2, CELL_INCHES[1] * rows + 1.4)
    fig, axes = figures.panels(len(combos), min(len(combos), 3), inches)
    means = cells["mean"].to_numpy(float)
    present = means[np.isfinite(means)]
    for ax, fixed in zip(axes, combos):
        sub = d.select(cells, fixed)
        ax.set_title(fixed_text(fixed) or objective, fontsize=9)
        if not present.size:
            figures.note(ax, "no cell has a finished confirmation run")
            continue
        grid = d.grid(sub, design, "mean").astype(float)
        counts = d.grid(sub, design, "n")
        labels = np.array([[tables.DASH if not math.isfinite(m) else f"{tables.num(m, 3)}\nn = {int(n)}"
                            for m, n in zip(mr, nr)] for mr, nr in zip(grid.to_numpy(), counts.to_numpy())])
        sns.heatmap(grid, annot=labels, fmt="", cmap=colour_map(direction),
                    vmin=float(present.min()), vmax=float(present.max()), linewidths=0.5, linecolor="white", ax=ax,
                    cbar_kws={"label": f"{objective} (mean)"}, annot_kws={"fontsize": 8})
        ax.set_facecolor("0.85")  # a cell without a value
        ax.set_xlabel(design.factors[1])
        ax.set_ylabel(design.factors[0])
        ax.tick_params(axis="y", rotation=0)  # level names read across, as in the matrix
    return fig


# Main effects, analysis, robustness -------------------------------------------------------------------


def level_text(row: pd.Series) -> str:
    """A level's marginal mean: `0.84 [0.8, 0.88] (n = 9 seeds, 3 cells)`."""
    ci = "" if not math.isfinite(row.ci_low) else f" [{tables.num(row.ci_low)}, {tables.num(row.ci_high)}]"
    return f"{tables.num(row['mean'])}{ci} (n = {row.n} seeds, {row.cells} cell{'' if row.cells == 1 else 's'})"


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


def method_name(anova: d.Anova) -> str:
    return {d.OLS: "ANOVA on the values", d.ART: "ANOVA on aligned ranks (ART)"}.get(anova.method, "none")


def anova_section(anova: d.Anova) -> list[Block]:
    heading = Heading("Two-way analysis", 3)
    model = f"Model `{anova.formula}` (statsmodels `ols`, `anova_lm(typ=2)`)"
    if anova.method == d.REFUSED:
        return [heading, Text(f"{model}: **no analysis**, because {anova.reason}. No F or p is shown.")]
    t = anova.table
    display = pd.DataFrame({"Effect": t.effect, "df": [f"{tables.num(a)}, {tables.num(anova.residual_df)}"
                                                        for a in t.df],
                            "Sum of squares" + (" (ranks)" if anova.method == d.ART else ""): t.sum_sq.map(tables.num),
                            "F": t.F.map(lambda x: tables.num(x, 3)), "p": t.p.map(lambda x: tables.num(x, 2)),
                            "Partial η²": t.partial_eta_sq.map(lambda x: tables.num(x, 2))})
    levene = (f"not checked (a cell with fewer than {d.MIN_LEVENE_SEEDS} seeds)" if math.isnan(anova.levene_p)
              else f"p = {tables.num(anova.levene_p, 2)}")
    text = (f"{model}: **{method_name(anova)}**: {anova.reason}. Homogeneity of variance across cells (Levene, "
            f"median-centred): {levene}. Effect size: **partial η²** = SS_effect / (SS_effect + SS_residual)"
            + (", from the ranked ANOVA of that effect" if anova.method == d.ART else "") + f"; p < {ALPHA} counts "
            "as significant.")
    blocks: list[Block] = [heading, Text(text), Table(display, "design_anova.csv", t)]
    return blocks + ([Bullets(anova.notes)] if anova.notes else [])


def robustness_section(cells: pd.DataFrame, design: d.Design, seeds: d.SeedFrame) -> list[Block]:
    first, rest = design.factors[0], design.factors[1:]
    r = d.robustness(cells, design, seeds.direction)
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


# The verdict per factor -------------------------------------------------------------------------------


def test_text(row: pd.Series, anova: d.Anova) -> str:
    """`ANOVA on the values: F(2, 18) = 12.3, p = 0.0004, partial η² = 0.58`."""
    return (f"{method_name(anova)}: F({tables.num(row.df)}, {tables.num(anova.residual_df)}) = {tables.num(row.F, 3)}, "
            f"p = {tables.num(row.p, 2)}, partial η² = {tables.num(row.partial_eta_sq, 2)}")


def not_converged(checks: Validity, compared: list[str]) -> list[str]:
    """The compared cells that had not converged, each with its status and numbers."""
    c = checks.convergence
    return [f"{cell} {tables.status_phrase(c.loc[cell])}" for cell in compared
            if cell in c.index and c.loc[cell, "status"] != convergence.CONVERGED]


def claim_text(call: d.Call, anova: d.Anova, moving: list[str], others: str) -> str:
    """The call itself: best (at this budget where a compared cell had not converged), or why not."""
    if call.outcome == d.UNTESTED:
        return f"**Not tested**: {anova.reason}; the marginal means alone call nothing."
    test = test_text(call.test, anova)
    if call.outcome == d.TIED:
        return f"**No clear difference** between its levels ({test}; not below {ALPHA}): treat them as tied."
    if call.outcome == d.OVERLAP:
        return (f"The factor is significant ({test}), but the marginal intervals of {call.best} and {call.runner_up} "
                f"overlap (they hold the spread over {others} too), so **{call.best} is not called better than "
                f"{call.runner_up}**; the matrix compares them within each level of {others}.")
    if moving:
        return (f"The factor is significant ({test}) and the two intervals do not overlap: **{call.best} is best at "
                f"this budget**, averaged over {others}, since not every compared cell had converged.")
    return (f"The factor is significant ({test}) and the two intervals do not overlap: **{call.best} is best**, "
            f"averaged over {others}.")


def interaction_text(call: d.Call, anova: d.Anova, others: str) -> str:
    if call.interaction is None:
        return ""
    return (f"The interaction {call.interaction.effect} is significant ({test_text(call.interaction, anova)}): which "
            f"level of {call.factor} is best depends on {others}, so read the matrix and Robustness, not only this "
            "average.")


def equal_time_text(checks: Validity, design: d.Design, seeds: d.SeedFrame, call: d.Call) -> str:
    """Whether the best level at equal steps leads at equal training time too (validity's runs at T)."""
    at = d.with_levels(checks.at_time, design)
    if not math.isfinite(checks.seconds) or at.empty:
        return "No equal-time view: no confirmation run stored its training-time history."
    where = f"At equal training time (T = {checks.seconds:.3g} s, {seeds.objective} interpolated at T)"
    short = runs_short_of(at, seeds.frame)
    if short:  # a level's mean over the runs that reached T would stand for other cells than its mean at equal steps
        return (f"{where} the levels are not compared: not every finished run has a value at T ({', '.join(short)}), "
                "so a level's mean there would pool other cells than its mean at equal steps.")
    effects = d.main_effects(at, design, seeds.direction)
    rows = effects[(effects.factor == call.factor) & (effects.n > 0)].set_index("level")
    leader = rows.sort_values("mean", ascending=d.better_first(seeds.direction), kind="stable").index[0]
    if leader == call.best:
        return f"{where} {call.best} leads too: {tables.num(rows.loc[leader, 'mean'])} (n = {rows.loc[leader, 'n']})."
    best = (f"{tables.num(rows.loc[call.best, 'mean'])} (n = {rows.loc[call.best, 'n']})" if call.best in rows.index
            else "no value at T")
    return (f"{where} the views **disagree**: **{leader}** leads with {tables.num(rows.loc[leader, 'mean'])} (n = "
            f"{rows.loc[leader, 'n']}), {call.best} has {best}; which matters depends on whether steps or training "
            "time is the budget.")


def runs_short_of(at: pd.DataFrame, seeds: pd.DataFrame) -> list[str]:
    """Cells with fewer values at T than finished seeds: `vanilla.F (1 of 3)`, in the seed frame's order."""
    if seeds.empty:
        return []
    reached = at.groupby("cell").size()
    finished = seeds.groupby("cell", sort=False).size()
    return [f"{cell} ({int(reached.get(cell, 0))} of {n})" for cell, n in finished.items() if reached.get(cell, 0) < n]


def budget_text(inputs: ReportInputs, checks: Validity, compared: list[str], direction: str) -> str:
    """Where the compared cells' values came from: their own (no search), or a search, and whether it sufficed."""
    budgets = {info.variant: info.budget for info in inputs.sweep.variants
               if info.variant in compared and info.budget is not None}  # None: not started, nothing stored
    own = [cell for cell, b in budgets.items() if b == 0]
    if own and len(own) == len(budgets):
        return ("No search (`sweep.trials_per_variant: 0`, stored budget 0): each cell ran its own configured values, "
                "so the claim is about those values only, not about each level at its best settings.")
    searched = sorted({b for b in budgets.values() if b})
    if not searched:
        return ""
    rising, unclear = [], []
    for cell in (c for c in compared if budgets.get(c)):
        curve = checks.budget[checks.budget.variant == cell]
        state = budget.still_rising(curve, direction)
        rising += [cell] if state else []
        unclear += [f"{cell} (n = {len(curve)})"] if state is None else []
    parts = [f"Each cell's values are the best of its own search ({'/'.join(map(str, searched))} trials per cell)"]
    parts += [f"cells {', '.join(own)} ran their own values (no search)"] if own else []
    parts += [f"the search may be too small for {', '.join(rising)}: the expected best still moved by more than "
              f"{budget.RISING_FLOOR:.0%} with the last trial"] if rising else []
    parts += [f"too few complete search trials to judge {', '.join(unclear)}: it takes {budget.MIN_TRIALS}"
              ] if unclear else []
    return "; ".join(parts) + "."


def factor_verdict(inputs: ReportInputs, checks: Validity, design: d.Design, seeds: d.SeedFrame,
                   effects: pd.DataFrame, anova: d.Anova, factor: str) -> str:
    """One factor's verdict: the best level by marginal mean with its numbers, the call, and its scope."""
    call = d.factor_call(effects, anova, factor, seeds.direction)
    if call.outcome == d.NOTHING:
        return (f"**{factor}**: fewer than two of its levels have finished seeds (with a value: "
                f"{call.best or 'none'}); nothing to compare.")
    rows = effects[effects.factor == factor].set_index("level")
    index = design.factors.index(factor)
    compared = [cell for combo, cell in design.cells.items() if combo[index] in (call.best, call.runner_up)]
    others = " × ".join(f for f in design.factors if f != factor)
    moving = not_converged(checks, compared)
    better = "lower" if seeds.direction == "minimize" else "higher"
    parts = [f"**{factor}**: **{call.best}** has the best marginal {seeds.objective} ({better} is better), "
             f"{level_text(rows.loc[call.best])}; the runner-up **{call.runner_up}** "
             f"{level_text(rows.loc[call.runner_up])}.", claim_text(call, anova, moving, others),
             interaction_text(call, anova, others),
             f"Not converged: {'; '.join(moving)}." if moving else "Every compared cell had converged.",
             equal_time_text(checks, design, seeds, call), budget_text(inputs, checks, compared, seeds.direction)]
    return " ".join(p for p in parts if p)


def verdict_section(inputs: ReportInputs, checks: Validity, design: d.Design, seeds: d.SeedFrame,
                    effects: pd.DataFrame, anova: d.Anova) -> list[Block]:
    text = (f"Per factor, the level with the best marginal mean, and what may be said of it: **best** only where "
            f"the factor's effect is significant (p < {ALPHA}, the analysis above) and the best level's interval is "
            "apart from the runner-up's; **at this budget** where a compared cell had not converged (Convergence); "
            "with the equal-time view and the search budget of the compared cells (the cells at the two levels).")
    items = tuple(factor_verdict(inputs, checks, design, seeds, effects, anova, f) for f in design.factors)
    return [Heading("Verdict per factor", 3), Text(text), Bullets(items)]
