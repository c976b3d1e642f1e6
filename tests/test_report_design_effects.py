"""Main effects, robustness and the calls on hand-computed cases, in both directions: marginal means
that pool a level's seeds, the worst and best cell per level, and a call only where the analysis and the
intervals allow it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from harness.report import design as d, design_anova as a, design_effects as e
from tests.test_report_design import T975, seeds_of, three_factors, two_by_three


# Main effects --------------------------------------------------------------------------------------------


def test_main_effects_pool_the_seed_values_of_every_cell_at_a_level() -> None:
    design = two_by_three()
    values = {("sngan", "A"): [1.0, 2.0], ("sngan", "D"): [3.0], ("wgan", "A"): [7.0, 9.0], ("wgan", "F"): [5.0]}
    effects = e.main_effects(seeds_of(values, design), design, "minimize").set_index(["factor", "level"])
    sngan = effects.loc[("recipe", "sngan")]
    assert (sngan.n, sngan.cells, sngan["mean"]) == (3, 2, 2.0)
    assert sngan.ci_high - sngan["mean"] == pytest.approx(T975[2] * 1 / math.sqrt(3))
    assert effects.loc[("setting", "A"), ["n", "mean"]].tolist() == [4, 4.75]
    assert effects.loc[("setting", "D"), "rank"] == 1 and effects.loc[("recipe", "sngan"), "rank"] == 1
    flipped = e.main_effects(seeds_of(values, design), design, "maximize").set_index(["factor", "level"])
    assert flipped.loc[("recipe", "wgan"), "rank"] == 1 and flipped.loc[("setting", "F"), "rank"] == 1
    assert flipped.loc[("setting", "D"), "rank"] == 3


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
    r = e.robustness(cells, design, "minimize")
    assert r.index.tolist() == ["vanilla", "wgan", "sngan"]  # worst cells 3, 4, 5
    assert r.worst.tolist() == [3, 4, 5] and r.worst_in.tolist() == ["A", "F", "D"]
    assert r.range.tolist() == [2, 2, 4] and r.cells.tolist() == [2, 3, 3]
    assert r.loc["sngan", ["rank: A", "rank: D", "rank: F"]].tolist() == [1, 3, 1]
    assert r.loc["vanilla", ["rank: A", "rank: D"]].tolist() == [3, 1] and pd.isna(r.loc["vanilla", "rank: F"])


def test_robustness_maximize() -> None:
    design, cells = hand_matrix()
    r = e.robustness(cells, design, "maximize")
    assert r.index.tolist() == ["wgan", "sngan", "vanilla"]  # worst cells 2, 1, 1 (vanilla's F has no value)
    assert r.worst.tolist() == [2, 1, 1] and r.worst_in.tolist() == ["A", "A", "D"]
    assert r.best.tolist() == [4, 5, 3] and r.range.tolist() == [2, 4, 2]
    assert r.loc["sngan", ["rank: A", "rank: D", "rank: F"]].tolist() == [3, 1, 2]


def test_robustness_over_three_factors_takes_every_other_combination_as_a_column() -> None:
    design = three_factors()
    values = {combo: [float(i)] for i, combo in enumerate(design.product())}
    r = e.robustness(d.cell_table(seeds_of(values, design), design), design, "minimize")
    assert [c for c in r.columns if c.startswith("rank")] == ["rank: x · p", "rank: x · q", "rank: y · p",
                                                              "rank: y · q"]
    assert r.loc["a", ["worst", "best", "cells"]].tolist() == [3, 0, 4] and r.worst_in["a"] == "y · q"


# The calls ------------------------------------------------------------------------------------------------


def effects_and_anova(shift: float, noise: float, spread: float = 0.0) -> tuple[pd.DataFrame, a.Anova, d.Design]:
    """wgan = sngan + shift, cell by cell and seed by seed (the recipe's effect is the shift and nothing else);
    the settings A, D, F add 0, spread and 2 x spread."""
    design = two_by_three()
    rng = np.random.default_rng(11)
    base = {s: rng.normal(size=5) * noise + spread * i for i, s in enumerate(("A", "D", "F"))}
    values = {(r, s): (base[s] + (shift if r == "wgan" else 0.0)).tolist() for r in ("sngan", "wgan")
              for s in ("A", "D", "F")}
    frame = seeds_of(values, design)
    return e.main_effects(frame, design, "minimize"), a.analyse(frame, design), design


def test_a_clear_effect_is_called_and_its_direction_matters() -> None:
    effects, anova, _ = effects_and_anova(shift=3.0, noise=0.5)
    call = e.factor_call(effects, anova, "recipe", "minimize")
    assert (call.outcome, call.best, call.runner_up) == (e.BEST, "sngan", "wgan") and call.test.p < 1e-6
    assert e.factor_call(effects, anova, "recipe", "maximize").best == "wgan"
    assert call.interaction is None


def test_no_call_where_p_is_at_least_alpha_or_the_intervals_overlap_or_nothing_was_tested() -> None:
    effects, anova, _ = effects_and_anova(shift=0.0, noise=1.0)
    assert anova.row("recipe").p >= 0.05 and e.factor_call(effects, anova, "recipe", "minimize").outcome == e.TIED
    effects, anova, _ = effects_and_anova(shift=1.0, noise=0.1, spread=5.0)
    sngan, wgan = (effects.set_index(["factor", "level"]).loc[("recipe", lv)] for lv in ("sngan", "wgan"))
    assert anova.row("recipe").p < 0.05 and sngan.ci_high >= wgan.ci_low  # significant, yet the marginals overlap
    assert e.factor_call(effects, anova, "recipe", "minimize").outcome == e.OVERLAP
    refused = a.Anova(a.REFUSED, "", "no", pd.DataFrame(columns=a.TABLE_COLUMNS))
    assert e.factor_call(effects, refused, "recipe", "minimize").outcome == e.UNTESTED
