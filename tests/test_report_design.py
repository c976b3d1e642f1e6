"""The design analysis on hand-computed cases: cell intervals at n = 1, 2, 3 and 10, the ANOVA against
sums of squares computed with numpy, ART where normality fails, refusals, robustness in both directions."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness.report import design as d
from harness.report.load import TRIAL_COLUMNS, StoredSweep, VariantInfo
from harness.stores import keys

T975 = {1: 12.706204736, 2: 4.302652730, 9: 2.262157163}  # Student's t, 97.5% quantile, by df


def two_by_three() -> d.Design:
    """recipe (rows) × setting (columns), the second factor with more levels so that swapping shows."""
    cells = [(f"{r}.{s}", (("recipe", r), ("setting", s))) for r in ("sngan", "wgan") for s in ("A", "D", "F")]
    return d.design_of(cells)


def seeds_of(values: dict[tuple[str, ...], list[float]], design: d.Design) -> pd.DataFrame:
    rows = [(design.cells[combo], *combo, seed, v) for combo, vs in values.items() for seed, v in enumerate(vs)]
    return pd.DataFrame(rows, columns=["cell", *design.factors, "seed", "value"])


# The design and the seed-level frame --------------------------------------------------------------------


def test_the_design_follows_the_configs_level_order_and_leaves_out_cells_of_other_factors() -> None:
    cells = [("wgan.F", (("recipe", "wgan"), ("setting", "F"))), ("sngan.D", (("recipe", "sngan"), ("setting", "D"))),
             ("old", (("variant", "old"),))]
    design = d.design_of(cells, {"setting": ["A", "D", "F"]})
    assert design.factors == ("recipe", "setting")
    assert design.levels == {"recipe": ("wgan", "sngan"), "setting": ("D", "F")}  # A holds no cell: left out
    assert design.cells == {("wgan", "F"): "wgan.F", ("sngan", "D"): "sngan.D"}
    assert design.product() == [("wgan", "D"), ("wgan", "F"), ("sngan", "D"), ("sngan", "F")]
    assert d.design_of([("a", (("variant", "a"),))]).factors == ("variant",)


def info(cell: str, levels: tuple, source: int | None) -> VariantInfo:
    search = SimpleNamespace(user_attrs={keys.LEVELS: [list(p) for p in levels], keys.BUDGET: 0})
    confirm = SimpleNamespace(user_attrs={} if source is None else {keys.SOURCE_TRIAL: source})
    return VariantInfo(cell, "w1", "minimize", 3, search, confirm)


def test_the_seed_frame_holds_the_completed_runs_of_the_current_confirmed_values() -> None:
    a, b = (("recipe", "sngan"), ("setting", "A")), (("recipe", "wgan"), ("setting", "A"))
    rows = [("sngan.A", "confirm", 0, "complete", 1.0, 1, 4), ("sngan.A", "confirm", 1, "complete", 9.0, 2, 2),
            ("sngan.A", "confirm", 2, "diverged", None, 3, 4), ("sngan.A", "confirm", 3, "complete", 1.5, 3, 4),
            ("wgan.A", "confirm", 0, "complete", 2.0, 1, None), ("wgan.A", "confirm", 1, "complete", 2.5, 2, None),
            ("wgan.A", "search", 0, "complete", 0.1, 0, None)]
    trials = pd.DataFrame([dict(zip(["variant", "stage", "number", "outcome", "value", "seed", "source_trial"], r))
                           for r in rows], columns=TRIAL_COLUMNS).astype({"source_trial": "Int64", "seed": "Int64"})
    sweep = StoredSweep([info("sngan.A", a, 4), info("wgan.A", b, None)], trials, pd.DataFrame())
    design = d.design_of([(i.variant, i.levels) for i in sweep.variants])
    found = d.seed_frame(sweep, design)
    assert (found.objective, found.direction) == ("w1", "minimize")
    # sngan.A: source trial 4 only (the run of trial 2 is of older values), the diverged seed left out;
    # wgan.A ran its own values (no search, no source trial): every completed confirmation run
    assert found.frame.to_dict("list") == {"cell": ["sngan.A", "sngan.A", "wgan.A", "wgan.A"],
                                           "recipe": ["sngan", "sngan", "wgan", "wgan"],
                                           "setting": ["A", "A", "A", "A"], "seed": [1, 3, 1, 2],
                                           "value": [1.0, 1.5, 2.0, 2.5]}


# Cells, matrices, main effects --------------------------------------------------------------------------


def test_cell_intervals_at_1_2_3_and_10_seeds_are_the_reports_t_intervals() -> None:
    design = two_by_three()
    values = {("sngan", "A"): [5.0], ("sngan", "D"): [1.0, 3.0], ("sngan", "F"): [1.0, 2.0, 3.0],
              ("wgan", "A"): [float(v) for v in range(10)], ("wgan", "D"): []}
    cells = d.cell_table(seeds_of(values, design), design, why_missing={"wgan.D": "not started"})
    by = cells.set_index("cell")
    assert by.loc["sngan.A", "n"] == 1 and by.loc["sngan.A", "mean"] == 5.0 and math.isnan(by.loc["sngan.A", "ci_low"])
    half2 = T975[1] * math.sqrt(2) / math.sqrt(2)  # sd of [1, 3] is sqrt(2)
    assert by.loc["sngan.D", ["n", "mean", "ci_low", "ci_high"]].tolist() == pytest.approx([2, 2, 2 - half2, 2 + half2])
    half3 = T975[2] * 1 / math.sqrt(3)  # sd of [1, 2, 3] is 1
    assert by.loc["sngan.F", ["n", "mean", "ci_low", "ci_high"]].tolist() == pytest.approx([3, 2, 2 - half3, 2 + half3])
    half10 = T975[9] * math.sqrt(110 / 12) / math.sqrt(10)  # sd of 0..9: sqrt(sum (v - 4.5)^2 / 9)
    assert by.loc["wgan.A", ["n", "mean", "ci_low", "ci_high"]].tolist() == pytest.approx(
        [10, 4.5, 4.5 - half10, 4.5 + half10])
    assert by.loc["wgan.D", ["n", "missing"]].tolist() == [0, "not started"]
    assert by.loc["wgan.F", ["n", "missing"]].tolist() == [0, d.NOT_RUN]
    bounded = d.cell_table(seeds_of(values, design), design, bounds=(0.0, math.inf)).set_index("cell")
    assert bounded.loc["sngan.D", "ci_low"] == 0.0  # clipped to the metric's range


def test_a_cell_the_design_excludes_says_so() -> None:
    design = d.design_of([("a.x", (("f", "a"), ("g", "x"))), ("b.y", (("f", "b"), ("g", "y")))])
    cells = d.cell_table(seeds_of({("a", "x"): [1.0]}, design), design).set_index(["f", "g"])
    assert cells.loc[("a", "y"), "missing"] == d.EXCLUDED and cells.loc[("b", "x"), "missing"] == d.EXCLUDED
    assert cells.loc[("b", "y"), "missing"] == d.NOT_RUN


def test_the_matrix_has_the_first_factor_in_rows_and_the_second_in_columns() -> None:
    design = two_by_three()
    values = {combo: [10.0 * i + j] for i, r in enumerate(("sngan", "wgan")) for j, combo in
              enumerate((r, s) for s in ("A", "D", "F"))}
    grid = d.grid(d.cell_table(seeds_of(values, design), design), design, "mean")
    assert grid.index.tolist() == ["sngan", "wgan"] and grid.columns.tolist() == ["A", "D", "F"]
    assert grid.loc["wgan", "D"] == 11.0 and grid.loc["sngan", "F"] == 2.0


def test_main_effects_pool_the_seed_values_of_every_cell_at_a_level() -> None:
    design = two_by_three()
    values = {("sngan", "A"): [1.0, 2.0], ("sngan", "D"): [3.0], ("wgan", "A"): [7.0, 9.0], ("wgan", "F"): [5.0]}
    effects = d.main_effects(seeds_of(values, design), design, "minimize").set_index(["factor", "level"])
    sngan = effects.loc[("recipe", "sngan")]
    assert (sngan.n, sngan.cells, sngan["mean"]) == (3, 2, 2.0)
    assert sngan.ci_high - sngan["mean"] == pytest.approx(T975[2] * 1 / math.sqrt(3))
    assert effects.loc[("setting", "A"), ["n", "mean"]].tolist() == [4, 4.75]
    assert effects.loc[("setting", "D"), "rank"] == 1 and effects.loc[("recipe", "sngan"), "rank"] == 1
    flipped = d.main_effects(seeds_of(values, design), design, "maximize").set_index(["factor", "level"])
    assert flipped.loc[("recipe", "wgan"), "rank"] == 1 and flipped.loc[("setting", "F"), "rank"] == 1
    assert flipped.loc[("setting", "D"), "rank"] == 3


# The analysis -------------------------------------------------------------------------------------------


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
    found = d.analyse(seeds_of(values, design), design)
    assert found.method == d.OLS and found.residual_df == 54
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
    design = d.design_of([(f"{a}.{b}", (("f", a), ("g", b))) for a in ("a1", "a2") for b in ("b1", "b2")])
    values = {("a1", "b1"): [1.0, 2.0, 3.0], ("a1", "b2"): [5.0, 6.0, 7.0], ("a2", "b1"): [2.0, 3.0, 4.0],
              ("a2", "b2"): [10.0, 11.0, 12.0]}
    table, resid, df = d.fit(d.coded(seeds_of(values, design), design), d.full_terms(2))
    rows = {r["effect"]: r for r in d.effect_rows(table, d.full_terms(2), design)}
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
    found = d.analyse(seeds, design)
    assert found.method == d.ART and found.shapiro_p < 0.05
    assert f"Shapiro-Wilk p = {found.shapiro_p:.2g} < 0.05" in found.reason and "ART" in found.reason
    # each row comes from the ANOVA of the ranks aligned for that effect: recompute the recipe row by hand
    data = d.coded(seeds, design)
    _, resid, _ = d.fit(data, d.full_terms(2))
    cell_mean = data.groupby(["f0", "f1"]).y.transform("mean")
    by_hand = data.y - cell_mean + data.groupby("f0").y.transform("mean") - data.y.mean()
    table, _, _ = d.fit(data.assign(y=stats.rankdata(by_hand)), d.full_terms(2))
    assert found.row("recipe").F == pytest.approx(table.loc["C(f0)", "F"])
    assert found.row("recipe").p < 0.05  # the ranks see the 2-unit shift that the outlier hides from the means
    assert d.analyse(seeds[seeds.value < 50], design).method == d.OLS


def test_art_aligns_out_every_effect_but_its_own() -> None:
    """Wobbrock et al.'s check: an ANOVA of the aligned (unranked) values leaves only the effect aligned for."""
    design = two_by_three()
    data = d.coded(seeds_of(outlier_values(), design), design)
    original, resid, _ = d.fit(data, d.full_terms(2))
    for term in d.full_terms(2):
        table, _, _ = d.fit(data.assign(y=d.aligned(data, term, resid)), d.full_terms(2))
        for other in d.full_terms(2):
            expected = original.loc[d.term_formula(term), "sum_sq"] if other == term else 0.0
            assert table.loc[d.term_formula(other), "sum_sq"] == pytest.approx(expected, abs=1e-9)


def test_one_seed_per_cell_refuses_the_analysis_with_its_numbers() -> None:
    design = two_by_three()
    values = {(r, s): [float(i + j)] for i, r in enumerate(("sngan", "wgan")) for j, s in enumerate(("A", "D", "F"))}
    found = d.analyse(seeds_of(values, design), design)
    assert found.method == d.REFUSED and found.table.empty
    assert found.reason.startswith("6 of 6 cells have fewer than 2 seeds (sngan.A (n = 1), sngan.D (n = 1)")
    assert found.reason.endswith("a full model would rest on 0 residual degrees of freedom")


def test_two_cells_of_one_seed_still_refuse_a_two_factor_analysis() -> None:
    design = two_by_three()
    values = {(r, s): [1.0, 2.0, 4.0] for r in ("sngan", "wgan") for s in ("A", "D", "F")}
    values[("wgan", "D")] = [3.0]
    found = d.analyse(seeds_of(values, design), design)
    assert found.method == d.REFUSED and "1 of 6 cells have fewer than 2 seeds (wgan.D (n = 1))" in found.reason
    assert "rest on 10 residual degrees" in found.reason  # 3 x 5 + 1 values, 6 parameters


def test_an_incomplete_design_and_identical_seeds_are_refused() -> None:
    design = two_by_three()
    values = {(r, s): [1.0, 2.0, 4.0] for r in ("sngan", "wgan") for s in ("A", "D", "F") if (r, s) != ("wgan", "A")}
    found = d.analyse(seeds_of(values, design), design)
    assert found.method == d.REFUSED
    assert found.reason.startswith("the design is incomplete: 1 of 6 cells have no finished seed (wgan.A)")
    flat = {(r, s): [float(len(r) + len(s))] * 3 for r in ("sngan", "wgan") for s in ("A", "D", "F")}
    found = d.analyse(seeds_of(flat, design), design)
    assert found.method == d.REFUSED and "the model fits every value exactly" in found.reason


def three_factors() -> d.Design:
    return d.design_of([(".".join(c), tuple(zip(("f", "g", "h"), c)))
                        for c in itertools.product(("a", "b"), ("x", "y"), ("p", "q"))])


def test_three_factors_fit_the_full_interaction_when_every_cell_has_two_seeds() -> None:
    design = three_factors()
    rng = np.random.default_rng(0)
    values = {combo: rng.normal(size=3).tolist() for combo in design.product()}
    found = d.analyse(seeds_of(values, design), design)
    assert found.formula == "value ~ C(f) + C(g) + C(h) + C(f):C(g) + C(f):C(h) + C(g):C(h) + C(f):C(g):C(h)"
    assert found.residual_df == 24 - 8 and found.row("f × g × h") is not None


def test_three_factors_with_one_seed_per_cell_pool_the_further_interactions() -> None:
    design = three_factors()
    values = {combo: [float(i % 3) + 0.1 * i ** 1.5] for i, combo in enumerate(design.product())}
    found = d.analyse(seeds_of(values, design), design)
    assert found.formula == "value ~ C(f) + C(g) + C(f):C(g) + C(h)"
    assert found.residual_df == 3 and "residual df = 8 − 5 = 3" in found.reason
    assert "interactions are pooled into the error (assumed absent)" in found.reason


def test_unequal_seeds_and_unequal_variances_are_noted() -> None:
    design = two_by_three()
    rng = np.random.default_rng(1)
    values = {(r, s): rng.normal(size=6).tolist() for r in ("sngan", "wgan") for s in ("A", "D", "F")}
    values[("wgan", "F")] = (rng.normal(size=4) * 40).tolist()
    found = d.analyse(seeds_of(values, design), design)
    assert found.notes[0].startswith("unequal seeds per cell (n = 4–6)")
    assert found.levene_p < 0.05 and "Levene p =" in found.notes[1]


def test_levene_is_not_checked_with_two_seeds_in_a_cell() -> None:
    """Two values sit equally far from their median: the test's within-cell spread is 0 and its p collapses
    (it read 3.5e-89 on equal-variance noise before the rule), so it is not run below 3 seeds."""
    design = two_by_three()
    rng = np.random.default_rng(2)
    two = {(r, s): rng.normal(size=2).tolist() for r in ("sngan", "wgan") for s in ("A", "D", "F")}
    assert math.isnan(d.analyse(seeds_of(two, design), design).levene_p)
    three = {(r, s): rng.normal(size=3).tolist() for r in ("sngan", "wgan") for s in ("A", "D", "F")}
    groups = [three[(r, s)] for r in ("sngan", "wgan") for s in ("A", "D", "F")]
    assert d.analyse(seeds_of(three, design), design).levene_p == pytest.approx(stats.levene(*groups).pvalue)


def test_seeds_that_vary_little_around_a_large_value_are_analysed() -> None:
    """The exact-fit refusal compares the residual sum of squares with the values' spread, not their size."""
    design = two_by_three()
    rng = np.random.default_rng(3)
    values = {(r, s): (100.0 + 1e-5 * rng.normal(size=3)).tolist() for r in ("sngan", "wgan") for s in ("A", "D", "F")}
    assert d.analyse(seeds_of(values, design), design).method != d.REFUSED
    same = {(r, s): [100.0, 100.0, 100.0] for r in ("sngan", "wgan") for s in ("A", "D", "F")}
    assert d.analyse(seeds_of(same, design), design).method == d.REFUSED


def test_the_configs_reserved_factor_names_cover_the_tables_own_columns() -> None:
    """A factor named like a column of the cell table (`n`, `mean`, ...) would collide with it: the config
    refuses exactly these names."""
    from harness.config.design import RESERVED_FACTORS

    design = two_by_three()
    cells = d.cell_table(seeds_of({("sngan", "A"): [1.0, 2.0]}, design), design)
    own = set(cells.columns) - set(design.factors)
    assert own | {"seed", "value"} == set(RESERVED_FACTORS)


# Robustness ----------------------------------------------------------------------------------------------


def hand_matrix() -> tuple[d.Design, pd.DataFrame]:
    """Means: sngan 1, 5, 2; wgan 2, 3, 4; vanilla 3, 1, —."""
    design = d.design_of([(f"{r}.{s}", (("recipe", r), ("setting", s))) for r in ("sngan", "wgan", "vanilla")
                          for s in ("A", "D", "F")])
    means = {"sngan": [1, 5, 2], "wgan": [2, 3, 4], "vanilla": [3, 1, None]}
    values = {(r, s): [float(m)] for r, ms in means.items() for s, m in zip(("A", "D", "F"), ms) if m is not None}
    return design, d.cell_table(seeds_of(values, design), design)


def test_robustness_minimize() -> None:
    design, cells = hand_matrix()
    r = d.robustness(cells, design, "minimize")
    assert r.index.tolist() == ["vanilla", "wgan", "sngan"]  # worst cells 3, 4, 5
    assert r.worst.tolist() == [3, 4, 5] and r.worst_in.tolist() == ["A", "F", "D"]
    assert r.range.tolist() == [2, 2, 4] and r.cells.tolist() == [2, 3, 3]
    assert r.loc["sngan", ["rank: A", "rank: D", "rank: F"]].tolist() == [1, 3, 1]
    assert r.loc["vanilla", ["rank: A", "rank: D"]].tolist() == [3, 1] and pd.isna(r.loc["vanilla", "rank: F"])


def test_robustness_maximize() -> None:
    design, cells = hand_matrix()
    r = d.robustness(cells, design, "maximize")
    assert r.index.tolist() == ["wgan", "sngan", "vanilla"]  # worst cells 2, 1, 1 (vanilla's F has no value)
    assert r.worst.tolist() == [2, 1, 1] and r.worst_in.tolist() == ["A", "A", "D"]
    assert r.best.tolist() == [4, 5, 3] and r.range.tolist() == [2, 4, 2]
    assert r.loc["sngan", ["rank: A", "rank: D", "rank: F"]].tolist() == [3, 1, 2]


def test_robustness_over_three_factors_takes_every_other_combination_as_a_column() -> None:
    design = three_factors()
    values = {combo: [float(i)] for i, combo in enumerate(design.product())}
    r = d.robustness(d.cell_table(seeds_of(values, design), design), design, "minimize")
    assert [c for c in r.columns if c.startswith("rank")] == ["rank: x · p", "rank: x · q", "rank: y · p",
                                                              "rank: y · q"]
    assert r.loc["a", ["worst", "best", "cells"]].tolist() == [3, 0, 4] and r.worst_in["a"] == "y · q"


# The calls ------------------------------------------------------------------------------------------------


def effects_and_anova(shift: float, noise: float, spread: float = 0.0) -> tuple[pd.DataFrame, d.Anova, d.Design]:
    """wgan = sngan + shift, cell by cell and seed by seed (the recipe's effect is the shift and nothing else);
    the settings A, D, F add 0, spread and 2 x spread."""
    design = two_by_three()
    rng = np.random.default_rng(11)
    base = {s: rng.normal(size=5) * noise + spread * i for i, s in enumerate(("A", "D", "F"))}
    values = {(r, s): (base[s] + (shift if r == "wgan" else 0.0)).tolist() for r in ("sngan", "wgan")
              for s in ("A", "D", "F")}
    frame = seeds_of(values, design)
    return d.main_effects(frame, design, "minimize"), d.analyse(frame, design), design


def test_a_clear_effect_is_called_and_its_direction_matters() -> None:
    effects, anova, _ = effects_and_anova(shift=3.0, noise=0.5)
    call = d.factor_call(effects, anova, "recipe", "minimize")
    assert (call.outcome, call.best, call.runner_up) == (d.BEST, "sngan", "wgan") and call.test.p < 1e-6
    assert d.factor_call(effects, anova, "recipe", "maximize").best == "wgan"
    assert call.interaction is None


def test_no_call_where_p_is_at_least_alpha_or_the_intervals_overlap_or_nothing_was_tested() -> None:
    effects, anova, _ = effects_and_anova(shift=0.0, noise=1.0)
    assert anova.row("recipe").p >= 0.05 and d.factor_call(effects, anova, "recipe", "minimize").outcome == d.TIED
    effects, anova, _ = effects_and_anova(shift=1.0, noise=0.1, spread=5.0)
    sngan, wgan = (effects.set_index(["factor", "level"]).loc[("recipe", lv)] for lv in ("sngan", "wgan"))
    assert anova.row("recipe").p < 0.05 and sngan.ci_high >= wgan.ci_low  # significant, yet the marginals overlap
    assert d.factor_call(effects, anova, "recipe", "minimize").outcome == d.OVERLAP
    refused = d.Anova(d.REFUSED, "", "no", pd.DataFrame(columns=d.TABLE_COLUMNS))
    assert d.factor_call(effects, refused, "recipe", "minimize").outcome == d.UNTESTED


# Settings --------------------------------------------------------------------------------------------------


def test_what_each_level_sets_is_read_off_the_recipes() -> None:
    design = d.design_of([(f"{r}.{s}", (("recipe", r), ("setting", s))) for r in ("sn", "gp") for s in ("A", "D")])
    lr = {"A": 1e-4, "D": 1e-3}
    recipes = {f"{r}.{s}": {"seed": 0, "train.loss": "bce" if r == "sn" else "wasserstein", "train.lr": lr[s],
                            "train.betas": [0.5, 0.9]} for r in ("sn", "gp") for s in ("A", "D")}
    settings = d.level_settings(recipes, design)
    assert settings[("recipe", "sn")] == {"train.loss": "bce"} and settings[("setting", "D")] == {"train.lr": 1e-3}
    differing = d.differing_settings(recipes)
    assert differing.columns.tolist() == ["train.loss", "train.lr"]
    assert differing.loc["gp.D"].tolist() == ["wasserstein", "0.001"]
