"""The metric registry's contract: names, directions, datasets, docstrings, shared work."""

from __future__ import annotations

import math

import pytest
import torch

from harness.core.schema import DataConfig

from harness.config.resolve import parse_experiment, resolve_run
from harness.data import dataset_entry
from harness.metrics import DEFAULT_OBJECTIVES, METRICS, EvalContext, default_objective, metrics_for, register_metric

LABELLED_IMAGES, IMAGES, MODE_POINTS = {"images", "labels"}, {"images"}, {"points", "modes"}
EXPECTED = {  # name: (direction, dataset properties it needs, default)
    "modes": ("maximize", MODE_POINTS, True),
    "hq_fraction": ("maximize", MODE_POINTS, True),
    "reverse_kl": ("minimize", MODE_POINTS, True),
    "w1": ("minimize", {"points"}, True),
    "fd_classifier": ("minimize", LABELLED_IMAGES, True),
    "kid": ("minimize", LABELLED_IMAGES, True),
    "class_coverage": ("maximize", LABELLED_IMAGES, True),
    "class_kl": ("minimize", LABELLED_IMAGES, True),
    "swd": ("minimize", IMAGES, True),
    "fid": ("minimize", IMAGES, False),
    "is": ("maximize", IMAGES, False),
    "kid_inception": ("minimize", IMAGES, False),
    "precision": ("maximize", IMAGES, False),
    "recall": ("maximize", IMAGES, False),
}


def test_the_designed_metrics_declare_their_direction_and_needs() -> None:
    for name, (direction, needs, default) in EXPECTED.items():
        metric = METRICS.get(name)
        assert (metric.direction, set(metric.needs), metric.default) == (direction, needs, default)


def test_every_docstring_states_its_direction() -> None:
    for name in METRICS.names():
        metric = METRICS.get(name)
        assert f"({metric.direction}" in metric.doc, name


@pytest.mark.parametrize("properties, objective", [
    ({"images", "labels"}, "fd_classifier"), ({"images"}, "swd"), ({"points", "modes"}, "w1"), ({"points"}, "w1")])
def test_the_default_objective_follows_the_dataset_properties(properties: set[str], objective: str) -> None:
    assert default_objective(frozenset(properties)) == objective
    assert objective in metrics_for(frozenset(properties))


def test_every_default_objective_is_a_metric_and_unlabelled_images_get_a_label_free_one() -> None:
    assert all(name in METRICS for name in DEFAULT_OBJECTIVES)
    assert "labels" not in METRICS.get(default_objective(frozenset({"images"}))).needs


def test_metrics_for_lists_only_metrics_whose_needs_are_met() -> None:
    unlabelled = metrics_for(frozenset({"images"}), include_optional=True)
    assert "swd" in unlabelled and "fid" in unlabelled and "fd_classifier" not in unlabelled
    assert "fid" not in metrics_for(frozenset({"images"}))
    assert set(metrics_for(frozenset({"points"}))) == {"w1"}


@pytest.mark.parametrize("dataset", ["ring8", "grid25", "swissroll", "digits", "mnist", "fashion_mnist", "cifar10"])
def test_configs_resolve_their_default_metrics(dataset: str) -> None:
    run = resolve_run(parse_experiment({"name": "t", "data": {"name": dataset}, "sweep": {"trials_per_variant": 1}}),
                      "wgan_gp")
    properties = dataset_entry(run.data).properties
    assert run.eval.metrics == tuple(metrics_for(properties))
    assert run.objective == default_objective(properties)


BOUNDS = {  # name: (lower, upper) on ring8, and on digits (10 classes)
    "modes": ((0.0, 8.0), (0.0, math.inf)), "hq_fraction": ((0.0, 1.0),) * 2,
    "reverse_kl": ((0.0, math.log(8)), (0.0, math.inf)), "w1": ((0.0, math.inf),) * 2,
    "fd_classifier": ((0.0, math.inf),) * 2, "kid": ((-math.inf, math.inf),) * 2,
    "class_coverage": ((0.0, math.inf), (0.0, 10.0)), "class_kl": ((0.0, math.inf),) * 2,
    "swd": ((0.0, math.inf),) * 2, "fid": ((0.0, math.inf),) * 2, "is": ((1.0, 1008.0),) * 2,
    "kid_inception": ((-math.inf, math.inf),) * 2, "precision": ((0.0, 1.0),) * 2, "recall": ((0.0, 1.0),) * 2,
}


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_every_metric_declares_the_range_its_value_can_take(name: str) -> None:
    """One declaration in the registry entry; the report and the MLflow summary clip intervals to it."""
    on_ring, on_digits = BOUNDS[name]
    metric = METRICS.get(name)
    assert metric.value_range(DataConfig(name="ring8")) == pytest.approx(on_ring)
    assert metric.value_range(DataConfig(name="digits")) == pytest.approx(on_digits)
    assert metric.value_range(None)[0] == on_ring[0]  # without data settings a data-dependent side stays open


def test_a_data_dependent_bound_that_cannot_be_told_stays_open() -> None:
    assert METRICS.get("class_coverage").value_range(None) == (0.0, math.inf)
    assert METRICS.get("modes").value_range(DataConfig(name="swissroll")) == (0.0, math.inf)  # no modes


def test_registration_rejects_a_bad_direction_or_a_missing_docstring() -> None:
    with pytest.raises(ValueError, match="direction"):
        register_metric("x_bad_direction", direction="up", needs=("points",))
    with pytest.raises(ValueError, match="lower < upper"):
        register_metric("x_bad_bounds", direction="minimize", needs=("points",), bounds=(1.0, 0.0))
    with pytest.raises(ValueError, match="docstring"):
        register_metric("x_no_doc", direction="minimize", needs=("points",))(lambda ctx: 0.0)
    assert "x_no_doc" not in METRICS


def test_shared_work_is_computed_once_per_evaluation_or_per_run() -> None:
    calls: list[str] = []
    run_cache: dict = {}

    def ctx() -> EvalContext:
        return EvalContext(None, None, torch.device("cpu"), torch.zeros(1), run_cache)

    first = ctx()
    for _ in range(2):
        first.shared("a", lambda: calls.append("eval"))
        first.shared("b", lambda: calls.append("run"), per_run=True)
    ctx().shared("a", lambda: calls.append("eval"))
    ctx().shared("b", lambda: calls.append("run"), per_run=True)
    assert calls == ["eval", "run", "eval"]
