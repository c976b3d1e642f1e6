"""A run's settings as the stores hold them: what applies, what decides results, what a sweep queued."""

from __future__ import annotations

import json

from harness.config.resolve import resolve_run
from harness.config.recipe import (DESCRIBED_SWEEP_KEYS, LATER_KEYS, applicable_settings, read_recipe, recipe,
                                   recipe_text, sweep_settings)
from tests.conftest import tiny_experiment


def test_only_the_knobs_that_apply_to_a_variant_are_its_settings() -> None:
    exp = tiny_experiment(variants=["wgan_clip", "wgan_gp"])
    clip, gp = applicable_settings(resolve_run(exp, "wgan_clip")), applicable_settings(resolve_run(exp, "wgan_gp"))
    assert "train.clip_value" in clip and "train.lambda_gp" not in clip
    assert "train.lambda_gp" in gp and "train.clip_value" not in gp
    assert gp["train.device"] == "cpu" and "train.device" not in recipe(resolve_run(exp, "wgan_gp"))  # plumbing


def test_the_sweep_settings_are_what_decides_the_queue_and_nothing_else() -> None:
    exp = tiny_experiment(sweep={"seeds": 4, "workers": 3, "space": {"n_critic": {"choices": [1, 5]}}})
    settings = sweep_settings(exp)
    assert tuple(settings) == DESCRIBED_SWEEP_KEYS and settings["seeds"] == 4 and settings["trials_per_variant"] == 2
    assert settings["space"] == {"n_critic": {"low": None, "high": None, "log": False, "step": None,
                                              "choices": [1, 5]}}
    assert "workers" not in settings and "storage" not in settings  # how it ran, not what


def test_a_stored_recipe_reads_back_with_the_keys_added_since_at_the_value_it_ran_with() -> None:
    run = resolve_run(tiny_experiment(), "wgan_gp")
    assert read_recipe(recipe_text(run)) == json.loads(json.dumps(recipe(run)))
    old = {key: value for key, value in recipe(run).items() if key not in LATER_KEYS}
    assert read_recipe(json.dumps(old)) == read_recipe(recipe_text(run))  # an old store reads as what ran
    rmsprop = resolve_run(tiny_experiment(train={"optimizer": "rmsprop"}), "wgan_gp")
    assert read_recipe(recipe_text(rmsprop))["train.optimizer"] == "rmsprop"  # a stored value wins
    assert read_recipe(None) is None  # a study that recorded no recipe
