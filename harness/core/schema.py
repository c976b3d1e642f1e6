"""The experiment schema: the config dataclasses and their rules, and nothing else.

It lives in `harness.core`, the bottom of the layers: it imports no registry of entries and no torch,
so reading a config's shape is cheap. Names that live in registries (datasets, losses, metrics, ...)
are checked lazily through `registered(kind)`, and the knobs that registry entries declare
(`lambda_gp`, `clip_value`, ...) are read as keys of `train:` through `TrainConfig.knobs`.
`harness.config.resolve` (the resolver) imports the registries and resolves variants into RunConfigs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from harness.core.errors import ConfigError
from harness.core.knobs import KNOBS, MODEL, TRAIN, knobs_of, reserve
from harness.core.registry import registered
from harness.core.strict import rule

CRITIC_NORMS = ("none", "layer", "batch")
# Maxima of the counts and durations (docs/operations.md, "Limits"): far above any real study, yet finite, so
# that a typo (`steps: 10**30`) is refused at load time instead of running forever or overflowing a timer.
MAX_STEPS = 10**8  # generator steps, and every interval counted in them
MAX_TRIALS = 10_000  # Optuna trials of one variant, and the trial counts that tune its sampler and pruner
MAX_RETRIES = 100  # tries of one store call
DAY_SECONDS = 86_400


def knob_specs(section: str) -> dict[str, tuple[Any, Any, Any]]:
    """The keys of `section` that registry entries declare: {name: (type, rule, default)}."""
    return {k.name: (k.type, k.meta, k.default) for k in knobs_of(section).values()}


def knob_defaults(section: str) -> dict[str, Any]:
    return {k.name: k.default for k in knobs_of(section).values()}


class KnobAttributes:
    """`cfg.<knob>` reads a declared knob of the section's inline `knobs` field like a field."""

    knobs: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        # Only reached when `name` is not a field: look it up among the knobs.
        if name.startswith("__") or name == "knobs":
            raise AttributeError(name)
        if name in self.knobs:
            return self.knobs[name]
        if name in KNOBS:  # declared after this config was parsed (a plugin loaded late)
            return KNOBS[name].default
        raise AttributeError(f"{type(self).__name__} has no field or knob {name!r}")


@dataclass(frozen=True)
class DataConfig:
    name: str = field(default="digits", metadata=rule(choices=registered("dataset")))
    root: str = "data"  # torchvision datasets live under <root>/<MNIST|FashionMNIST>/raw; folder: the images
    download: bool = False
    image_size: int | None = field(default=None, metadata=rule(min=4, max=512))  # None: native size
    channels: int | None = field(default=None, metadata=rule(choices=(1, 3)))  # None: the dataset's own (folder: 3)


@dataclass(frozen=True)
class ModelConfig(KnobAttributes):
    arch: str = field(default="auto", metadata=rule(choices=lambda: ["auto", *registered("model.arch")()]))
    z_dim: int = field(default=64, metadata=rule(min=1, max=4096))
    critic_norm: str = field(default="auto", metadata=rule(choices=("auto", *CRITIC_NORMS)))
    # The knobs the architectures declare (width, depth, ngf, ndf, ...): written as plain `model.<knob>`
    # keys, read as `model.<knob>` attributes; each applies to the architectures that declare it.
    knobs: dict[str, Any] = field(default_factory=lambda: knob_defaults(MODEL),
                                  metadata=rule(inline=lambda: knob_specs(MODEL)))


@dataclass(frozen=True)
class TrainConfig(KnobAttributes):
    steps: int = field(default=2000, metadata=rule(min=1, max=MAX_STEPS))  # generator steps
    batch_size: int = field(default=64, metadata=rule(min=2, max=65536))
    lr: float = field(default=1e-4, metadata=rule(min=0, min_exclusive=True, max=1))
    # Adam's betas and RMSProp's decay are the optimizers' knobs (train.beta1, train.rmsprop_alpha, ...).
    optimizer: str = field(default="adam", metadata=rule(choices=registered("optimizer")))
    n_critic: int = field(default=5, metadata=rule(min=1, max=100))
    loss: str = field(default="wasserstein", metadata=rule(choices=registered("loss")))
    # One constraint, or a list that combines them (e.g. [spectral_norm, r1]).
    constraint: str | tuple[str, ...] = field(default="gp", metadata=rule(choices=registered("constraint")))
    scheduler: str = field(default="none", metadata=rule(choices=registered("scheduler")))
    device: str = field(default="auto", metadata=rule(choices=("auto", "cpu", "cuda")))
    log_every: int = field(default=25, metadata=rule(min=1, max=MAX_STEPS))  # steps per logged window (one host sync)
    eval_every: int = field(default=500, metadata=rule(min=1, max=MAX_STEPS))
    sample_every: int = field(default=500, metadata=rule(min=1, max=MAX_STEPS))
    # Steps; 0: by time only (and at the end).
    checkpoint_every: int = field(default=0, metadata=rule(min=0, max=MAX_STEPS))
    # A sweep trial also checkpoints at the first logging boundary after this much wall time (0: off),
    # so a killed or preempted trial loses at most this much work; see docs/operations.md, "Resuming".
    checkpoint_every_seconds: float = field(default=600.0, metadata=rule(min=0, max=DAY_SECONDS))
    # The knobs the registered entries declare (lambda_gp, clip_value, plateau_factor, ...): written
    # as plain `train.<knob>` keys, read as `train.<knob>` attributes.
    knobs: dict[str, Any] = field(default_factory=lambda: knob_defaults(TRAIN),
                                  metadata=rule(inline=lambda: knob_specs(TRAIN)))

    @property
    def constraints(self) -> tuple[str, ...]:
        """The selected constraints as a tuple, whether one was named or a list."""
        return (self.constraint,) if isinstance(self.constraint, str) else tuple(self.constraint)


reserve([f.name for f in fields(TrainConfig)], TRAIN)  # no knob may shadow a field (nor the knobs field itself)
reserve([f.name for f in fields(ModelConfig)], MODEL)


@dataclass(frozen=True)
class EvalConfig:
    num_samples: int = field(default=2500, metadata=rule(min=10, max=1_000_000))  # generated samples per evaluation
    seed: int = field(default=1234, metadata=rule(min=0, max=2**63 - 1))  # fixed noise: same generator, same score
    metrics: tuple[str, ...] | None = field(default=None, metadata=rule(choices=registered("metric")))
    cache_dir: str = "runs/cache"  # trained evaluation classifiers
    # Held-out accuracy below which the classifier's metrics refuse to run; None: the dataset's default.
    classifier_min_accuracy: float | None = field(default=None, metadata=rule(min=0, max=1))
    # The real split the Inception metrics (fid, kid_inception, precision, recall) compare against, all
    # of its images: train, as the papers' CIFAR-10 numbers are, or the held-out test split.
    inception_split: str = field(default="train", metadata=rule(choices=("train", "test")))


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
    # Search trials per cell; null means 10, or the grid's size with sampler grid; 0 runs no search (each
    # cell's confirmation seeds train its own values).
    trials_per_variant: int | None = field(default=None, metadata=rule(min=0, max=MAX_TRIALS))
    sampler: str = field(default="tpe", metadata=rule(choices=registered("sampler")))
    # Trials sampled at random before a model-based sampler (tpe, gp, cmaes) takes over, the config's own
    # first trial included; null scales with the budget (a quarter of it, at least 1).
    startup_trials: int | None = field(default=None, metadata=rule(min=1, max=MAX_TRIALS))
    pruner: str = field(default="median", metadata=rule(choices=registered("pruner")))
    pruner_startup_trials: int = field(default=3, metadata=rule(min=0, max=MAX_TRIALS))
    seeds: int = field(default=3, metadata=rule(min=1, max=1000))  # confirmation runs per cell
    # Trial processes on this machine (--workers wins); each uses cores / workers torch threads. On a
    # small CPU, one single-threaded process per core trains small models faster than one process.
    workers: int = field(default=1, metadata=rule(min=1, max=256))
    objective: str | None = field(default=None, metadata=rule(choices=registered("metric")))
    storage: str = "sqlite:///runs/optuna.db"
    space: dict[str, KnobSpace] = field(default_factory=dict)
    heartbeat_seconds: int = field(default=10, metadata=rule(min=1, max=3600))
    grace_seconds: int = field(default=60, metadata=rule(min=2, max=DAY_SECONDS))
    max_retry: int = field(default=3, metadata=rule(min=0, max=MAX_RETRIES))
    report: bool = True  # write the markdown report when the sweep ends
    storage_retries: int = field(default=6, metadata=rule(min=1, max=MAX_RETRIES))  # tries of a storage call mid-sweep
    storage_retry_seconds: float = field(default=2.0, metadata=rule(min=0, max=30))  # first wait; doubles, max 30 s
    # A PostgreSQL storage that accepts TCP and never answers fails after this long instead of hanging
    # (libpq waits forever by default and reads 1 as 2).
    connect_timeout_seconds: int = field(default=10, metadata=rule(min=2, max=600))


@dataclass(frozen=True)
class TrackingConfig:
    uri: str = "sqlite:///runs/mlflow.db"
    retries: int = field(default=6, metadata=rule(min=1, max=MAX_RETRIES))  # tries of an MLflow call mid-sweep
    retry_seconds: float = field(default=2.0, metadata=rule(min=0, max=30))  # first wait; doubles, max 30 s
    # The start-up check of the tracking store: the server's HTTP answer, or a PostgreSQL connection.
    connect_timeout_seconds: int = field(default=10, metadata=rule(min=2, max=600))
    system_metrics: bool = True  # MLflow's CPU/GPU monitor on trial runs, when the [system] extra is installed


@dataclass(frozen=True)
class Level:
    """One level of a factor: what it sets, of the same shape as a variant entry (a preset's values are its
    defaults; `overrides` are the values it states itself)."""

    name: str
    preset: str | None = None
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # section -> parsed values


@dataclass(frozen=True)
class Factor:
    name: str
    levels: tuple[Level, ...]


@dataclass(frozen=True)
class VariantSpec:
    """One cell of the design (a variant: the one-factor design's cell), its levels merged."""

    name: str
    preset: str | None
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # section -> parsed values
    levels: tuple[tuple[str, str], ...] = ()  # (factor, level) in factor order


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
    # Modules imported before the rest is validated, so their entries and knobs count as built-ins.
    plugins: tuple[str, ...] = ()
    # The design, parsed by harness.config.design from `factors:`/`design:` or `variants:` (the one factor
    # `variant`), and the plan: each cell's RunConfig, resolved once by harness.config.resolve.
    variants: tuple[VariantSpec, ...] = field(default=(), metadata={"internal": True})  # the cells, in factor order
    factors: tuple[Factor, ...] = field(default=(), metadata={"internal": True})
    runs: dict[str, RunConfig] = field(default_factory=dict, compare=False, repr=False, metadata={"internal": True})
    notices: tuple[str, ...] = field(default=(), compare=False, repr=False, metadata={"internal": True})

    def variant(self, name: str) -> VariantSpec:
        for spec in self.variants:
            if spec.name == name:
                return spec
        raise ConfigError("--variant", f"{name!r} is not one of: {', '.join(v.name for v in self.variants)}")

    def run(self, name: str) -> RunConfig:
        """A cell's resolved RunConfig (the plan), with the config's own values and seed."""
        if name not in self.runs:
            self.variant(name)  # an unknown name is a one-line error naming the cells
            raise KeyError(f"{name!r} has no resolved run (the ExperimentConfig was not made by the resolver)")
        return self.runs[name]
