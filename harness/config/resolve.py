"""The resolver: strict loading, `--set`, plugins, and resolution of one variant into a RunConfig.

The dataclasses live in `harness.core.schema` (re-exported here); this module sits above the
registries and reads them. Precedence for a run: schema defaults < the YAML's sections < the variant's preset < the
variant's own overrides < sweep knobs (trial params). Everything is validated at load time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from harness.recipes import generator_hooks as _generator_hooks  # noqa: F401  (registers ema and its knobs)
from harness.recipes import losses as _losses  # noqa: F401  (registers the losses the schema names)
from harness.recipes import optimizers as _optimizers  # noqa: F401  (registers the optimizers and their knobs)
from harness.config import samplers as _samplers  # noqa: F401  (registers the sampler and pruner names)
from harness.recipes import schedules as _schedules  # noqa: F401  (registers the schedules)
from harness.recipes.constraints import combined
from harness.data import dataset_entry
from harness.data.base import DatasetEntry
from harness.core.errors import ConfigError, UserError
from harness.config.design import OVERRIDABLE_SECTIONS, design_cells, narrow, parse_factors, variants_factor
from harness.config.knob_space import knob_applies, space_key, split_params, sweep_notices, validate_sweep
from harness.core.knobs import owned_by
from harness.metrics import METRICS, default_objective, metrics_for
from harness.models import ARCHS
from harness.config.plugin_loader import load_plugins  # noqa: F401  (re-exported: spawned workers call it)
from harness.recipes.presets import PRESETS, default_presets
from harness.core.schema import (CRITIC_NORMS, DataConfig, EvalConfig, ExperimentConfig, Factor,  # noqa: F401
                                 KnobSpace, ModelConfig, RunConfig, SweepConfig, TrackingConfig, TrainConfig,
                                 VariantSpec)
from harness.core.strict import (apply_overrides, field_specs, join, load_yaml_text, parse_dataclass, parse_value,
                                 printable, replace, rule, to_plain, unknown_key_message)

DEFAULT_VARIANTS = default_presets()  # the presets flagged `default` (the mission's four recipes)
# Names become Optuna study names `<name>/<variant>/confirm` (at most 512 characters) and MLflow's
# experiment name (at most 256): bounded here so a long one is refused before anything is stored.
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
MAX_NAME_CHARS = {"name": 200, "variant": 100}
MAX_CONFIG_BYTES = 1 << 20  # a config is a few KiB; anything larger is a mistake (or /dev/zero)


def load_experiment(path: str | Path, overrides: tuple[str, ...] | list[str] = (),
                    only: tuple[str, ...] | list[str] = ()) -> ExperimentConfig:
    """Read, override (`key.path=value`), parse and validate an experiment YAML; `only` keeps some levels."""
    path = Path(path)
    raw = load_yaml_text(read_config_text(path), str(path))
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("", f"{printable(str(path))}: the top level must be a mapping of sections")
    return parse_experiment(apply_overrides(raw, overrides), only)


def read_config_text(path: Path) -> str:
    """The text of a config file: a regular file of at most MAX_CONFIG_BYTES, in UTF-8; a UserError naming it if not.

    Anything else is refused before it is read: a FIFO without a writer would wait forever, /dev/zero never
    ends, and opening some devices acts on them; a huge file is no config either.
    """
    shown = repr(str(path))
    if "\x00" in str(path):
        raise UserError(f"cannot read config {shown}: the path contains a NUL character")
    try:
        kind = file_kind(os.stat(path).st_mode)
        if kind is None:
            with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
                kind = file_kind(os.fstat(handle.fileno()).st_mode)  # swapped for a FIFO since the stat?
                data = b"" if kind else handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise UserError(f"cannot read config {shown}: {exc.strerror or type(exc).__name__}") from None
    except UnicodeEncodeError:  # a lone surrogate, which only a caller in Python can pass
        raise UserError(f"cannot read config {shown}: the path is not valid Unicode") from None
    if kind is not None:
        raise UserError(f"cannot read config {shown}: it is {kind}, not a regular file")
    if len(data) > MAX_CONFIG_BYTES:
        raise UserError(f"cannot read config {shown}: it holds over {MAX_CONFIG_BYTES} bytes; allowed: at most "
                        f"{MAX_CONFIG_BYTES} (1 MiB)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"config {shown} is not UTF-8 text (byte {exc.start})") from None


def file_kind(mode: int) -> str | None:
    """What a file that is not a regular one is, for a message; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return ("a folder" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket")


def parse_experiment(raw: dict[str, Any], only: tuple[str, ...] | list[str] = ()) -> ExperimentConfig:
    """The experiment: its sections, its design's cells each resolved once (the plan), narrowed by `--only`."""
    raw = dict(raw)
    load_plugins(raw.get("plugins"))
    check_top_keys(raw)
    factors, legacy = parse_factors_or_variants(raw)
    cells = design_cells(factors, raw.pop("design", None))
    exp = dataclasses.replace(parse_dataclass(ExperimentConfig, raw, ""), variants=cells, factors=factors)
    check_name("name", exp.name, MAX_NAME_CHARS["name"])
    paths = {spec.name: f"variants[{i}]" if legacy else f"cell {spec.name}" for i, spec in enumerate(cells)}
    for spec in cells:
        check_name(paths[spec.name] + (".name" if legacy else ""), spec.name, MAX_NAME_CHARS["variant"])
    runs = {spec.name: resolve_run(exp, spec.name, path=paths[spec.name]) for spec in cells}
    check_levels_are_read(factors, cells, runs, legacy)
    validate_sweep(exp, list(runs.values()))
    factors, chosen = narrow(factors, cells, only)
    chosen_runs = {spec.name: runs[spec.name] for spec in chosen}
    return dataclasses.replace(exp, variants=chosen, factors=factors, runs=chosen_runs,
                               notices=tuple(sweep_notices(exp, list(chosen_runs.values()))))


DESIGN_KEYS = ("factors", "design", "variants")


def check_top_keys(raw: dict[str, Any]) -> None:
    allowed = [*field_specs(ExperimentConfig), *DESIGN_KEYS]
    for key in raw:
        if key not in allowed:
            raise ConfigError(join("", str(key)), unknown_key_message(str(key), allowed))
    if "factors" in raw and "variants" in raw:
        raise ConfigError("variants", "cannot be given beside factors: (a variants list is the one-factor design "
                                      "`variant`); allowed: one of the two")


def parse_factors_or_variants(raw: dict[str, Any]) -> tuple[tuple[Factor, ...], bool]:
    """The design's factors, and whether they came from a `variants:` list (its paths name the entries)."""
    if "factors" in raw:
        return parse_factors(raw.pop("factors"), parse_partial), False
    return (variants_factor(parse_variants(raw.pop("variants", list(DEFAULT_VARIANTS)))),), True


def check_levels_are_read(factors: tuple[Factor, ...], cells: tuple[VariantSpec, ...], runs: dict[str, RunConfig],
                          legacy: bool) -> None:
    """A knob a level sets that no cell of that level reads would be silently ignored: refuse it.

    `{preset: wgan_gp, model: {arch: resnet, width: 8}}` (resnet reads ngf and ndf) or `{preset: vanilla,
    train: {lambda_gp: 5}}` is a mistake: the user believes a setting that never reaches the run. A level
    shared by several cells (setting A beside recipes with and without a penalty) needs one reader among
    them. The top-level sections are defaults: a knob there only has to be read by some cell or none
    (the YAML keeps the papers' values while `--only` narrows the comparison).
    """
    for factor in factors:
        for i, level in enumerate(factor.levels):
            readers = [runs[c.name] for c in cells if (factor.name, level.name) in c.levels]
            for section, values in level.overrides.items():
                for key, value in values.items():
                    if not readers or key not in getattr(readers[0], section).knobs:
                        continue
                    if not any(knob_applies(run, space_key(section, key)) for run in readers):
                        where = (f"variants[{i}].{section}.{key}" if legacy
                                 else f"factors.{factor.name}.{level.name}.{section}.{key}")
                        who = (f"variant {level.name!r}" if legacy
                               else f"any cell of {factor.name}={level.name} ({', '.join(r.variant for r in readers)})")
                        raise ConfigError(where, f"{value!r} is not read by {who} ({knob_readers(section, key)})")


def knob_readers(section: str, key: str) -> str:
    """Who reads a knob, for a message: 'read by arch dcgan, mlp'."""
    readers = ", ".join(f"{kind.removeprefix('model.')} {entry}" for kind, entry in owned_by(key))
    return f"it is read by {readers}"


def check_name(path: str, name: str, max_chars: int) -> None:
    """A name the stores can hold: letters, digits, '_', '.', '-', and not too long for them."""
    if len(name) > max_chars:
        raise ConfigError(path, f"{name[:20]!r}... has {len(name)} characters; allowed: at most {max_chars} (it "
                                "names the Optuna studies and the MLflow experiment)")
    if not re.fullmatch(NAME_PATTERN, name):
        raise ConfigError(path, f"{name!r} must be letters, digits, '_', '.', '-'")


def parse_variants(raw: Any) -> tuple[VariantSpec, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError("variants", f"{raw!r} must be a non-empty list of preset names or mappings")
    specs = [parse_variant(item, f"variants[{i}]") for i, item in enumerate(raw)]
    names = [s.name for s in specs]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(f"variants[{i}]", f"{name!r} appears twice; give one a `name:`")
    return tuple(specs)


def parse_variant(item: Any, path: str) -> VariantSpec:
    if isinstance(item, str):
        item = {"preset": item}
    if not isinstance(item, dict):
        raise ConfigError(path, f"{item!r} must be a preset name or a mapping with `preset:`")
    allowed = ["preset", "name", *OVERRIDABLE_SECTIONS]
    for key in item:
        if key not in allowed:
            raise ConfigError(join(path, str(key)), unknown_key_message(str(key), allowed))
    preset = parse_value(str, item.get("preset"), join(path, "preset"), rule(choices=PRESETS.names))
    name = parse_value(str, item.get("name", preset), join(path, "name"))
    check_name(join(path, "name"), name, MAX_NAME_CHARS["variant"])
    overrides = {section: parse_partial(cls, {} if item.get(section) is None else item[section], join(path, section))
                 for section, cls in OVERRIDABLE_SECTIONS.items()}
    return VariantSpec(name=name, preset=preset, overrides=overrides)


def parse_partial(cls: type, raw: Any, path: str) -> dict[str, Any]:
    """Validate only the keys present (types and ranges), for overrides of a section."""
    if not isinstance(raw, dict):
        raise ConfigError(path, f"{raw!r} must be a mapping")
    specs = field_specs(cls)
    out = {}
    for key, value in raw.items():
        if key not in specs:
            raise ConfigError(join(path, str(key)), unknown_key_message(str(key), list(specs)))
        tp, meta = specs[key]
        out[key] = parse_value(tp, value, join(path, key), meta)
    return out


def resolve_run(
    exp: ExperimentConfig,
    variant: str,
    params: dict[str, Any] | None = None,
    seed: int | None = None,
    path: str = "",
) -> RunConfig:
    """The RunConfig of one cell, with optional trial params (space keys: `lr`, `model.ngf`) and seed.

    Callers without params read the plan instead (`exp.run(name)`); this resolves a trial's own params."""
    spec = exp.variant(variant)
    preset = PRESETS.get(spec.preset).sections if spec.preset else {}
    by_section = split_params(params or {})
    sections: dict[str, Any] = {}
    for section, cls in OVERRIDABLE_SECTIONS.items():
        layered = {**preset.get(section, {}), **spec.overrides.get(section, {})}
        layered.update(parse_partial(cls, by_section.get(section, {}), "params"))
        sections[section] = replace(getattr(exp, section), layered)
    run = RunConfig(name=exp.name, variant=spec.name, seed=exp.seed if seed is None else seed,
                    objective=exp.sweep.objective or "", data=exp.data, eval=exp.eval, **sections)
    try:
        return finalize_run(run)
    except ConfigError as exc:
        where = f"{path}, variant {spec.name}" if path.startswith("variants[") else path or f"variant {spec.name}"
        raise ConfigError(exc.path, f"{exc.detail} [{where}]") from None


def finalize_run(run: RunConfig) -> RunConfig:
    """Resolve every `auto`, then check the rules that span sections."""
    entry = dataset_entry(run.data)
    model = resolve_model(run.model, entry.kind, run.data.name, run.train)
    check_image_size(run.data, entry, model)
    objective = run.objective or default_objective(entry.properties)
    check_metric_applies(objective, entry, run.data.name, "sweep.objective")
    metrics = run.eval.metrics
    if metrics is None:
        metrics = tuple(metrics_for(entry.properties))
    for i, metric in enumerate(metrics):
        check_metric_applies(metric, entry, run.data.name, f"eval.metrics[{i}]")
    if objective not in metrics:
        metrics = (*metrics, objective)
    return dataclasses.replace(run, model=model, objective=objective, eval=dataclasses.replace(
        run.eval, metrics=metrics, classifier_min_accuracy=classifier_threshold(run, entry)))


def classifier_threshold(run: RunConfig, entry: DatasetEntry) -> float | None:
    """eval.classifier_min_accuracy, or the dataset's default; None (only) for datasets without labels."""
    if "labels" not in entry.properties:
        if run.eval.classifier_min_accuracy is not None:
            raise ConfigError("eval.classifier_min_accuracy", f"{run.eval.classifier_min_accuracy!r}: data.name "
                              f"{run.data.name!r} has no labels, so no evaluation classifier; allowed: null")
        return None
    if run.eval.classifier_min_accuracy is None:
        return entry.classifier_min_accuracy
    return run.eval.classifier_min_accuracy


def resolve_model(model: ModelConfig, kind: str, data_name: str, train: TrainConfig) -> ModelConfig:
    arch_name = model.arch
    if arch_name == "auto":
        arch_name = next(a for a in ARCHS.names() if ARCHS.get(a).kind == kind)
    arch = ARCHS.get(arch_name)
    if arch.kind != kind:
        fitting = [a for a in ARCHS.names() if ARCHS.get(a).kind == kind]
        raise ConfigError("model.arch", f"{arch_name!r} models {arch.kind} but data.name {data_name!r} is "
                                        f"{kind}; allowed: auto, {', '.join(fitting)}")
    norm = arch.default_critic_norm if model.critic_norm == "auto" else model.critic_norm
    constraint = combined(train.constraints, "train.constraint")
    if norm == "batch" and not constraint.allows_batch_norm:
        raise ConfigError("model.critic_norm", f"'batch' is not allowed with train.constraint "
                          f"{train.constraint!r}: batch norm couples the samples of a batch and breaks the "
                          "per-sample gradient penalty; allowed: none, layer")
    return dataclasses.replace(model, arch=arch_name, critic_norm=norm)


def check_image_size(data: DataConfig, entry: DatasetEntry, model: ModelConfig) -> None:
    if entry.kind == "points":
        if data.image_size is not None:
            raise ConfigError("data.image_size", f"{data.image_size!r}: {data.name!r} is a 2-D toy, not images; "
                                                 "allowed: null")
        return
    shape = entry.sample_shape(data.image_size)
    if not ARCHS.get(model.arch).supports_shape(shape):
        sizes = [s for s in range(4, 129) if ARCHS.get(model.arch).supports_shape((entry.channels, s, s))]
        raise ConfigError("data.image_size", f"{shape[-1]!r} is not supported by {model.arch}; "
                                             f"allowed: {', '.join(map(str, sizes))}")


def check_metric_applies(metric: str, entry: DatasetEntry, data_name: str, path: str) -> None:
    """A metric runs only on datasets with every property it needs (images, labels, points, modes)."""
    missing = METRICS.get(metric).needs - entry.properties
    if missing:
        allowed = metrics_for(entry.properties, include_optional=True)
        raise ConfigError(path, f"{metric!r} needs {' and '.join(sorted(missing))}, which data.name {data_name!r} "
                                f"lacks; allowed: {', '.join(allowed)}")


def config_hash(run: RunConfig) -> str:
    """A short stable hash of the resolved run config (tags runs; names cache entries)."""
    text = json.dumps(to_plain(run), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
