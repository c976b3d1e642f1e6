"""The metric registry's contract: names, directions, datasets, docstrings, shared work."""

from __future__ import annotations

import pytest
import torch

from harness.config import parse_experiment, resolve_run
from harness.data import DATASETS
from harness.metrics import DEFAULT_OBJECTIVES, METRICS, EvalContext, metrics_for_dataset, register_metric

EXPECTED = {  # name: (direction, datasets, default)
    "modes": ("maximize", ("ring8", "grid25"), True),
    "hq_fraction": ("maximize", ("ring8", "grid25"), True),
    "reverse_kl": ("minimize", ("ring8", "grid25"), True),
    "w1": ("minimize", ("ring8", "grid25", "swissroll"), True),
    "fd_classifier": ("minimize", ("digits", "mnist", "fashion_mnist"), True),
    "class_coverage": ("maximize", ("digits", "mnist", "fashion_mnist"), True),
    "class_kl": ("minimize", ("digits", "mnist", "fashion_mnist"), True),
    "fid_inception": ("minimize", ("digits", "mnist", "fashion_mnist"), False),
}


def test_the_registry_holds_exactly_the_designed_metrics() -> None:
    assert set(METRICS.names()) == set(EXPECTED)
    for name, (direction, datasets, default) in EXPECTED.items():
        metric = METRICS.get(name)
        assert (metric.direction, set(metric.datasets), metric.default) == (direction, set(datasets), default)


def test_every_docstring_states_its_direction() -> None:
    for name in METRICS.names():
        metric = METRICS.get(name)
        assert f"({metric.direction}" in metric.doc, name


def test_default_objectives_apply_to_every_dataset_of_their_kind() -> None:
    for dataset in DATASETS.names():
        objective = DEFAULT_OBJECTIVES[DATASETS.get(dataset).kind]
        assert objective in metrics_for_dataset(dataset), dataset


@pytest.mark.parametrize("dataset", ["ring8", "grid25", "swissroll", "digits", "mnist", "fashion_mnist"])
def test_configs_resolve_their_default_metrics(dataset: str) -> None:
    run = resolve_run(parse_experiment({"name": "t", "data": {"name": dataset}, "sweep": {"trials_per_variant": 1}}),
                      "wgan_gp")
    assert run.eval.metrics == tuple(metrics_for_dataset(dataset))
    assert run.objective == DEFAULT_OBJECTIVES[DATASETS.get(dataset).kind]


def test_registration_rejects_a_bad_direction_or_a_missing_docstring() -> None:
    with pytest.raises(ValueError, match="direction"):
        register_metric("x_bad_direction", direction="up", datasets=("ring8",))
    with pytest.raises(ValueError, match="docstring"):
        register_metric("x_no_doc", direction="minimize", datasets=("ring8",))(lambda ctx: 0.0)
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
