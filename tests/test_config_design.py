"""The design (harness.config.design): factors cross into cells, levels layer over the top level, one value
per key and cell, `design:` leaves cells out, and `--only` keeps levels."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.config.design import level_record
from harness.config.resolve import parse_experiment
from harness.core.errors import ConfigError
from harness.core.schema import ExperimentConfig
from tests.conftest import TINY, deep_merge
from tests.fuzz_support import FUZZ, FUZZER_TIMEOUT_S

MIYATO = {"recipe": {"sngan": {"preset": "sngan", "train": {"loss": "bce"}}, "wgan_gp": {"preset": "wgan_gp"},
                     "vanilla": "vanilla"},
          "setting": {"A": {"train": {"lr": 1.0e-4, "beta1": 0.5, "beta2": 0.9, "n_critic": 5}},
                      "B": {"train": {"lr": 1.0e-4, "beta1": 0.5, "beta2": 0.999, "n_critic": 1}},
                      "D": {"train": {"lr": 1.0e-3, "beta1": 0.5, "beta2": 0.9, "n_critic": 5}}}}


def design(factors: Any, only: tuple[str, ...] = (), **sections: Any) -> ExperimentConfig:
    return parse_experiment(deep_merge({k: v for k, v in TINY.items()}, {"factors": factors, **sections}), only)


def refusal(factors: Any, only: tuple[str, ...] = (), **sections: Any) -> str:
    with pytest.raises(ConfigError) as info:
        design(factors, only, **sections)
    return str(info.value)


def test_cells_are_the_product_in_factor_order_each_named_by_its_levels() -> None:
    exp = design(MIYATO)
    assert [c.name for c in exp.variants] == ["sngan.A", "sngan.B", "sngan.D", "wgan_gp.A", "wgan_gp.B", "wgan_gp.D",
                                              "vanilla.A", "vanilla.B", "vanilla.D"]
    assert exp.variant("wgan_gp.B").levels == (("recipe", "wgan_gp"), ("setting", "B"))
    assert [f.name for f in exp.factors] == ["recipe", "setting"] and list(exp.runs) == [c.name for c in exp.variants]


def test_a_cell_layers_top_level_then_presets_then_its_levels_values() -> None:
    exp = design(MIYATO, train={"lr": 5.0e-5, "batch_size": 32, "n_critic": 2})
    sn_a, vanilla_b, vanilla_d = exp.run("sngan.A"), exp.run("vanilla.B"), exp.run("vanilla.D")
    # the recipe level's own loss beats its preset's hinge; the setting's values beat the top level
    assert (sn_a.train.loss, sn_a.train.constraint, sn_a.train.lr, sn_a.train.beta2) == ("bce", "spectral_norm",
                                                                                        1.0e-4, 0.9)
    # vanilla's preset sets n_critic 1: setting D states 5, and a preset is only a level's default
    assert vanilla_d.train.n_critic == 5 and vanilla_b.train.n_critic == 1
    assert sn_a.train.batch_size == 32  # no level sets it: the top level's value is every cell's default


def test_two_levels_that_state_one_key_apart_are_refused_naming_both() -> None:
    factors = {**MIYATO, "critic": {"five": {"train": {"n_critic": 5}}}}
    assert refusal(factors).startswith("factors: levels setting=B and critic=five both set train.n_critic (1 vs 5) "
                                       "in cell sngan.B.five")
    same = {**MIYATO, "critic": {"five": {"train": {"n_critic": 5}}}}
    exp = design(same, design={"exclude": [{"setting": "B"}]})  # A and D state 5 too: one value, no conflict
    assert exp.run("vanilla.D.five").train.n_critic == 5 and len(exp.variants) == 6


def test_exclude_drops_every_cell_an_entry_matches_and_cells_lists_exactly() -> None:
    exp = design(MIYATO, design={"exclude": [{"recipe": "vanilla"}, {"recipe": "sngan", "setting": "D"}]})
    assert [c.name for c in exp.variants] == ["sngan.A", "sngan.B", "wgan_gp.A", "wgan_gp.B", "wgan_gp.D"]
    listed = design(MIYATO, design={"cells": [{"setting": "D", "recipe": "vanilla"}, {"recipe": "sngan",
                                                                                       "setting": "A"}]})
    assert [c.name for c in listed.variants] == ["sngan.A", "vanilla.D"]  # factor order, not the list's
    assert refusal(MIYATO, design={"cells": [{"recipe": "sngan", "setting": "A"}] * 2}).startswith(
        "design.cells[1]: {'recipe': 'sngan', 'setting': 'A'} is listed twice")


def test_variants_are_the_one_factor_design_named_variant() -> None:
    listed = parse_experiment(deep_merge(TINY, {"variants": ["vanilla", {"preset": "wgan_gp", "name": "gp"}]}))
    spelled = design({"variant": {"vanilla": "vanilla", "gp": "wgan_gp"}})
    assert [c.name for c in listed.variants] == [c.name for c in spelled.variants] == ["vanilla", "gp"]
    assert listed.variant("gp").levels == (("variant", "gp"),)
    assert listed.run("gp") == spelled.run("gp")


def test_a_level_knob_needs_one_reader_among_the_cells_of_that_level() -> None:
    shared = {"recipe": {"vanilla": "vanilla", "gp": "wgan_gp"}, "penalty": {"strong": {"train": {"lambda_gp": 50}}}}
    exp = design(shared)  # vanilla ignores lambda_gp, wgan_gp reads it: the level is live
    assert exp.run("gp.strong").train.lambda_gp == 50
    alone = {"recipe": {"vanilla": "vanilla"}, "penalty": {"strong": {"train": {"lambda_gp": 50}}}}
    assert refusal(alone).startswith("factors.penalty.strong.train.lambda_gp: 50.0 is not read by any cell of "
                                     "penalty=strong (vanilla.strong)")


def test_only_keeps_the_named_levels_and_narrows_the_factors() -> None:
    exp = design(MIYATO, only=("setting=D", "recipe=sngan,vanilla"))
    assert [c.name for c in exp.variants] == ["sngan.D", "vanilla.D"] and list(exp.runs) == ["sngan.D", "vanilla.D"]
    assert [[lv.name for lv in f.levels] for f in exp.factors] == [["sngan", "vanilla"], ["D"]]
    twice = design(MIYATO, only=("setting=A", "setting=D", "recipe=wgan_gp"))
    assert [c.name for c in twice.variants] == ["wgan_gp.A", "wgan_gp.D"]
    excluded = {"exclude": [{"recipe": "vanilla", "setting": "D"}]}
    assert refusal(MIYATO, only=("recipe=vanilla", "setting=D"), design=excluded).startswith(
        "--only: recipe=vanilla setting=D keeps none of the design's cells")


def test_a_narrowed_design_says_which_space_knobs_no_planned_cell_reads() -> None:
    space = {"lambda_gp": {"low": 1.0, "high": 50.0, "log": True}}
    wide = {**MIYATO, "setting": {"A": MIYATO["setting"]["A"]}}
    assert design(wide, sweep={"space": space}).notices == ()
    exp = design(wide, only=("recipe=sngan",), sweep={"space": space})
    assert exp.notices == ("notice: sweep.space.lambda_gp applies to none of the planned cells (sngan.A); it is not "
                           "searched",)


def test_no_search_skips_the_space_and_says_so() -> None:
    """Settings D's lr 1e-3 lies outside the space: with search that is refused (its first trial would leave
    the space), without search the space is unused and a notice says so."""
    space = {"lr": {"low": 1.0e-5, "high": 5.0e-4, "log": True}}
    assert "excludes 0.001, the value variant 'sngan.D'" in refusal(MIYATO, sweep={"space": space})
    exp = design(MIYATO, sweep={"space": space, "trials_per_variant": 0})
    assert exp.notices == ("notice: sweep.space (lr) is not searched: sweep.trials_per_variant is 0, so each cell "
                           "runs its own values",)


@pytest.mark.parametrize("sizes", [(1,), (2,), (3,), (2, 3), (1, 2, 3), (10,), (2, 5)])
def test_the_product_counts_match_the_factor_sizes(sizes: tuple[int, ...]) -> None:
    factors = {f"f{i}": {f"l{j}": None for j in range(size)} for i, size in enumerate(sizes)}
    exp = design(factors)
    assert len(exp.variants) == math.prod(sizes) == len({c.name for c in exp.variants})


NAMES = st.one_of(st.text(min_size=0, max_size=6), st.integers(-3, 300), st.booleans(), st.none())
LEVEL = st.one_of(st.none(), st.sampled_from(["wgan_gp", "vanilla", "nope"]), st.integers(),
                  st.fixed_dictionaries({}, optional={"preset": st.sampled_from(["sngan", "wgan_gp", 3]),
                                                      "train": st.dictionaries(st.sampled_from(
                                                          ["lr", "n_critic", "beta1", "bogus"]),
                                                          st.one_of(st.floats(allow_nan=True), st.integers(-2, 9),
                                                                    st.text(max_size=3)), max_size=2)}))
FACTORS = st.one_of(st.dictionaries(NAMES, st.one_of(st.dictionaries(NAMES, LEVEL, max_size=3), LEVEL), max_size=3),
                    NAMES, st.lists(NAMES, max_size=2))


@FUZZ
@pytest.mark.timeout(FUZZER_TIMEOUT_S)
@given(factors=FACTORS)
def test_any_factors_value_is_a_design_or_one_line_refusal(factors: Any) -> None:
    try:
        exp = design(factors)
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).split(":")[0]
        return
    sizes = [len(levels) for levels in factors.values()]
    assert len(exp.variants) == math.prod(sizes) and set(exp.runs) == {c.name for c in exp.variants}


def test_a_preset_conflict_names_two_levels_that_differ() -> None:
    """Three presets, two alike: the message pairs the first with one that differs, never two equal ones."""
    factors = {"a": {"x": "sngan"}, "b": {"y": "sngan"}, "c": {"z": "vanilla"}}
    assert refusal(factors).startswith("factors: levels a=x and c=z both set preset ('sngan' vs 'vanilla')")
    assert design({"a": {"x": "sngan"}, "b": {"y": "sngan"}}).run("x.y").train.constraint == "spectral_norm"


def test_a_levels_record_is_plain_data_of_what_it_states() -> None:
    exp = design({"recipe": {"gp": "wgan_gp"}, "pen": {"both": {"train": {"constraint": ["gp", "spectral_norm"]}},
                                                       "none": None}})
    levels = {lv.name: lv for f in exp.factors for lv in f.levels}
    assert level_record(levels["gp"]) == {"preset": "wgan_gp"} and level_record(levels["none"]) == {}
    assert level_record(levels["both"]) == {"train": {"constraint": ["gp", "spectral_norm"]}}  # a list, as YAML needs
