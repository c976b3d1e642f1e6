"""The metric registry: every evaluation number is one `@register_metric` function.

A metric maps an `EvalContext` (generated samples plus lazily shared work) to one float that
means the same thing for every variant, so it can rank recipes and serve as the sweep objective.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Union

from torch import Tensor

from harness.core.registry import Registry

if TYPE_CHECKING:
    import torch

    from harness.core.schema import DataConfig, RunConfig
    from harness.data import Dataset

DIRECTIONS = ("minimize", "maximize")


@dataclass
class EvalContext:
    """What a metric sees at one evaluation.

    `fake` holds `eval.num_samples` generated samples on the device (fixed noise, so two
    evaluations of the same generator see the same samples). `run_cache` lives for the whole
    run (reference statistics, a loaded classifier); `cache` for this evaluation only (features
    shared by several metrics). `info` collects facts about the yardstick itself (e.g. the
    evaluation classifier's test accuracy) that the Evaluator exposes as `Evaluator.info`.
    """

    cfg: "RunConfig"
    dataset: "Dataset"
    device: "torch.device"
    fake: Tensor
    run_cache: dict[str, Any]
    cache: dict[str, Any] = field(default_factory=dict)
    info: dict[str, float] = field(default_factory=dict)

    def shared(self, key: str, compute: Callable[[], Any], per_run: bool = False) -> Any:
        """Compute `key` once per evaluation (or once per run) and share it between metrics."""
        store = self.run_cache if per_run else self.cache
        if key not in store:
            store[key] = compute()
        return store[key]


# A prepare hook may return facts for `Evaluator.info` (e.g. {"classifier_test_accuracy": 0.98}).
PrepareHook = Callable[["RunConfig", "Dataset", "torch.device"], "dict[str, float] | None"]
# How a metric's value is computed, in words a paper's table can quote: N, reference split, detector.
ProtocolFn = Callable[["RunConfig", "Dataset"], str]
# One side of the range a metric's value can take: a number, None (unbounded), or, where it depends on
# the data (class_coverage is at most the number of classes), a function of the data settings that
# returns the number or None. It must be cheap: the report calls it without training.
Bound = Union[float, Callable[["DataConfig"], "float | None"], None]


@dataclass(frozen=True)
class Metric:
    """A registered metric; `doc` is its function's docstring (what it measures, its direction)."""

    name: str
    direction: str  # "minimize" or "maximize"
    # Dataset properties it needs (DatasetEntry.properties): "points" or "images", "labels", "modes".
    needs: frozenset[str]
    compute: Callable[[EvalContext], float]
    default: bool = True  # computed when eval.metrics is null (optional extras say False)
    doc: str = ""
    # Once-per-run setup that may be slow (training or loading a classifier); the sweep calls it
    # in the parent process before workers start so that they find a warm cache.
    prepare: PrepareHook | None = None
    # Recorded with every run (MLflow param eval_info.protocol.<name>) and printed by the report.
    protocol: ProtocolFn | None = None
    # (lower, upper): what the value can be. The report clips every interval to it, and the MLflow
    # parent runs' summary/<metric>_ci_* values come from the same numbers (docs/validity.md).
    bounds: tuple[Bound, Bound] = (None, None)

    def applies_to(self, properties: frozenset[str]) -> bool:
        return self.needs <= properties

    def value_range(self, data: "DataConfig | None") -> tuple[float, float]:
        """(lower, upper) for runs on `data`; -inf/inf where unbounded, or where a data-dependent side
        cannot be told (no data settings, or settings that cannot be described here)."""
        return side(self.bounds[0], data, -math.inf), side(self.bounds[1], data, math.inf)


def side(bound: Bound, data: "DataConfig | None", unbounded: float) -> float:
    if bound is None:
        return unbounded
    if not callable(bound):
        return float(bound)
    if data is None:
        return unbounded
    try:
        value = bound(data)
    except Exception:  # noqa: BLE001 - e.g. a folder dataset whose root is not here: the side stays open
        return unbounded
    return unbounded if value is None else float(value)


METRICS: Registry[Metric] = Registry("metric")

# The objective a config gets when sweep.objective is null: the first of these that applies to
# the dataset (labelled images, then any images, then points); chosen explicitly, never a blend.
DEFAULT_OBJECTIVES = ("fd_classifier", "swd", "w1")


def register_metric(
    name: str,
    *,
    direction: str,
    needs: tuple[str, ...],
    default: bool = True,
    prepare: PrepareHook | None = None,
    protocol: ProtocolFn | None = None,
    bounds: tuple[Bound, Bound] = (None, None),
) -> Callable[[Callable[[EvalContext], float]], Callable[[EvalContext], float]]:
    """Register `fn(ctx) -> float` under `name`; its docstring is the metric's documentation.

    `needs` names the dataset properties it reads ("images", "labels", "points", "modes"); `default`
    False makes it an extra that runs only when `eval.metrics` names it; `prepare(cfg, dataset, device)`
    does slow once-per-run setup and may return facts for `Evaluator.info`; `protocol(cfg, dataset)`
    says in words how the value is computed (N, reference split, detector), recorded with every run;
    `bounds=(lower, upper)` the range its value can take (None: unbounded; a function of the
    `DataConfig` where it depends on the data), to which the report clips every interval.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    low, high = bounds
    if not callable(low) and not callable(high) and low is not None and high is not None and not low < high:
        raise ValueError(f"bounds of metric {name!r} must have lower < upper, got {bounds!r}")

    def decorate(fn: Callable[[EvalContext], float]) -> Callable[[EvalContext], float]:
        doc = inspect.getdoc(fn)
        if not doc:  # the docstring is the metric's documentation: what it measures, its direction
            raise ValueError(f"metric {name!r} needs a docstring saying what it measures")
        METRICS.add(name, Metric(name, direction, frozenset(needs), fn, default, doc, prepare, protocol, bounds))
        return fn

    return decorate


def metrics_for(properties: frozenset[str], include_optional: bool = False) -> list[str]:
    """Names of the metrics that apply to a dataset with `properties`, in registration order."""
    return [m for m in METRICS.names()
            if METRICS.get(m).applies_to(properties) and (include_optional or METRICS.get(m).default)]


def default_objective(properties: frozenset[str]) -> str:
    """The objective of a dataset with `properties` when sweep.objective is null."""
    return next(m for m in DEFAULT_OBJECTIVES if METRICS.get(m).applies_to(properties))
