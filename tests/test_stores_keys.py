"""Stored names: study names, typed readers of user attributes, and MLflow tag names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.stores import keys


@dataclass
class Owner:
    user_attrs: dict[str, Any] = field(default_factory=dict)


def test_study_names_of_a_variant_say_what_the_confirmation_study_is() -> None:
    assert keys.study_names("digits-ablation", "wgan_gp") == (
        "digits-ablation/wgan_gp", "digits-ablation/wgan_gp/confirmation (same params, different seeds)")


def test_a_store_written_before_the_rename_keeps_its_confirmation_study() -> None:
    legacy, current = "x/wgan_gp/confirm", keys.study_names("x", "wgan_gp")[1]
    assert keys.confirm_study_name("x", "wgan_gp", {"x/wgan_gp", legacy}) == legacy
    assert keys.confirm_study_name("x", "wgan_gp", {"x/wgan_gp"}) == current  # a new store
    assert keys.confirm_study_name("x", "wgan_gp", {legacy, current}) == current


def test_run_names_start_with_the_stage_and_tell_trials_and_seeds_apart() -> None:
    assert keys.run_name(keys.CONFIRM, "wgan_gp", 7, 2) == "confirm s2 · wgan_gp"
    assert keys.run_name(keys.SEARCH, "wgan_gp", 3, 0) == "search t3 · wgan_gp"


def test_typed_readers_tolerate_absent_owners_and_keys() -> None:
    owner = Owner({keys.BUDGET: 4, keys.MLFLOW_PARENT_RUN_ID: "abc", keys.SEED: "7"})
    assert keys.int_attr(owner, keys.BUDGET) == 4 and keys.int_attr(owner, keys.SEED) == 7
    assert keys.text_attr(owner, keys.MLFLOW_PARENT_RUN_ID) == "abc"
    assert keys.int_attr(None, keys.BUDGET) is None and keys.int_attr(owner, keys.SOURCE_TRIAL, 3) == 3
    assert keys.text_attr(Owner(), keys.SKIPPED) is None and keys.text_attr(None, keys.SKIPPED) is None


def test_mlflow_tags_carry_the_prefix_and_string_values() -> None:
    """The stored format is a contract with existing stores (and users' MLflow queries): pin it."""
    assert keys.tag(keys.ROLE) == "harness.role" and keys.tag(keys.CHECKPOINT_STEP) == "harness.checkpoint_step"
    assert keys.tags({keys.SEED: 3, keys.OUTCOME: "complete", keys.TRIAL_NUMBER: 0}) == {
        "harness.seed": "3", "harness.outcome": "complete", "harness.trial_number": "0"}
    assert len(set(keys.REPORTED_TAGS)) == len(keys.REPORTED_TAGS)
