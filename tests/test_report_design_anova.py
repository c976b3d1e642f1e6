"""The two-way analysis on hand-computed cases: the ANOVA against sums of squares computed with numpy,
ART where normality fails, the refusals with their numbers, three factors, and the cautions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from harness.report import design as d, design_anova as a
from tests.test_report_design import seeds_of, three_factors, two_by_three


def numpy_anova(y: np.ndarray) -> dict[str, tuple[float, float, float, float]]:
    """Balanced two-way ANOVA from sums of squares, y[a, b, seed]: {effect: (df, SS, F, partial eta^2)}."""
    a, b, n = y.shape
    grand, cell = y.mean(), y.mean(axis=2)
    row, col = y.mean(axis=(1, 2)), y.mean(axis=(0, 2))
    ss = {"A": n * b * ((row - grand) ** 2).sum(), "B": n * a * ((col - grand) ** 2).sum(),
          "AB": n * ((cell - row[:, None] - col[None, :] + grand) ** 2).sum()}
    ss_e, df_e = ((y - cell[:, :, None]) ** 2).sum(), a * b * (n - 1)
    dfs = {"A": a - 1, "B": b - 1, "AB": (a - 1) * (b - 1)}
    return {k: (dfs[k], ss[k], (ss[k] / dfs[k]) / (ss_e / df_e), ss[k] / (ss[k] + ss_e)) for k in ss}


def test_the_anova_of_a_balanced_2x3_design_is_the_sums_of_squares_computed_by_hand() -> None:
    design = two_by_three()
    y = np.random.default_rng(3).normal(size=(2, 3, 10)) + np.array([0, 0.6])[:, None, None] + \
        np.array([0, 0.3, 1.0])[None, :, None]
    values = {(r, s): y[i, j].tolist() for i, r in enumerate(("sngan", "wgan")) for j, s in enumerate(("A", "D", "F"))}
    found = a.analyse(seeds_of(values, design), design)
    assert found.method == a.OLS and found.residual_df == 54
    assert found.shapiro_p == pytest.approx(stats.shapiro(y - y.mean(axis=2, keepdims=True)).pvalue)
    expected = numpy_anova(y)
    for effect, key in (("recipe", "A"), ("setting", "B"), ("recipe × setting", "AB")):
        row = found.row(effect)
        df, ss, f, eta = expected[key]
        assert (row.df, row.sum_sq, row.F, row.partial_eta_sq) == pytest.approx((df, ss, f, eta))
        assert row.p == pytest.approx(stats.f.sf(f, df, 54))


def test_a_hand_computed_2x2_fit() -> None:
    """Cells [1,2,3], [5,6,7], [2,3,4], [10,11,12]: cell means 2, 6, 3, 11, grand 5.5; level means f: 4, 7,
    g: 2.5, 8.5. SS_f = 6 x (1.5^2 + 1.5^2) = 27, SS_g = 6 x (3^2 + 3^2) = 108, SS_fg = 3 x 4 x 1^2 = 12 (every
    cell's interaction term is ±1), SS_E = 4 x 2 = 8 on 12 - 4 = 8 df, so MS_E = 1 and F = SS."""
    design = d.design_of([(f"{f}.{g}", (("f", f), ("g", g))) for f in ("a1", "a2") for g in ("b1", "b2")])
    values = {("a1", "b1"): [1.0, 2.0, 3.0], ("a1", "b2"): [5.0, 6.0, 7.0], ("a2", "b1"): [2.0, 3.0, 4.0],
              ("a2", "b2"): [10.0, 11.0, 12.0]}
    table, resid, df = a.fit(a.coded(seeds_of(values, design), design), a.full_terms(2))
    rows = {r["effect"]: r for r in a.effect_rows(table, a.full_terms(2), design)}
    assert df == 8 and sorted(np.round(resid, 9)) == [-1.0] * 4 + [0.0] * 4 + [1.0] * 4
    assert [rows[e]["sum_sq"] for e in ("f", "g", "f × g")] == pytest.approx([27, 108, 12])
    assert [rows[e]["F"] for e in ("f", "g", "f × g")] == pytest.approx([27, 108, 12])
    assert [rows[e]["p"] for e in ("f", "g", "f × g")] == pytest.approx([stats.f.sf(f, 1, 8) for f in (27, 108, 12)])
    assert [rows[e]["partial_eta_sq"] for e in ("f", "g", "f × g")] == pytest.approx([27 / 35, 108 / 116, 12 / 20])


def outlier_values() -> dict[tuple[str, str], list[float]]:
    rng = np.random.default_rng(7)
    values = {(r, s): (rng.normal(size=5) + (2.0 if r == "wgan" else 0.0)).tolist()
              for r in ("sngan", "wgan") for s in ("A", "D", "F")}
    values[("sngan", "A")][0] = 60.0  # one seed far off: the residuals are not normal
    return values


def test_a_heavy_outlier_fails_normality_and_picks_the_aligned_rank_transform() -> None:
    design = two_by_three()
    seeds = seeds_of(outlier_values(), design)
    found = a.analyse(seeds, design)
    assert found.method == a.ART and found.shapiro_p < 0.05
    assert f"Shapiro-Wilk p = {found.shapiro_p:.2g} < 0.05" in found.reason and "ART" in found.reason
    # each row comes from the ANOVA of the ranks aligned for that effect: recompute the recipe row by hand
    data = a.coded(seeds, design)
    _, resid, _ = a.fit(data, a.full_terms(2))
    cell_mean = data.groupby(["f0", "f1"]).y.transform("mean")
    by_hand = data.y - cell_mean + data.groupby("f0").y.transform("mean") - data.y.mean()
    table, _, _ = a.fit(data.assign(y=stats.rankdata(by_hand)), a.full_terms(2))
    assert found.row("recipe").F == pytest.approx(table.loc["C(f0)", "F"])
    assert found.row("recipe").p < 0.05  # the ranks see the 2-unit shift that the outlier hides from the means
    assert a.analyse(seeds[seeds.value < 50], design).method == a.OLS


def test_art_aligns_out_every_effect_but_its_own() -> None:
    """Wobbrock et al.'s check: an ANOVA of the aligned (unranked) values leaves only the effect aligned for."""
    design = two_by_three()
    data = a.coded(seeds_of(outlier_values(), design), design)
    original, resid, _ = a.fit(data, a.full_terms(2))
    for term in a.full_terms(2):
        table, _, _ = a.fit(data.assign(y=a.aligned(data, term, resid)), a.full_terms(2))
        for other in a.full_terms(2):
            expected = original.loc[a.term_formula(term), "sum_sq"] if other == term else 0.0
            assert table.loc[a.term_formula(other), "sum_sq"] == pytest.approx(expected, abs=1e-9)


def test_one_seed_per_cell_refuses_the_analysis_with_its_numbers() -> None:
    design = two_by_three()
    values = {(r, s): [float(i + j)] for i, r in enumerate(("sngan", "wgan")) for j, s in enumerate(("A", "D", "F"))}
    found = a.analyse(seeds_of(values, design), design)
    assert found.method == a.REFUSED and found.table.empty
    assert found.reason.startswith("6 of 6 cells have fewer than 2 seeds (sngan.A (n = 1), sngan.D (n = 1)")
    assert found.reason.endswith("a full model would rest on 0 residual degrees of freedom")


def test_two_cells_of_one_seed_still_refuse_a_two_factor_analysis() -> None:
    design = two_by_three()
    values = {(r, s): [1.0, 2.0, 4.0] for r in ("sngan", "wgan") for s in ("A", "D", "F")}
    values[("wgan", "D")] = [3.0]
    found = a.analyse(seeds_of(values, design), design)
    assert found.method == a.REFUSED and "1 of 6 cells have fewer than 2 seeds (wgan.D (n = 1))" in found.reason
    assert "rest on 10 residual degrees" in found.reason  # 3 x 5 + 1 values, 6 parameters


def test_an_incomplete_design_and_identical_seeds_are_refused() -> None:
    design = two_by_three()
    values = {(r, s): [1.0, 2.0, 4.0] for r in ("sngan", "wgan") for s in ("A", "D", "F") if (r, s) != ("wgan", "A")}
    found = a.analyse(seeds_of(values, design), design)
    assert found.method == a.REFUSED
    assert found.reason.startswith("the design is incomplete: 1 of 6 cells have no finished seed (wgan.A)")
    flat = {(r, s): [float(len(r) + len(s))] * 3 for r in ("sngan", "wgan") for s in ("A", "D", "F")}
    found = a.analyse(seeds_of(flat, design), design)
    assert found.method == a.REFUSED and "the model fits every value exactly" in found.reason


def test_three_factors_fit_the_full_interaction_when_every_cell_has_two_seeds() -> None:
    design = three_factors()
    rng = np.random.default_rng(0)
    values = {combo: rng.normal(size=3).tolist() for combo in design.product()}
    found = a.analyse(seeds_of(values, design), design)
    assert found.formula == "value ~ C(f) + C(g) + C(h) + C(f):C(g) + C(f):C(h) + C(g):C(h) + C(f):C(g):C(h)"
    assert found.residual_df == 24 - 8 and found.row("f × g × h") is not None


def test_three_factors_with_one_seed_per_cell_pool_the_further_interactions() -> None:
    design = three_factors()
    values = {combo: [float(i % 3) + 0.1 * i ** 1.5] for i, combo in enumerate(design.product())}
    found = a.analyse(seeds_of(values, design), design)
    assert found.formula == "value ~ C(f) + C(g) + C(f):C(g) + C(h)"
    assert found.residual_df == 3 and "residual df = 8 − 5 = 3" in found.reason
    assert "interactions are pooled into the error (assumed absent)" in found.reason


def test_unequal_seeds_and_unequal_variances_are_noted() -> None:
    design = two_by_three()
    rng = np.random.default_rng(1)
    values = {(r, s): rng.normal(size=6).tolist() for r in ("sngan", "wgan") for s in ("A", "D", "F")}
    values[("wgan", "F")] = (rng.normal(size=4) * 40).tolist()
    found = a.analyse(seeds_of(values, design), design)
    assert found.notes[0].startswith("unequal seeds per cell (n = 4–6)")
    assert found.levene_p < 0.05 and "Levene p =" in found.notes[1]


def test_levene_is_not_checked_with_two_seeds_in_a_cell() -> None:
    """Two values sit equally far from their median: the test's within-cell spread is 0 and its p collapses
    (it read 3.5e-89 on equal-variance noise before the rule), so it is not run below 3 seeds."""
    design = two_by_three()
    rng = np.random.default_rng(2)
    two = {(r, s): rng.normal(size=2).tolist() for r in ("sngan", "wgan") for s in ("A", "D", "F")}
    assert math.isnan(a.analyse(seeds_of(two, design), design).levene_p)
    three = {(r, s): rng.normal(size=3).tolist() for r in ("sngan", "wgan") for s in ("A", "D", "F")}
    groups = [three[(r, s)] for r in ("sngan", "wgan") for s in ("A", "D", "F")]
    assert a.analyse(seeds_of(three, design), design).levene_p == pytest.approx(stats.levene(*groups).pvalue)


def test_seeds_that_vary_little_around_a_large_value_are_analysed() -> None:
    """The exact-fit refusal compares the residual sum of squares with the values' spread, not their size."""
    design = two_by_three()
    rng = np.random.default_rng(3)
    values = {(r, s): (100.0 + 1e-5 * rng.normal(size=3)).tolist() for r in ("sngan", "wgan") for s in ("A", "D", "F")}
    assert a.analyse(seeds_of(values, design), design).method != a.REFUSED
    same = {(r, s): [100.0, 100.0, 100.0] for r in ("sngan", "wgan") for s in ("A", "D", "F")}
    assert a.analyse(seeds_of(same, design), design).method == a.REFUSED
