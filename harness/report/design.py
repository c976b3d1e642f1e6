"""The analysis of a factorial design: cell means, main effects, the two-way ANOVA, robustness, calls.

Pure functions over the **seed-level frame**: one row per completed confirmation run, with its cell,
one column per factor (the cell's level), its seed and its objective value. Intervals are the
report's own (`harness.report.stats.summarize`: t-based, clipped to the metric's range, none from one
value); the ANOVA is statsmodels' (`ols`, `anova_lm(typ=2)`), on the values or, where the residuals
are not normal (Shapiro-Wilk p < ALPHA), on aligned ranks (ART, Wobbrock et al. 2011). The rules, with
their formulas and when an analysis is refused: docs/report-designs.md.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats as scipy_stats
from statsmodels.stats.anova import anova_lm

from harness.report import tables
from harness.report.load import StoredSweep
from harness.report.stats import ALPHA, UNBOUNDED, summarize

SUMMARY = ("n", "mean", "std", "ci_low", "ci_high")
OLS, ART, REFUSED = "ols", "art", "refused"
MIN_CELL_SEEDS = 2  # a cell of one seed shows nothing of the noise the F-test compares effects with
MIN_SHAPIRO_DF = 3  # Shapiro-Wilk needs 3 values; residuals have only df_resid free ones
MIN_LEVENE_SEEDS = 3  # per cell: below it the median-centred Levene test is degenerate (levene_p)
FIT_EPSILON = 1e-10  # relative float error of a least-squares fit's residuals, with a wide margin
ROUNDOFF = 1e-12  # residual sum of squares this small against the total: seeds that agree exactly
EXCLUDED = "excluded by the design"
NOT_RUN = "no finished confirmation run"
JOIN = " × "  # an interaction's name: `recipe × setting`

Pairs = tuple[tuple[str, str], ...]
Term = tuple[int, ...]  # factor indices of one model term: (0,), (1,), (0, 1)


@dataclass(frozen=True)
class Design:
    """The factors in order, each one's levels in order, and the cells the design holds."""

    factors: tuple[str, ...]
    levels: dict[str, tuple[str, ...]]
    cells: dict[tuple[str, ...], str]  # a cell's levels (factor order) -> its name, in config order

    def product(self) -> list[tuple[str, ...]]:
        """Every combination of levels (the full factorial), first factor slowest."""
        return list(itertools.product(*(self.levels[f] for f in self.factors)))

    def further(self) -> list[Pairs]:
        """One entry per matrix: the levels of the factors after the second ([()] with two factors)."""
        rest = self.factors[2:]
        return [tuple(zip(rest, combo)) for combo in itertools.product(*(self.levels[f] for f in rest))]


@dataclass(frozen=True)
class SeedFrame:
    frame: pd.DataFrame  # cell, <factor>..., seed, value
    objective: str
    direction: str  # minimize | maximize


def design_of(cells: Sequence[tuple[str, Pairs]], order: dict[str, Sequence[str]] | None = None) -> Design:
    """The design of cells given as (name, levels): the factors of the cell with the most; a cell whose
    factors differ (a study written before designs) is left out. Levels follow `order` where given
    (the config's), else their first appearance; only levels some cell holds are kept."""
    if not cells:
        return Design((), {}, {})
    factors = tuple(f for f, _ in max((levels for _, levels in cells), key=len))
    kept = {tuple(lv for _, lv in levels): name for name, levels in cells
            if tuple(f for f, _ in levels) == factors}
    levels = {}
    for i, factor in enumerate(factors):
        seen = list(dict.fromkeys(combo[i] for combo in kept))
        given = [lv for lv in (order or {}).get(factor, ()) if lv in seen]
        levels[factor] = tuple(given + [lv for lv in seen if lv not in given])
    return Design(factors, levels, kept)


def seed_frame(sweep: StoredSweep, design: Design) -> SeedFrame:
    """One row per completed confirmation run of the design's cells (tables.confirm_trials: the runs of
    the cell's current confirmed values, or all of them where no search chose the values)."""
    names = {name: combo for combo, name in design.cells.items()}
    rows = []
    for info in sweep.variants:
        if info.variant in names:
            done = tables.confirm_trials(sweep, info)
            rows += [(info.variant, *names[info.variant], seed, float(value))
                     for seed, value in zip(done.seed, done.value) if pd.notna(value) and math.isfinite(value)]
    frame = pd.DataFrame(rows, columns=["cell", *design.factors, "seed", "value"])
    frame = frame.astype({"seed": "Int64", "value": "float64"})
    objective, direction = tables.objective_of(sweep)
    return SeedFrame(frame, objective, direction)


def with_levels(values: pd.DataFrame, design: Design, cell_column: str = "variant") -> pd.DataFrame:
    """Rows of `values` (a cell-name column and `value`) as a seed-level frame: each cell's levels added,
    rows of cells outside the design and non-finite values left out (e.g. validity's runs at equal time)."""
    names = {name: combo for combo, name in design.cells.items()}
    rows = values[values[cell_column].isin(names) & np.isfinite(values.value.to_numpy(float))]
    frame = pd.DataFrame({"cell": rows[cell_column].to_numpy()})
    for i, factor in enumerate(design.factors):
        frame[factor] = [names[c][i] for c in frame.cell]
    frame["value"] = rows.value.to_numpy(float)
    return frame


def cell_table(seeds: pd.DataFrame, design: Design, bounds: tuple[float, float] = UNBOUNDED,
               why_missing: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per cell of the full factorial (product order): its levels, name, n, mean, std and
    CI over seeds, and, where it has no value, why (`excluded by the design`, or `why_missing[cell]`)."""
    rows = []
    for combo in design.product():
        name = design.cells.get(combo)
        values = seeds[seeds.cell == name].value.tolist() if name else []
        s = summarize(values, bounds)
        missing = "" if s.n else EXCLUDED if name is None else (why_missing or {}).get(name) or NOT_RUN
        rows.append({**dict(zip(design.factors, combo)), "cell": name or "", **{k: getattr(s, k) for k in SUMMARY},
                     "missing": missing})
    return pd.DataFrame(rows, columns=[*design.factors, "cell", *SUMMARY, "missing"])


def select(frame: pd.DataFrame, fixed: Pairs) -> pd.DataFrame:
    """The rows of `frame` at the given levels of some factors."""
    keep = np.ones(len(frame), dtype=bool)
    for factor, level in fixed:
        keep &= (frame[factor] == level).to_numpy()
    return frame[keep]


def grid(cells: pd.DataFrame, design: Design, column: str) -> pd.DataFrame:
    """One matrix of `column`: rows the first factor's levels, columns the second's (one combination of
    the further factors' levels: select first)."""
    first, second = design.factors[:2]
    table = cells.pivot_table(index=first, columns=second, values=column, aggfunc="first", dropna=False)
    return table.reindex(index=list(design.levels[first]), columns=list(design.levels[second]))


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
                         **{k: getattr(s, k) for k in SUMMARY}})
    frame = pd.DataFrame(rows, columns=["factor", "level", "cells", *SUMMARY])
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


def same_everywhere(recipes: list[dict[str, Any]]) -> dict[str, Any]:
    """The keys that every recipe holds with one value."""
    if not recipes:
        return {}
    return {k: v for k, v in recipes[0].items() if all(k in r and as_text(r[k]) == as_text(v) for r in recipes)}


def as_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str) if isinstance(value, (list, dict)) else str(value)


def level_settings(recipes: dict[str, dict[str, Any]], design: Design) -> dict[tuple[str, str], dict[str, Any]]:
    """What each level sets, read off the cells' stored recipes (for stores without the levels' own
    record): the keys with one value across every cell of a level that differ between the factor's levels."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for i, factor in enumerate(design.factors):
        held = {level: same_everywhere([recipes[name] for combo, name in design.cells.items()
                                        if combo[i] == level and name in recipes]) for level in design.levels[factor]}
        held = {level: values for level, values in held.items() if values}
        shared = set.intersection(*(set(v) for v in held.values())) if held else set()
        varying = sorted(k for k in shared if len({as_text(v[k]) for v in held.values()}) > 1)
        out.update({(factor, level): {k: held[level][k] for k in varying} if level in held else {}
                    for level in design.levels[factor]})
    return out


def differing_settings(recipes: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Cells x the recipe keys whose values are not the same in every cell (as text; – where a cell's
    recipe lacks the key), cells in the order given."""
    keys = sorted({k for r in recipes.values() for k in r})
    varying = [k for k in keys if len({as_text(r[k]) if k in r else None for r in recipes.values()}) > 1]
    rows = {cell: [as_text(r[k]) if k in r else tables.DASH for k in varying] for cell, r in recipes.items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=varying).rename_axis("cell")


# ANOVA ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anova:
    """The analysis of the design: which (or why none), the checks that chose it, and its table."""

    method: str  # OLS, ART or REFUSED
    formula: str  # in the factors' own names
    reason: str  # why this method, or why no analysis, with the numbers
    table: pd.DataFrame  # effect, df, sum_sq, F, p, partial_eta_sq (one row per term; empty when refused)
    residual_df: float = math.nan
    shapiro_p: float = math.nan  # of the OLS residuals; NaN: not checked
    levene_p: float = math.nan  # across cells; NaN: not checked
    notes: tuple[str, ...] = field(default=())

    def row(self, effect: str) -> pd.Series | None:
        found = self.table[self.table.effect == effect]
        return None if found.empty else found.iloc[0]


TABLE_COLUMNS = ["effect", "df", "sum_sq", "F", "p", "partial_eta_sq"]


def term_name(term: Term, design: Design) -> str:
    return JOIN.join(design.factors[i] for i in term)


def term_formula(term: Term) -> str:
    return ":".join(f"C(f{i})" for i in term)


def full_terms(k: int) -> list[Term]:
    """Every main effect and interaction of k factors, by order then position."""
    return [t for size in range(1, k + 1) for t in itertools.combinations(range(k), size)]


def formula_text(terms: list[Term], design: Design) -> str:
    return "value ~ " + " + ".join(":".join(f"C({design.factors[i]})" for i in t) for t in terms)


def parameters(terms: list[Term], design: Design) -> int:
    """Columns of the model matrix: the intercept and prod(levels - 1) per term."""
    sizes = [len(design.levels[f]) - 1 for f in design.factors]
    return 1 + sum(math.prod(sizes[i] for i in t) for t in terms)


def cells_text(combos: Sequence[tuple[str, ...]], counts: pd.Series | None = None) -> str:
    shown = [".".join(c) + ("" if counts is None else f" (n = {counts[c]})") for c in combos[:6]]
    return ", ".join(shown) + (f" and {len(combos) - 6} more" if len(combos) > 6 else "")


def cell_counts(seeds: pd.DataFrame, design: Design) -> pd.Series:
    """n per cell of the full factorial (0 where it has no value), in product order."""
    counts = seeds.groupby(list(design.factors)).size() if len(seeds) else pd.Series(dtype=int)
    return pd.Series([int(counts.get(c, 0)) for c in design.product()], index=design.product())


def choose_model(counts: pd.Series, design: Design) -> tuple[list[Term] | None, str]:
    """(model terms, why) or (None, why the design cannot be analysed), with the numbers."""
    k, total = len(design.factors), int(counts.sum())
    one = [f"{f} ({design.levels[f][0] if design.levels[f] else 'none'})" for f in design.factors
           if len(design.levels[f]) < 2]
    if one:
        return None, f"a factor with fewer than 2 levels has no effect to test: {', '.join(one)}"
    empty = [c for c, n in counts.items() if n == 0]
    if empty:
        return None, (f"the design is incomplete: {len(empty)} of {len(counts)} cells have no finished seed "
                      f"({cells_text(empty)}), so the interaction cannot be estimated")
    if counts.min() >= MIN_CELL_SEEDS:
        terms = full_terms(k)
        return terms, (f"full factorial model: every cell has at least {MIN_CELL_SEEDS} seeds (n = "
                       f"{counts.min()}–{counts.max()}), residual df = {total} − {parameters(terms, design)} = "
                       f"{total - parameters(terms, design)}")
    few = [c for c, n in counts.items() if n < MIN_CELL_SEEDS]
    if k == 2:
        return None, (f"{len(few)} of {len(counts)} cells have fewer than {MIN_CELL_SEEDS} seeds "
                      f"({cells_text(few, counts)}): a full model would rest on "
                      f"{total - parameters(full_terms(2), design)} residual degrees of freedom")
    terms = [(0,), (1,), (0, 1), *((i,) for i in range(2, k))]
    df = total - parameters(terms, design)
    if df < 1:
        return None, (f"{len(few)} cells have fewer than {MIN_CELL_SEEDS} seeds, and even the model without the "
                      f"further factors' interactions leaves {df} residual degrees of freedom ({total} values, "
                      f"{parameters(terms, design)} parameters)")
    return terms, (f"{len(few)} of {len(counts)} cells have fewer than {MIN_CELL_SEEDS} seeds "
                   f"({cells_text(few, counts)}), "
                   f"so the further factors enter as main effects only and their interactions are pooled into the "
                   f"error (assumed absent), residual df = {total} − {parameters(terms, design)} = {df}")


def coded(seeds: pd.DataFrame, design: Design) -> pd.DataFrame:
    """The values with the factors renamed f0, f1, ... (a formula then never meets a factor's own name)."""
    data = pd.DataFrame({f"f{i}": seeds[f].astype(str).to_numpy() for i, f in enumerate(design.factors)})
    data["y"] = seeds.value.to_numpy(float)
    return data


def fit(data: pd.DataFrame, terms: list[Term]) -> tuple[pd.DataFrame, np.ndarray, float]:
    """statsmodels' OLS of y on `terms` and its type II ANOVA table, residuals and residual df."""
    model = smf.ols("y ~ " + " + ".join(term_formula(t) for t in terms), data=data).fit()
    with warnings.catch_warnings():  # a perfect fit divides by a zero residual: refused by the caller
        warnings.simplefilter("ignore", RuntimeWarning)
        table = anova_lm(model, typ=2)
    return table, np.asarray(model.resid, dtype=float), float(model.df_resid)


def effect_rows(table: pd.DataFrame, terms: list[Term], design: Design) -> list[dict[str, float | str]]:
    ss_resid = float(table.loc["Residual", "sum_sq"])
    rows = []
    for t in terms:
        r = table.loc[term_formula(t)]
        rows.append({"effect": term_name(t, design), "df": float(r.df), "sum_sq": float(r.sum_sq), "F": float(r.F),
                     "p": float(r["PR(>F)"]), "partial_eta_sq": float(r.sum_sq) / (float(r.sum_sq) + ss_resid)})
    return rows


def aligned(data: pd.DataFrame, term: Term, resid: np.ndarray) -> np.ndarray:
    """ART's aligned response for one term: the model's residual plus the term's estimated effect, the
    inclusion-exclusion sum over the term's factor subsets S of (-1)^(|term|-|S|) x mean of y over S."""
    effect = np.zeros(len(data))
    for size in range(len(term) + 1):
        for subset in itertools.combinations(term, size):
            means = (data.groupby([f"f{i}" for i in subset]).y.transform("mean").to_numpy(float) if subset
                     else np.full(len(data), data.y.mean()))
            effect += (-1) ** (len(term) - size) * means
    return resid + effect


def art_rows(data: pd.DataFrame, terms: list[Term], resid: np.ndarray, design: Design) -> list[dict]:
    """For each term: align for it, rank (average ranks for ties), fit the same model to the ranks and
    read that term's row only."""
    rows = []
    for t in terms:
        ranked = data.assign(y=scipy_stats.rankdata(aligned(data, t, resid)))
        table, _, _ = fit(ranked, terms)
        rows += [row for row in effect_rows(table, terms, design) if row["effect"] == term_name(t, design)]
    return rows


def levene_p(seeds: pd.DataFrame, design: Design, counts: pd.Series) -> float:
    """Levene's test (scipy's default: deviations from each cell's median) across cells; NaN where a
    cell has fewer than MIN_LEVENE_SEEDS values or no cell varies. With 2 values a cell's two deviations from
    its median are equal, so the test's within-cell spread is 0 and its p collapses towards 0 whatever the
    variances: it says nothing there."""
    if counts.min() < MIN_LEVENE_SEEDS:
        return math.nan
    groups = [g.value.to_numpy(float) for _, g in seeds.groupby(list(design.factors))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(scipy_stats.levene(*groups).pvalue)


def shapiro_p(resid: np.ndarray, residual_df: float) -> float:
    if residual_df < MIN_SHAPIRO_DF:
        return math.nan
    return float(scipy_stats.shapiro(resid).pvalue)


def exact_fit_tolerance(y: np.ndarray) -> float:
    """A residual sum of squares at or below this is rounding, not noise: a tiny fraction of the values'
    spread, plus the float error of fitting values of their size (identical seeds around 100 leave ~1e-26)."""
    spread = float(((y - y.mean()) ** 2).sum())
    return ROUNDOFF * spread + len(y) * (FIT_EPSILON * float(np.abs(y).max(initial=0.0))) ** 2


def analyse(seeds: pd.DataFrame, design: Design) -> Anova:
    """The two-way (or k-way) analysis of the seed-level values; see the module's docstring."""
    counts = cell_counts(seeds, design)
    terms, why = choose_model(counts, design)
    formula = formula_text(terms or full_terms(len(design.factors)), design)
    if terms is None:
        return Anova(REFUSED, formula, why, pd.DataFrame(columns=TABLE_COLUMNS))
    data = coded(seeds, design)
    table, resid, df_resid = fit(data, terms)
    ss_resid = float(table.loc["Residual", "sum_sq"])
    if ss_resid <= exact_fit_tolerance(data.y.to_numpy(float)):
        why += (f"; but the model fits every value exactly (residual sum of squares {ss_resid:.3g}; the seeds of each "
                "cell agree), so there is no error to test against and F is undefined")
        return Anova(REFUSED, formula, why, pd.DataFrame(columns=TABLE_COLUMNS), df_resid)
    normal, equal = shapiro_p(resid, df_resid), levene_p(seeds, design, counts)
    notes = unequal_notes(counts, equal)
    if normal < ALPHA:
        rows, method = art_rows(data, terms, resid, design), ART
        why += (f"; the residuals are not normal (Shapiro-Wilk p = {normal:.2g} < {ALPHA}), so the aligned rank "
                "transform (ART) is used: each effect tested on the ranks of the values aligned for it")
    else:
        rows, method = effect_rows(table, terms, design), OLS
        why += ("; normality of the residuals not checked (residual df < 3)" if math.isnan(normal) else
                f"; the residuals pass Shapiro-Wilk (p = {normal:.2g} ≥ {ALPHA}), so the ANOVA is on the values")
    return Anova(method, formula, why, pd.DataFrame(rows, columns=TABLE_COLUMNS), df_resid, normal, equal,
                 tuple(notes))


def unequal_notes(counts: pd.Series, levene: float) -> list[str]:
    """Cautions that do not stop the analysis: unequal n per cell, unequal variances."""
    notes = []
    if counts.min() != counts.max():
        notes.append(f"unequal seeds per cell (n = {counts.min()}–{counts.max()}): type II sums of squares test "
                     "each main effect after the other main effects, which assumes no interaction")
    if levene < ALPHA:
        notes.append(f"the cells' variances differ (Levene p = {levene:.2g} < {ALPHA}): the F-tests are less "
                     "reliable, more so with unequal n")
    return notes


# Calls ------------------------------------------------------------------------------------------------

BEST, TIED, OVERLAP, UNTESTED, NOTHING = "best", "no clear difference", "overlapping intervals", "untested", "nothing"


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
