"""Sweep search spaces: validation of `sweep.space`, and where each knob applies.

A knob is a `train.*` key. It applies to a variant only where it means something: a key read by
a constraint or schedule (`uses`) applies only to variants that select that constraint or
schedule, so wgan_clip never gets a lambda_gp and the stored trials show it.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import typing
from typing import TYPE_CHECKING, Any

from harness.constraints import CONSTRAINTS
from harness.errors import ConfigError
from harness.schedules import SCHEDULES
from harness.strict import join, parse_value, unknown_key_message
from harness.urls import STORAGE_SCHEMES, TRACKING_SCHEMES, check_url

if TYPE_CHECKING:
    from harness.config import ExperimentConfig, KnobSpace, RunConfig

# Keys that define a variant or the run's plumbing, never a hyperparameter to search.
NOT_KNOBS = ("loss", "constraint", "device", "log_every", "eval_every", "sample_every", "checkpoint_every")


def knob_names() -> list[str]:
    from harness.config import TrainConfig

    return [f.name for f in dataclasses.fields(TrainConfig) if f.name not in NOT_KNOBS]


def knob_applies(run: "RunConfig", knob: str) -> bool:
    """Whether `train.<knob>` changes anything in this run."""
    if knob == "scheduler":
        return run.train.scheduler != "none"
    for registry, selected in ((CONSTRAINTS, run.train.constraint), (SCHEDULES, run.train.scheduler)):
        owners = [name for name in registry.names() if knob in registry.get(name).uses]
        if owners:
            return knob in registry.get(selected).uses
    return True


def applicable_space(exp: "ExperimentConfig", run: "RunConfig") -> dict[str, "KnobSpace"]:
    return {knob: spec for knob, spec in exp.sweep.space.items() if knob_applies(run, knob)}


def grid_values(spec: "KnobSpace") -> list[Any]:
    """The grid points of one knob: its choices, or low..high by step."""
    if spec.choices is not None:
        return list(spec.choices)
    count = int(round((spec.high - spec.low) / spec.step)) + 1
    values = [spec.low + i * spec.step for i in range(count)]
    return [v for v in values if v <= spec.high + 1e-12]


def grid_points(space: dict[str, "KnobSpace"]) -> list[dict[str, Any]]:
    """Every combination of the knobs' grid values (the full factorial), in a fixed order."""
    names = sorted(space)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid_values(space[n]) for n in names))]


def validate_sweep(exp: "ExperimentConfig") -> None:
    """Rules of the `sweep:` and `tracking:` sections that span keys; raises ConfigError."""
    sweep = exp.sweep
    check_sampler(sweep.sampler, sweep.trials_per_variant)
    check_startup(sweep.sampler, sweep.startup_trials)
    check_url("sweep.storage", sweep.storage, STORAGE_SCHEMES)
    check_url("tracking.uri", exp.tracking.uri, TRACKING_SCHEMES)
    from harness.config import resolve_run

    runs = [resolve_run(exp, spec.name) for spec in exp.variants]
    for knob, spec in sweep.space.items():
        path = join("sweep.space", knob)
        check_knob(knob, spec, path, sweep.sampler)
        if not any(knob_applies(run, knob) for run in runs):
            raise ConfigError(path, f"{knob!r} applies to none of the variants "
                                    f"({', '.join(r.variant for r in runs)})")
        for run in runs:
            if knob_applies(run, knob):
                check_default_in_space(knob, spec, path, run)


def check_default_in_space(knob: str, spec: "KnobSpace", path: str, run: "RunConfig") -> None:
    """Each study's first trial measures the config's own values, so they must lie in the space."""
    value = getattr(run.train, knob)
    if spec.choices is not None:
        if value not in spec.choices:
            raise ConfigError(join(path, "choices"), f"{list(spec.choices)!r} lacks {value!r}, the value variant "
                                                     f"{run.variant!r} uses by default; add it")
    elif not spec.low <= value <= spec.high:
        raise ConfigError(path, f"[{spec.low}, {spec.high}] excludes {value!r}, the value variant "
                                f"{run.variant!r} uses by default; widen the range or change train.{knob}")


MODEL_BASED_SAMPLERS = ("tpe", "gp", "cmaes")  # the ones that take n_startup_trials


def check_startup(sampler: str, startup_trials: int | None) -> None:
    if startup_trials is not None and sampler not in MODEL_BASED_SAMPLERS:
        raise ConfigError("sweep.startup_trials", f"{startup_trials!r} has no effect with sampler {sampler!r}; "
                                                  f"set it only with {', '.join(MODEL_BASED_SAMPLERS)}, or leave it out")


def check_sampler(sampler: str, trials: int | None) -> None:
    if sampler == "grid" and trials is not None:
        raise ConfigError("sweep.trials_per_variant", f"{trials!r}: leave it out with sampler 'grid' "
                                                      "(the grid's size is the budget)")
    if sampler == "cmaes" and importlib.util.find_spec("cmaes") is None:
        raise ConfigError("sweep.sampler", "'cmaes' needs the cmaes package (pip install cmaes); "
                                           "allowed here: tpe, random, grid, gp")


def check_knob(knob: str, spec: "KnobSpace", path: str, sampler: str) -> None:
    from harness.config import TrainConfig

    if knob not in knob_names():
        raise ConfigError(path, unknown_key_message(knob, knob_names()).replace("unknown key", "not a knob"))
    field = next(f for f in dataclasses.fields(TrainConfig) if f.name == knob)
    tp = typing.get_type_hints(TrainConfig)[knob]
    if spec.choices is not None:
        if spec.low is not None or spec.high is not None or spec.step is not None or spec.log:
            raise ConfigError(path, "give either choices or low/high (with log/step), not both")
        if not spec.choices:
            raise ConfigError(join(path, "choices"), "is empty; give at least one value")
        for i, value in enumerate(spec.choices):
            parse_value(tp, value, join(join(path, "choices"), i), field.metadata)
        return
    check_range(knob, spec, path, tp, field.metadata, sampler)


def check_range(knob: str, spec: "KnobSpace", path: str, tp: type, meta: Any, sampler: str) -> None:
    if tp not in (int, float):
        raise ConfigError(path, f"{knob!r} is not numeric; give choices: [...]")
    if spec.low is None or spec.high is None:
        raise ConfigError(path, "needs low and high (or choices)")
    low = parse_value(tp, spec.low, join(path, "low"), meta)
    high = parse_value(tp, spec.high, join(path, "high"), meta)
    if not low < high:
        raise ConfigError(path, f"low {low!r} must be below high {high!r} (the range is empty or inverted)")
    if spec.log and low <= 0:
        raise ConfigError(join(path, "low"), f"{low!r}: a log range needs low > 0")
    if spec.step is not None:
        step = parse_value(tp, spec.step, join(path, "step"))
        if step <= 0 or spec.log:
            raise ConfigError(join(path, "step"), f"{step!r}: a step must be > 0 and cannot be used with log")
    elif sampler == "grid":
        raise ConfigError(path, "sampler 'grid' needs choices, or low/high with a step")
