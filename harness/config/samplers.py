"""Optuna samplers and pruners by the names the YAML uses: two registries, one builder per entry.

They live in `harness.config`, with the resolver, not in the sweep, so that the resolver validates
their names without depending on the sweep (which depends on the resolver).

The builders import Optuna when called, so registering the names costs nothing: the resolver loads
this module to validate `sweep.sampler` and `sweep.pruner` without importing Optuna. A new sampler
is one `SAMPLERS.add(name, SamplerEntry(builder))` with `builder(exp, seed)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from harness.core.registry import Registry
from harness.core.schema import ExperimentConfig, RunConfig

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class SamplerEntry:
    build: Callable[[ExperimentConfig, int], "optuna.samplers.BaseSampler"]  # (exp, seed) -> sampler
    # The budget is the grid's size: its points are queued explicitly (exact, race-free), so the
    # sampler is never consulted for them.
    grid: bool = False
    needs: str | None = None  # a package beyond Optuna that it needs
    model_based: bool = False  # random until `startup_trials(exp)` trials finished, then its model
    categorical_random: bool = False  # samples categorical knobs at random throughout (CMA-ES)
    doc: str = field(default="", compare=False)


@dataclass(frozen=True)
class PrunerEntry:
    build: Callable[[ExperimentConfig, RunConfig], "optuna.pruners.BasePruner"]  # (exp, run) -> pruner
    doc: str = field(default="", compare=False)


def tpe(exp: ExperimentConfig, seed: int) -> "optuna.samplers.BaseSampler":
    import optuna

    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(exp))


def gp(exp: ExperimentConfig, seed: int) -> "optuna.samplers.BaseSampler":
    import optuna

    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup_trials(exp))


def cmaes(exp: ExperimentConfig, seed: int) -> "optuna.samplers.BaseSampler":
    import optuna

    return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=startup_trials(exp))


def random(exp: ExperimentConfig, seed: int) -> "optuna.samplers.BaseSampler":
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


SAMPLERS: Registry[SamplerEntry] = Registry("sampler")
SAMPLERS.add("tpe", SamplerEntry(tpe, model_based=True, doc="tree-structured Parzen estimator"))
SAMPLERS.add("random", SamplerEntry(random, doc="uniform random search"))
SAMPLERS.add("grid", SamplerEntry(random, grid=True, doc="the full factorial of sweep.space, queued"))
SAMPLERS.add("gp", SamplerEntry(gp, model_based=True, doc="Gaussian-process Bayesian optimization"))
SAMPLERS.add("cmaes", SamplerEntry(cmaes, needs="cmaes", model_based=True, categorical_random=True, doc="CMA-ES"))
STARTUP_FRACTION = 4  # by default a quarter of the budget is random, so the model chooses the rest


DEFAULT_TRIALS_PER_VARIANT = 10


def search_budget(exp: ExperimentConfig) -> int:
    """Search trials per variant (the grid's size replaces it under a grid sampler)."""
    trials = exp.sweep.trials_per_variant
    return DEFAULT_TRIALS_PER_VARIANT if trials is None else trials


def startup_trials(exp: ExperimentConfig) -> int:
    """Random trials before the model takes over; Optuna counts the config's own first trial among them."""
    return exp.sweep.startup_trials or max(1, math.ceil(search_budget(exp) / STARTUP_FRACTION))


def sampler_text(exp: ExperimentConfig, budget: int) -> str:
    """What the sampler really does with a study of `budget` trials, e.g. "tpe (first 2 trials random, ...)"."""
    name, entry = exp.sweep.sampler, SAMPLERS.get(exp.sweep.sampler)
    if entry.grid:
        # The points differ by cell (each crosses the knobs that apply to it): the budgets say how many.
        return f"{name} (full factorial of each cell's applicable knobs, the config's own values among them)"
    if not entry.model_based:
        return f"{name} (every trial random; the first is the config's own values)"
    startup = startup_trials(exp)
    if startup >= budget:
        return (f"{name} (all {budget} trials random: sweep.startup_trials {startup} is not below the budget, "
                "so the model never runs)")
    first = ("the config's own values first" if startup == 1
             else f"first {startup} trials random, the config's own values among them")
    extra = "; categorical knobs always random" if entry.categorical_random and any(
        spec.choices is not None for spec in exp.sweep.space.values()) else ""
    return f"{name} ({first}, then model-based for {budget - startup} of {budget}{extra})"


def median(exp: ExperimentConfig, run: RunConfig) -> "optuna.pruners.BasePruner":
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=exp.sweep.pruner_startup_trials, n_warmup_steps=0)


def hyperband(exp: ExperimentConfig, run: RunConfig) -> "optuna.pruners.BasePruner":
    import optuna

    return optuna.pruners.HyperbandPruner(min_resource=run.train.eval_every, max_resource=run.train.steps,
                                          reduction_factor=3)


def no_pruning(exp: ExperimentConfig, run: RunConfig) -> "optuna.pruners.BasePruner":
    import optuna

    return optuna.pruners.NopPruner()


PRUNERS: Registry[PrunerEntry] = Registry("pruner")
PRUNERS.add("median", PrunerEntry(median, doc="stop a trial below the median of earlier ones at the same step"))
PRUNERS.add("hyperband", PrunerEntry(hyperband, doc="Hyperband over generator steps"))
PRUNERS.add("none", PrunerEntry(no_pruning, doc="never prune"))


def build_sampler(exp: ExperimentConfig, seed: int) -> "optuna.samplers.BaseSampler":
    return SAMPLERS.get(exp.sweep.sampler).build(exp, seed)


def build_pruner(exp: ExperimentConfig, run: RunConfig) -> "optuna.pruners.BasePruner":
    """Pruners see the objective reported at every evaluation step (resource = generator steps)."""
    return PRUNERS.get(exp.sweep.pruner).build(exp, run)
