"""The two-way (or k-way) analysis of a factorial design: which model the seeds allow, or why none, and
its ANOVA table.

The ANOVA is statsmodels' (`ols`, `anova_lm(typ=2)`) over the seed-level frame (`harness.report.design`),
on the values or, where the residuals are not normal (Shapiro-Wilk p < ALPHA), on aligned ranks (ART,
Wobbrock et al. 2011). The rules, with their formulas and when an analysis is refused:
docs/report-designs.md.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats as scipy_stats
from statsmodels.stats.anova import anova_lm

from harness.report.design import Design, cells_text
from harness.report.stats import ALPHA

OLS, ART, REFUSED = "ols", "art", "refused"
MIN_CELL_SEEDS = 2  # a cell of one seed shows nothing of the noise the F-test compares effects with
MIN_SHAPIRO_DF = 3  # Shapiro-Wilk needs 3 values; residuals have only df_resid free ones
MIN_LEVENE_SEEDS = 3  # per cell: below it the median-centred Levene test is degenerate (levene_p)
FIT_EPSILON = 1e-10  # relative float error of a least-squares fit's residuals, with a wide margin
ROUNDOFF = 1e-12  # residual sum of squares this small against the total: seeds that agree exactly
JOIN = " × "  # an interaction's name: `recipe × setting`
TABLE_COLUMNS = ["effect", "df", "sum_sq", "F", "p", "partial_eta_sq"]

Term = tuple[int, ...]  # factor indices of one model term: (0,), (1,), (0, 1)


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
