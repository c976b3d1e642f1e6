"""Optuna samplers and pruners by the names the YAML uses."""

from __future__ import annotations

from typing import Any

import optuna

from harness.config import ExperimentConfig, RunConfig
from harness.knob_space import knob_type


def build_sampler(exp: ExperimentConfig, seed: int) -> optuna.samplers.BaseSampler:
    name = exp.sweep.sampler
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed)
    # random, and grid: the grid's points are queued explicitly (exact, race-free), so the sampler
    # is never consulted for them.
    return optuna.samplers.RandomSampler(seed=seed)


def build_pruner(exp: ExperimentConfig, run: RunConfig) -> optuna.pruners.BasePruner:
    """Pruners see the objective reported at every evaluation step (resource = generator steps)."""
    name = exp.sweep.pruner
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=exp.sweep.pruner_startup_trials, n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=run.train.eval_every, max_resource=run.train.steps,
                                              reduction_factor=3)
    return optuna.pruners.NopPruner()


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
