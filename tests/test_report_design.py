"""The design and its frames on hand-computed cases: the design as stored, the seed-level frame, cell
intervals at n = 1, 2, 3 and 10, the matrices, and what each level sets. Its builders (`two_by_three`,
`three_factors`, `seeds_of`) serve the tests of the analysis and the effects too."""

from __future__ import annotations

import itertools
import math
from types import SimpleNamespace

import pandas as pd
import pytest

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


def hand_cells() -> tuple[d.Design, pd.DataFrame]:
    """a, b × x, y, z with one seed per cell, means 1 to 5; b.z has no value."""
    design = d.design_of([(f"{r}.{s}", (("recipe", r), ("setting", s))) for r in ("a", "b") for s in ("x", "y", "z")])
    means = {"a.x": 1.0, "a.y": 2.0, "a.z": 3.0, "b.x": 4.0, "b.y": 5.0}  # b.z has no value
    seeds = pd.DataFrame([(c, *c.split("."), 0, m) for c, m in means.items()],
                         columns=["cell", "recipe", "setting", "seed", "value"])
    return design, d.cell_table(seeds, design)


def three_factors() -> d.Design:
    return d.design_of([(".".join(c), tuple(zip(("f", "g", "h"), c)))
                        for c in itertools.product(("a", "b"), ("x", "y"), ("p", "q"))])


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


def test_the_configs_reserved_factor_names_cover_the_tables_own_columns() -> None:
    """A factor named like a column of the cell table (`n`, `mean`, ...) would collide with it: the config
    refuses exactly these names."""
    from harness.config.design import RESERVED_FACTORS

    design = two_by_three()
    cells = d.cell_table(seeds_of({("sngan", "A"): [1.0, 2.0]}, design), design)
    own = set(cells.columns) - set(design.factors)
    assert own | {"seed", "value"} == set(RESERVED_FACTORS)


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


def test_a_sentence_names_six_cells_and_counts_the_rest() -> None:
    combos = [(f"a{i}", "x") for i in range(8)]
    assert d.cells_text(combos[:2]) == "a0.x, a1.x"
    assert d.cells_text(combos) == "a0.x, a1.x, a2.x, a3.x, a4.x, a5.x and 2 more"
    counts = pd.Series([1, 3], index=combos[:2])
    assert d.cells_text(combos[:2], counts) == "a0.x (n = 1), a1.x (n = 3)"
