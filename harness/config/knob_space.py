"""Where each knob applies, and the rules of `sweep.space` (the resolver's side of the search).

A knob is a `train.*` key, written bare in `sweep.space` (`lambda_gp`, `lr`), or a `model.*` key,
written with its section (`model.ngf`, `model.z_dim`). A knob that registry entries declare
(`lambda_gp`, `clip_value`, `plateau_factor`, `ngf`, ...) applies to a run only where a selected
loss, constraint, schedule, optimizer or architecture declares it, so wgan_clip never gets a lambda_gp and
a resnet never a dcgan width, and the stored trials show it. Generator hooks (EMA, ...) are
consulted in every run, so their knobs always apply. The report's "does not apply" and the sweep's
suggestions both read `knob_applies`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

from harness.core.errors import ConfigError
from harness.core.knobs import MODEL, TRAIN, owned_by
from harness.core.registry import CATALOG
from harness.core.schema import ExperimentConfig, KnobSpace, ModelConfig, RunConfig, TrainConfig
from harness.config.samplers import SAMPLERS
from harness.core.strict import field_specs, join, parse_value, unknown_key_message
from harness.stores.urls import STORAGE_SCHEMES, TRACKING_SCHEMES, check_url

# Keys that define a variant or the run's plumbing, never a hyperparameter to search.
NOT_KNOBS = ("loss", "constraint", "optimizer", "device", "log_every", "eval_every", "sample_every",
             "checkpoint_every", "model.arch")
# The train.* field each recipe registry's entries are selected by (registry kind -> field).
AXES = {"loss": "loss", "constraint": "constraint", "scheduler": "scheduler", "optimizer": "optimizer"}
SECTIONS: dict[str, type] = {TRAIN: TrainConfig, MODEL: ModelConfig}  # the sections sweep.space searches
GENERATOR_HOOKS = "generator_hook"  # the registry kind whose every entry is consulted in every run


def split_key(knob: str) -> tuple[str, str]:
    """(section, name) of a space key: `model.ngf` -> ("model", "ngf"); a bare name is a train key."""
    section, dot, name = knob.partition(".")
    return (section, name) if dot and section in SECTIONS and section != TRAIN else (TRAIN, knob)


def space_key(section: str, name: str) -> str:
    return name if section == TRAIN else f"{section}.{name}"


def knob_names() -> list[str]:
    """Every key sweep.space accepts: train keys bare, model keys as model.<name>."""
    names = [space_key(section, name) for section, cls in SECTIONS.items() for name in field_specs(cls)]
    return [name for name in names if name not in NOT_KNOBS]


def knob_spec(knob: str) -> tuple[Any, Any]:
    """(type, rule) of a space key."""
    section, name = split_key(knob)
    return field_specs(SECTIONS[section])[name]


def knob_type(knob: str) -> Any:
    """The knob's declared type (int, float, ...)."""
    return knob_spec(knob)[0]


def knob_value(run: RunConfig, knob: str) -> Any:
    """The run's value of a space key."""
    section, name = split_key(knob)
    return getattr(getattr(run, section), name)


def split_params(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Trial params by section: {"train": {...}, "model": {...}} (space keys to section keys)."""
    out: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for key, value in params.items():
        section, name = split_key(key)
        out[section][name] = value
    return out


def as_names(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def every_hook(run: RunConfig) -> tuple[str, ...]:
    return tuple(CATALOG[GENERATOR_HOOKS].names()) if GENERATOR_HOOKS in CATALOG else ()


# Registry kind -> the entries of it that a run uses.
SELECTORS: dict[str, Callable[[RunConfig], tuple[str, ...]]] = {
    **{kind: (lambda run, field=field: as_names(getattr(run.train, field))) for kind, field in AXES.items()},
    "model.arch": lambda run: (run.model.arch,),
    GENERATOR_HOOKS: every_hook,
}


def selected(run: RunConfig, kind: str) -> tuple[str, ...]:
    """The entries of registry `kind` that the run uses (a constraint list gives several)."""
    pick = SELECTORS.get(kind)
    return () if pick is None else pick(run)


def knob_applies(run: RunConfig, knob: str) -> bool:
    """Whether the space key `knob` (train.<knob>, or model.<name>) changes anything in this run."""
    if knob == "scheduler":
        return run.train.scheduler != "none"
    section, name = split_key(knob)
    owners = owned_by(name)
    if not owners:
        return True  # a schema field (lr, n_critic, z_dim, ...): every run reads it
    return any(entry in selected(run, kind) for kind, entry in owners)


def applicable_space(exp: ExperimentConfig, run: RunConfig) -> dict[str, KnobSpace]:
    """The knobs the run's cell searches: none in a design without search."""
    if not searched(exp):
        return {}
    return {knob: spec for knob, spec in exp.sweep.space.items() if knob_applies(run, knob)}


def validate_sweep(exp: ExperimentConfig, runs: list[RunConfig]) -> None:
    """Rules of the `sweep:` and `tracking:` sections that span keys, over the resolved `runs`."""
    sweep = exp.sweep
    check_sampler(sweep.sampler, sweep.trials_per_variant)
    check_startup(sweep.sampler, sweep.startup_trials)
    check_url("sweep.storage", sweep.storage, STORAGE_SCHEMES)
    check_url("tracking.uri", exp.tracking.uri, TRACKING_SCHEMES)
    if sweep.grace_seconds <= sweep.heartbeat_seconds:  # a live worker's trial would be taken as dead
        raise ConfigError("sweep.grace_seconds", f"{sweep.grace_seconds} is not above sweep.heartbeat_seconds "
                                                 f"({sweep.heartbeat_seconds}); allowed: more than the heartbeat interval")
    for knob, spec in sweep.space.items():
        path = join("sweep.space", knob)
        check_knob(knob, spec, path, sweep.sampler)
        for run in runs if searched(exp) else ():
            if knob_applies(run, knob):
                check_default_in_space(knob, spec, path, run)


def searched(exp: ExperimentConfig) -> bool:
    """Whether the cells are searched at all: `sweep.trials_per_variant: 0` runs each cell's own values."""
    return exp.sweep.trials_per_variant != 0


def sweep_notices(exp: ExperimentConfig, runs: list[RunConfig]) -> list[str]:
    """What the space will not do, in one line each: knobs no planned cell reads (a narrowed or partial
    design keeps the file's space whole), or a space that a design without search never searches."""
    if not exp.sweep.space:
        return []
    if not searched(exp):
        return [f"notice: sweep.space ({', '.join(exp.sweep.space)}) is not searched: sweep.trials_per_variant is "
                f"0, so each cell runs its own values"]
    cells = ", ".join(r.variant for r in runs)
    return [f"notice: sweep.space.{knob} applies to none of the planned cells ({cells}); it is not searched"
            for knob in exp.sweep.space if not any(knob_applies(run, knob) for run in runs)]


def check_default_in_space(knob: str, spec: KnobSpace, path: str, run: RunConfig) -> None:
    """Each study's first trial measures the config's own values, so they must lie in the space."""
    value = knob_value(run, knob)
    if spec.choices is not None:
        if value not in spec.choices:
            raise ConfigError(join(path, "choices"), f"{list(spec.choices)!r} lacks {value!r}, the value variant "
                                                     f"{run.variant!r} uses by default; add it")
    elif not spec.low <= value <= spec.high:
        section, name = split_key(knob)
        raise ConfigError(path, f"[{spec.low}, {spec.high}] excludes {value!r}, the value variant "
                                f"{run.variant!r} uses by default; widen the range or change {section}.{name}")


def check_startup(sampler: str, startup_trials: int | None) -> None:
    if startup_trials is not None and not SAMPLERS.get(sampler).model_based:
        allowed = [n for n in SAMPLERS if SAMPLERS.get(n).model_based]
        raise ConfigError("sweep.startup_trials", f"{startup_trials!r} has no effect with sampler {sampler!r}; "
                                                  f"set it only with {', '.join(allowed)}, or leave it out")


def check_sampler(sampler: str, trials: int | None) -> None:
    entry = SAMPLERS.get(sampler)
    if entry.grid and trials:  # 0 is no search: the sampler is never asked
        raise ConfigError("sweep.trials_per_variant", f"{trials!r}: leave it out with sampler {sampler!r} "
                                                      "(the grid's size is the budget)")
    if entry.needs is not None and importlib.util.find_spec(entry.needs) is None:
        usable = [n for n in SAMPLERS if SAMPLERS.get(n).needs is None
                  or importlib.util.find_spec(SAMPLERS.get(n).needs) is not None]
        raise ConfigError("sweep.sampler", f"{sampler!r} needs the {entry.needs} package (pip install "
                                           f"{entry.needs}); allowed here: {', '.join(usable)}")


def check_knob(knob: str, spec: KnobSpace, path: str, sampler: str) -> None:
    if knob not in knob_names():
        raise ConfigError(path, unknown_key_message(knob, knob_names()).replace("unknown key", "not a knob"))
    tp, meta = knob_spec(knob)
    if spec.choices is not None:
        if spec.low is not None or spec.high is not None or spec.step is not None or spec.log:
            raise ConfigError(path, "give either choices or low/high (with log/step), not both")
        if not spec.choices:
            raise ConfigError(join(path, "choices"), "is empty; give at least one value")
        for i, value in enumerate(spec.choices):
            parse_value(tp, value, join(join(path, "choices"), i), meta)
        return
    check_range(knob, spec, path, tp, meta, sampler)


def check_range(knob: str, spec: KnobSpace, path: str, tp: type, meta: Any, sampler: str) -> None:
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
    elif SAMPLERS.get(sampler).grid:
        raise ConfigError(path, f"sampler {sampler!r} needs choices, or low/high with a step")
