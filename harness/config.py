"""The experiment schema, strict loading, and resolution of one variant into a RunConfig.

Precedence for a run: schema defaults < the YAML's sections < the variant's preset < the
variant's own overrides < sweep knobs (trial params). Everything is validated at load time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.constraints import CONSTRAINTS
from harness.data import DATASETS
from harness.data.base import DatasetEntry
from harness.errors import ConfigError, UserError
from harness.losses import LOSSES
from harness.metrics import DEFAULT_OBJECTIVES, METRICS, metrics_for_dataset
from harness.models import ARCHS, CRITIC_NORMS
from harness.presets import PRESETS
from harness.schedules import SCHEDULES
from harness.strict import (apply_overrides, join, load_yaml_text, parse_dataclass, parse_value, rule,
                            to_plain, unknown_key_message)


@dataclass(frozen=True)
class DataConfig:
    name: str = field(default="digits", metadata=rule(choices=DATASETS.names))
    root: str = "data"  # torchvision datasets live under <root>/<MNIST|FashionMNIST>/raw
    download: bool = False
    image_size: int | None = field(default=None, metadata=rule(min=4, max=512))  # None: native size


@dataclass(frozen=True)
class ModelConfig:
    arch: str = field(default="auto", metadata=rule(choices=lambda: ["auto", *ARCHS.names()]))
    z_dim: int = field(default=64, metadata=rule(min=1, max=4096))
    width: int = field(default=64, metadata=rule(min=1, max=4096))  # mlp units / dcgan base channels
    depth: int = field(default=3, metadata=rule(min=1, max=32))  # mlp hidden layers (dcgan: set by image size)
    critic_norm: str = field(default="auto", metadata=rule(choices=("auto", *CRITIC_NORMS)))


@dataclass(frozen=True)
class TrainConfig:
    steps: int = field(default=2000, metadata=rule(min=1))  # generator steps
    batch_size: int = field(default=64, metadata=rule(min=2, max=65536))
    lr: float = field(default=1e-4, metadata=rule(min=0, min_exclusive=True, max=1))
    beta1: float = field(default=0.5, metadata=rule(min=0, max=1, max_exclusive=True))
    beta2: float = field(default=0.9, metadata=rule(min=0, max=1, max_exclusive=True))
    n_critic: int = field(default=5, metadata=rule(min=1, max=100))
    lambda_gp: float = field(default=10.0, metadata=rule(min=0))
    clip_value: float = field(default=0.01, metadata=rule(min=0, min_exclusive=True))
    loss: str = field(default="wasserstein", metadata=rule(choices=LOSSES.names))
    constraint: str = field(default="gp", metadata=rule(choices=CONSTRAINTS.names))
    scheduler: str = field(default="none", metadata=rule(choices=SCHEDULES.names))
    plateau_factor: float = field(default=0.5, metadata=rule(min=0, max=1, min_exclusive=True, max_exclusive=True))
    plateau_patience: int = field(default=2, metadata=rule(min=0))  # in evaluations
    device: str = field(default="auto", metadata=rule(choices=("auto", "cpu", "cuda")))
    log_every: int = field(default=25, metadata=rule(min=1))  # steps per logged window (one host sync)
    eval_every: int = field(default=500, metadata=rule(min=1))
    sample_every: int = field(default=500, metadata=rule(min=1))
    checkpoint_every: int = field(default=0, metadata=rule(min=0))  # steps; 0: by time only (and at the end)
    # A sweep trial also checkpoints at the first logging boundary after this much wall time (0: off),
    # so a killed or preempted trial loses at most this much work; see README "Resuming".
    checkpoint_every_seconds: float = field(default=600.0, metadata=rule(min=0))


@dataclass(frozen=True)
class EvalConfig:
    num_samples: int = field(default=2500, metadata=rule(min=10, max=1_000_000))  # generated samples per evaluation
    seed: int = field(default=1234, metadata=rule(min=0, max=2**63 - 1))  # fixed noise: same generator, same score
    metrics: tuple[str, ...] | None = field(default=None, metadata=rule(choices=METRICS.names))
    cache_dir: str = "runs/cache"  # trained evaluation classifiers


@dataclass(frozen=True)
class KnobSpace:
    """A search range: {low, high, log?, step?} or {choices: [...]}; checked against the knob's type."""

    low: Any = None
    high: Any = None
    log: bool = False
    step: Any = None
    choices: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class SweepConfig:
    # Search trials per variant; null means 10, or the grid's size with sampler grid.
    trials_per_variant: int | None = field(default=None, metadata=rule(min=1))
    sampler: str = field(default="tpe", metadata=rule(choices=("tpe", "random", "grid", "gp", "cmaes")))
    pruner: str = field(default="median", metadata=rule(choices=("median", "hyperband", "none")))
    pruner_startup_trials: int = field(default=3, metadata=rule(min=0))
    seeds: int = field(default=3, metadata=rule(min=0, max=1000))  # confirmation runs per variant
    objective: str | None = field(default=None, metadata=rule(choices=METRICS.names))
    storage: str = "sqlite:///runs/optuna.db"
    space: dict[str, KnobSpace] = field(default_factory=dict)
    heartbeat_seconds: int = field(default=10, metadata=rule(min=1))
    grace_seconds: int = field(default=60, metadata=rule(min=2))
    max_retry: int = field(default=3, metadata=rule(min=0))
    storage_retries: int = field(default=6, metadata=rule(min=1))  # tries of a storage call mid-sweep
    storage_retry_seconds: float = field(default=2.0, metadata=rule(min=0))  # first wait; doubles, max 30 s
    report: bool = True  # write the markdown report when the sweep ends


@dataclass(frozen=True)
class TrackingConfig:
    uri: str = "sqlite:///runs/mlflow.db"
    retries: int = field(default=6, metadata=rule(min=1))  # tries of an MLflow call mid-sweep
    retry_seconds: float = field(default=2.0, metadata=rule(min=0))  # first wait; doubles, max 30 s
    system_metrics: bool = True  # MLflow's CPU/GPU monitor on trial runs, when the [system] extra is installed


@dataclass(frozen=True)
class VariantSpec:
    name: str
    preset: str
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # section -> parsed values


@dataclass(frozen=True)
class RunConfig:
    """Everything one training run needs, fully resolved (no `auto` left)."""

    name: str
    variant: str
    seed: int
    objective: str
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    eval: EvalConfig


@dataclass(frozen=True)
class ExperimentConfig:
    name: str = field(metadata=rule(doc="experiment name; also the MLflow experiment"))
    seed: int = field(default=0, metadata=rule(min=0, max=2**63 - 1))
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    sweep: SweepConfig = field(default_factory=SweepConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    variants: tuple[VariantSpec, ...] = ()

    def variant(self, name: str) -> VariantSpec:
        for spec in self.variants:
            if spec.name == name:
                return spec
        raise ConfigError("--variant", f"{name!r} is not one of: {', '.join(v.name for v in self.variants)}")


DEFAULT_VARIANTS = ("vanilla", "wgan_clip", "wgan_gp", "wgan_gp_sched")
OVERRIDABLE_SECTIONS = {"model": ModelConfig, "train": TrainConfig}


def load_experiment(path: str | Path, overrides: tuple[str, ...] | list[str] = ()) -> ExperimentConfig:
    """Read, override (`key.path=value`), parse and validate an experiment YAML."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read config {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"config {str(path)!r} is not UTF-8 text (byte {exc.start})") from None
    raw = load_yaml_text(text, str(path))
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("", f"{path}: the top level must be a mapping of sections")
    return parse_experiment(apply_overrides(raw, overrides))


def parse_experiment(raw: dict[str, Any]) -> ExperimentConfig:
    raw = dict(raw)
    variants = parse_variants(raw.pop("variants", list(DEFAULT_VARIANTS)))
    exp = dataclasses.replace(parse_dataclass(ExperimentConfig, raw, ""), variants=variants)
    check_no_dead_keys(raw, exp.variants)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", exp.name):
        raise ConfigError("name", f"{exp.name!r} must be letters, digits, '_', '.', '-'")
    for i, spec in enumerate(exp.variants):
        resolve_run(exp, spec.name, path=f"variants[{i}]")
    from harness.sweep.space import validate_sweep  # the sweep's own rules live with the sweep

    validate_sweep(exp)
    return exp


def shadowing(spec: VariantSpec, section: str) -> dict[str, Any]:
    """Values of `section` that the variant's preset or overrides set, hiding the top level's."""
    return {**PRESETS.get(spec.preset).get(section, {}), **spec.overrides.get(section, {})}


def check_no_dead_keys(raw: dict[str, Any], variants: tuple[VariantSpec, ...]) -> None:
    """A top-level value that every variant replaces would be silently ignored: refuse it."""
    for section in OVERRIDABLE_SECTIONS:
        for key, value in (raw.get(section) or {}).items():
            hidden = {spec.name: shadowing(spec, section)[key] for spec in variants if key in shadowing(spec, section)}
            if len(hidden) == len(variants):
                used = ", ".join(f"{name}: {v!r}" for name, v in hidden.items())
                raise ConfigError(f"{section}.{key}", f"{value!r} is replaced in every variant ({used}); set it "
                                                      f"per variant, e.g. variants: [{{preset: ..., {section}: "
                                                      f"{{{key}: {value!r}}}}}]")


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
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ConfigError(join(path, "name"), f"{name!r} must be letters, digits, '_', '.', '-'")
    overrides = {section: parse_partial(cls, {} if item.get(section) is None else item[section], join(path, section))
                 for section, cls in OVERRIDABLE_SECTIONS.items()}
    return VariantSpec(name=name, preset=preset, overrides=overrides)


def parse_partial(cls: type, raw: Any, path: str) -> dict[str, Any]:
    """Validate only the keys present (types and ranges), for overrides of a section."""
    if not isinstance(raw, dict):
        raise ConfigError(path, f"{raw!r} must be a mapping")
    import typing

    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    out = {}
    for key, value in raw.items():
        if key not in fields:
            raise ConfigError(join(path, str(key)), unknown_key_message(str(key), list(fields)))
        out[key] = parse_value(hints[key], value, join(path, key), fields[key].metadata)
    return out


def resolve_run(
    exp: ExperimentConfig,
    variant: str,
    params: dict[str, Any] | None = None,
    seed: int | None = None,
    path: str = "",
) -> RunConfig:
    """The RunConfig of one variant, with optional trial params (train.* keys) and seed."""
    spec = exp.variant(variant)
    preset = PRESETS.get(spec.preset)
    sections: dict[str, Any] = {}
    for section, cls in OVERRIDABLE_SECTIONS.items():
        layered = {**preset.get(section, {}), **spec.overrides.get(section, {})}
        if section == "train" and params:
            layered.update(parse_partial(TrainConfig, params, "params"))
        sections[section] = dataclasses.replace(getattr(exp, section), **layered)
    run = RunConfig(name=exp.name, variant=spec.name, seed=exp.seed if seed is None else seed,
                    objective=exp.sweep.objective or "", data=exp.data, eval=exp.eval, **sections)
    try:
        return finalize_run(run)
    except ConfigError as exc:
        where = f"{path}, variant {spec.name}" if path else f"variant {spec.name}"
        raise ConfigError(exc.path, f"{exc.detail} [{where}]") from None


def finalize_run(run: RunConfig) -> RunConfig:
    """Resolve every `auto`, then check the rules that span sections."""
    entry = DATASETS.get(run.data.name)
    model = resolve_model(run.model, entry.kind, run.data.name, run.train)
    check_image_size(run.data, entry, model)
    objective = run.objective or DEFAULT_OBJECTIVES[entry.kind]
    check_metric_applies(objective, run.data.name, "sweep.objective")
    metrics = run.eval.metrics
    if metrics is None:
        metrics = tuple(metrics_for_dataset(run.data.name))
    for i, metric in enumerate(metrics):
        check_metric_applies(metric, run.data.name, f"eval.metrics[{i}]")
    if objective not in metrics:
        metrics = (*metrics, objective)
    return dataclasses.replace(run, model=model, objective=objective,
                               eval=dataclasses.replace(run.eval, metrics=metrics))


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
    constraint = CONSTRAINTS.get(train.constraint)
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


def check_metric_applies(metric: str, data_name: str, path: str) -> None:
    if data_name not in METRICS.get(metric).datasets:
        allowed = metrics_for_dataset(data_name, include_optional=True)
        raise ConfigError(path, f"{metric!r} is not defined for data.name {data_name!r}; "
                                f"allowed: {', '.join(allowed)}")


def config_hash(run: RunConfig) -> str:
    """A short stable hash of the resolved run config (tags runs; names cache entries)."""
    text = json.dumps(to_plain(run), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
