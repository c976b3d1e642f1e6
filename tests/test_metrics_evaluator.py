"""The Evaluator: fixed noise, repeatable scores, untouched RNG, info, prepare, cost accounting."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from harness.config.resolve import RunConfig, parse_experiment, resolve_run
from harness.data import load_dataset
from harness.metrics import Evaluator, images

CPU = torch.device("cpu")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same directory as test_metrics_classifier's: each digits classifier is trained once."""
    return tmp_path_factory.getbasetemp() / "metrics-classifier-cache"


def make_run(data: dict, cache: Path | None = None, **eval_cfg: object) -> RunConfig:
    raw = {"name": "t", "data": data, "eval": dict(eval_cfg), "sweep": {"trials_per_variant": 1}}
    if cache is not None:
        raw["eval"]["cache_dir"] = str(cache)
    return resolve_run(parse_experiment(raw), "wgan_gp")


class MixtureGenerator(nn.Module):
    """A perfect ring8 generator: z[0] picks the mode (via the normal CDF), z[1:3] is the noise."""

    def __init__(self, centers: torch.Tensor, sigma: float) -> None:
        super().__init__()
        self.register_buffer("centers", centers)
        self.sigma = sigma
        self.dummy = nn.Linear(1, 1)  # gives it parameters, like a real G

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        u = 0.5 * (1 + torch.erf(z[:, 0] / math.sqrt(2)))
        idx = (u * self.centers.shape[0]).long().clamp_(max=self.centers.shape[0] - 1)
        return self.centers[idx] + self.sigma * z[:, 1:3]


class ConstantImage(nn.Module):
    """A generator collapsed onto one image."""

    def __init__(self, image: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("image", image)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.image.expand(z.shape[0], -1, -1, -1)


def test_a_perfect_toy_generator_scores_the_protocol_values_repeatably() -> None:
    run = make_run({"name": "ring8"}, num_samples=2500)
    ds = load_dataset(run.data, CPU)
    G = MixtureGenerator(ds.centers, ds.sigma).train()
    torch.manual_seed(0)
    rng_before = torch.get_rng_state()
    evaluator = Evaluator(run, ds, CPU)
    evaluator.prepare()
    first, second = evaluator(G), evaluator(G)
    assert first == second == Evaluator(run, ds, CPU)(G)  # fixed noise, fixed reference set
    assert list(first) == ["modes", "hq_fraction", "reverse_kl", "w1"]
    assert first["modes"] == 8 and first["hq_fraction"] == pytest.approx(0.9889, abs=0.006)
    assert first["reverse_kl"] < 0.005 and first["w1"] < 0.2
    assert torch.equal(torch.get_rng_state(), rng_before)  # training's RNG stream is untouched
    assert G.training  # the generator's mode is restored
    assert evaluator.calls == 2 and evaluator.seconds_total > 0
    assert evaluator.info == {"w1_points": 500.0}


def test_only_the_configured_metrics_are_computed() -> None:
    run = make_run({"name": "grid25"}, num_samples=300, metrics=["hq_fraction"])
    ds = load_dataset(run.data, CPU)
    assert list(Evaluator(run, ds, CPU)(MixtureGenerator(ds.centers, ds.sigma))) == ["hq_fraction", "w1"]


def test_image_evaluation_reports_accuracy_and_runs_each_prepare_hook_once(
        shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = make_run({"name": "digits"}, shared_cache, num_samples=500)
    ds = load_dataset(run.data, CPU)
    calls = []
    original = images.checked_classifier
    monkeypatch.setattr(images, "checked_classifier", lambda *a: calls.append(1) or original(*a))
    evaluator = Evaluator(run, ds, CPU)
    evaluator.prepare()
    assert len(calls) == 1  # three metrics share one hook
    rng_before = torch.get_rng_state()
    first = evaluator(ConstantImage(ds.test_images[0]))
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert Evaluator(run, ds, CPU)(ConstantImage(ds.test_images[0])) == first
    assert evaluator.info["classifier_test_accuracy"] >= 0.97
    scores = evaluator(ConstantImage(ds.test_images[0]))
    assert scores["class_coverage"] == 1 and scores["fd_classifier"] > 100
    assert evaluator.info["fd_reference_samples"] == 500


def test_image_metrics_work_without_prepare(shared_cache: Path) -> None:
    run = make_run({"name": "digits", "image_size": 16}, shared_cache, num_samples=200)
    ds = load_dataset(run.data, CPU)
    evaluator = Evaluator(run, ds, CPU)
    scores = evaluator(ConstantImage(ds.test_images[0]))
    assert scores["class_coverage"] == 1
    assert evaluator.info["classifier_test_accuracy"] >= 0.97
