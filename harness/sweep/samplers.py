"""Optuna samplers and pruners by the names the YAML uses."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import optuna

from harness.config import ExperimentConfig, RunConfig
from harness.sweep.studies import search_budget


# The model-based samplers, built with their number of random startup trials.
MODEL_BASED: dict[str, Callable[[int, int], optuna.samplers.BaseSampler]] = {
    "tpe": lambda startup, seed: optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup),
    "gp": lambda startup, seed: optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup),
    "cmaes": lambda startup, seed: optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=startup),
}
STARTUP_FRACTION = 4  # by default a quarter of the budget is random, so the model runs for the rest


def startup_trials(exp: ExperimentConfig) -> int:
    """Random trials before the model takes over; Optuna counts the config's own first trial among them."""
    return exp.sweep.startup_trials or max(1, math.ceil(search_budget(exp) / STARTUP_FRACTION))


def build_sampler(exp: ExperimentConfig, seed: int) -> optuna.samplers.BaseSampler:
    build = MODEL_BASED.get(exp.sweep.sampler)
    if build is not None:
        return build(startup_trials(exp), seed)
    # random, and grid: the grid's points are queued explicitly (exact, race-free), so the sampler
    # is never consulted for them.
    return optuna.samplers.RandomSampler(seed=seed)


def sampler_text(exp: ExperimentConfig, budget: int) -> str:
    """What the sampler really does with a study of `budget` trials, e.g. "tpe (first 2 trials random)"."""
    name = exp.sweep.sampler
    if name == "grid":
        return f"grid (full factorial, {budget} points)"
    if name not in MODEL_BASED:
        return f"{name} (every trial random; the first is the config's own values)"
    startup = startup_trials(exp)
    if startup >= budget:
        return (f"{name} (all {budget} trials random: sweep.startup_trials {startup} is not below the budget, "
                "so the model never runs)")
    first = ("the config's own values first" if startup == 1
             else f"first {startup} trials random, the config's own values among them")
    extra = "; categorical knobs always random" if name == "cmaes" and any(
        spec.choices is not None for spec in exp.sweep.space.values()) else ""
    return f"{name} ({first}, then model-based for {budget - startup} of {budget}{extra})"


def build_pruner(exp: ExperimentConfig, run: RunConfig) -> optuna.pruners.BasePruner:
    """Pruners see the objective reported at every evaluation step (resource = generator steps)."""
    name = exp.sweep.pruner
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=exp.sweep.pruner_startup_trials, n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=run.train.eval_every, max_resource=run.train.steps,
                                              reduction_factor=3)
    return optuna.pruners.NopPruner()


def knob_type(knob: str) -> Any:
    import typing

    from harness.config import TrainConfig

    return typing.get_type_hints(TrainConfig)[knob]


def suggest(trial: optuna.Trial, space: dict[str, Any]) -> dict[str, Any]:
    """Ask the trial for every applicable knob (queued fixed values come back unchanged)."""
    params: dict[str, Any] = {}
    for knob in sorted(space):
        spec = space[knob]
        if spec.choices is not None:
            params[knob] = trial.suggest_categorical(knob, list(spec.choices))
        elif knob_type(knob) is int:
            params[knob] = trial.suggest_int(knob, spec.low, spec.high, step=spec.step or 1, log=spec.log)
        else:
            params[knob] = trial.suggest_float(knob, float(spec.low), float(spec.high), step=spec.step, log=spec.log)
    return params
