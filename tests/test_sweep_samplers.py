"""Sampler and pruner registries: every entry builds an Optuna object from a parsed config."""

from __future__ import annotations

import dataclasses
import importlib.util

import optuna
import pytest

from harness.config import resolve_run
from harness.errors import ConfigError
from harness.sweep.samplers import PRUNERS, SAMPLERS, build_pruner, build_sampler
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
