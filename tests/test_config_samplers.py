"""Sampler and pruner registries: every entry builds an Optuna object from a parsed config; random startup
trials scale with the budget, and the plan says what the sampler really does."""

from __future__ import annotations

import dataclasses
import importlib.util

import optuna
import pytest

from harness.config.resolve import resolve_run
from harness.core.errors import ConfigError
from harness.config.samplers import PRUNERS, SAMPLERS, build_pruner, build_sampler, sampler_text, startup_trials
from tests.conftest import tiny_experiment


@pytest.mark.parametrize("name", SAMPLERS.names())
def test_every_sampler_builds_with_its_seed(name: str) -> None:
    entry = SAMPLERS.get(name)
    if entry.needs and importlib.util.find_spec(entry.needs) is None:
        pytest.skip(f"{name} needs {entry.needs}, which is not installed")
    exp = tiny_experiment()
    exp = dataclasses.replace(exp, sweep=dataclasses.replace(exp.sweep, sampler=name))
    assert isinstance(build_sampler(exp, seed=3), optuna.samplers.BaseSampler)


@pytest.mark.parametrize("name", PRUNERS.names())
def test_every_pruner_builds_for_a_run(name: str) -> None:
    exp = tiny_experiment(sweep={"pruner": name})
    assert isinstance(build_pruner(exp, resolve_run(exp, "wgan_gp")), optuna.pruners.BasePruner)


def test_an_unknown_sampler_is_a_config_error_listing_the_registered_ones() -> None:
    with pytest.raises(ConfigError) as info:
        tiny_experiment(sweep={"sampler": "tpee"})
    assert str(info.value) == f"sweep.sampler: 'tpee' is not one of: {', '.join(SAMPLERS.names())}"


SPACE = {"lambda_gp": {"low": 0.1, "high": 100.0, "log": True}, "n_critic": {"choices": [1, 2, 5]}}


@pytest.mark.parametrize(("trials", "startup"), [(1, 1), (4, 1), (5, 2), (10, 3), (40, 10)])
def test_default_startup_is_a_quarter_of_the_budget(trials: int, startup: int) -> None:
    assert startup_trials(tiny_experiment(sweep={"trials_per_variant": trials})) == startup


@pytest.mark.parametrize("sampler", [n for n in SAMPLERS if SAMPLERS.get(n).model_based])
def test_model_based_samplers_get_the_startup_count(sampler: str) -> None:
    exp = tiny_experiment(sweep={"sampler": sampler, "trials_per_variant": 8, "startup_trials": 3})
    built = build_sampler(exp, seed=0)
    assert built._n_startup_trials == 3  # Optuna's own count: not the 10 its default would be


def test_random_sampler_ignores_nothing_silently() -> None:
    assert isinstance(build_sampler(tiny_experiment(sweep={"sampler": "random"}), 0), optuna.samplers.RandomSampler)
    with pytest.raises(ConfigError, match="sweep.startup_trials: 2 has no effect with sampler 'random'"):
        tiny_experiment(sweep={"sampler": "random", "startup_trials": 2})


def test_the_text_states_the_real_behaviour() -> None:
    assert sampler_text(tiny_experiment(sweep={"trials_per_variant": 4}), 4) == (
        "tpe (the config's own values first, then model-based for 3 of 4)")
    assert sampler_text(tiny_experiment(sweep={"trials_per_variant": 8, "startup_trials": 2}), 8) == (
        "tpe (first 2 trials random, the config's own values among them, then model-based for 6 of 8)")
    assert "model never runs" in sampler_text(tiny_experiment(sweep={"trials_per_variant": 4, "startup_trials": 4}), 4)
    cmaes = tiny_experiment(sweep={"sampler": "cmaes", "trials_per_variant": 8, "space": SPACE}, variants=["wgan_gp"])
    assert sampler_text(cmaes, 8).endswith("categorical knobs always random)")
    assert sampler_text(tiny_experiment(sweep={"sampler": "random"}), 2).startswith("random (every trial random")
