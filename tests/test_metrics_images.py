"""Image metrics through the digits classifier: real held-out data, noise, collapse, missing classes."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from harness.config.resolve import RunConfig, parse_experiment, resolve_run
from harness.data import load_dataset
from harness.core.errors import UserError
from harness.metrics.base import METRICS, EvalContext
from harness.metrics.images import prepare_classifier, reference_indices

from tests.conftest import TINY

CPU = torch.device("cpu")
IMAGE_METRICS = ("fd_classifier", "kid", "swd", "class_coverage", "class_kl")


@pytest.fixture(scope="session")
def shared_cache() -> Path:
    """The suite's classifier cache (conftest's TINY configs use it too): each digits classifier trains once."""
    return Path(TINY["eval"]["cache_dir"])


def digits_run(cache: Path, size: int | None = None, num_samples: int = 2000) -> RunConfig:
    exp = parse_experiment({"name": "t", "data": {"name": "digits", "image_size": size},
                            "eval": {"num_samples": num_samples, "cache_dir": str(cache)},
                            "sweep": {"trials_per_variant": 1}})
    return resolve_run(exp, "wgan_gp")


class Scorer:
    """Scores image batches as one run would: one run cache, a fresh evaluation cache per call."""

    def __init__(self, run: RunConfig) -> None:
        self.run, self.dataset, self.run_cache, self.info = run, load_dataset(run.data, CPU), {}, {}

    def __call__(self, fake: torch.Tensor) -> dict[str, float]:
        ctx = EvalContext(self.run, self.dataset, CPU, fake, self.run_cache, info=self.info)
        return {name: METRICS.get(name).compute(ctx) for name in IMAGE_METRICS}


@pytest.fixture(scope="module", params=[None, 16], ids=["8px", "16px"])
def scorer(request: pytest.FixtureRequest, shared_cache: Path) -> Scorer:
    return Scorer(digits_run(shared_cache, request.param))


def test_held_out_real_images_score_near_zero_and_far_better_than_noise(scorer: Scorer) -> None:
    test = scorer.dataset.test_images  # 360 held-out images vs 360 reference training images
    noise = torch.rand(test.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    real, fake = scorer(test), scorer(noise)
    assert real["fd_classifier"] < 0.02 * fake["fd_classifier"]  # measured: 3.1 vs 270 (8 px), 6.4 vs 721 (16 px)
    assert real["class_coverage"] == 10
    assert real["class_kl"] < 0.02 and fake["class_kl"] > 0.3
    assert abs(real["kid"]) < 0.02 * fake["kid"] and real["swd"] < 0.3 * fake["swd"]


def test_a_collapsed_generator_fails_coverage(scorer: Scorer) -> None:
    test = scorer.dataset.test_images
    collapsed = test[:1].expand(2000, -1, -1, -1)  # one image, repeated
    scores, real = scorer(collapsed), scorer(test)
    assert scores["class_coverage"] == 1
    assert scores["class_kl"] == pytest.approx(math.log(10), abs=0.1)  # KL(point mass || ~uniform)
    assert scores["fd_classifier"] > 50 * real["fd_classifier"]


def test_half_the_classes_give_half_coverage_and_kl_log_2(scorer: Scorer) -> None:
    ds = scorer.dataset
    half = ds.test_images[ds.test_labels < 5]
    scores = scorer(half)
    assert 5 <= scores["class_coverage"] <= 7  # each misclassified image (~1% of 180) may add a class
    assert scores["class_kl"] == pytest.approx(math.log(2), abs=0.1)


def test_scores_are_repeatable_and_the_reference_matches_the_sample_count(shared_cache: Path) -> None:
    scorer = Scorer(digits_run(shared_cache))
    fake = scorer.dataset.test_images.repeat(6, 1, 1, 1)  # 2160 images: more than the training split
    first, second = scorer(fake), Scorer(digits_run(shared_cache))(fake)
    assert first == second
    assert scorer.info["fd_reference_samples"] == 1437  # min(samples, training split)
    assert scorer.info["classifier_test_accuracy"] >= 0.97


def test_the_reference_set_is_a_fixed_subset_of_the_training_split() -> None:
    idx = reference_indices(1437, 360, seed=1234)
    assert torch.equal(idx, reference_indices(1437, 360, seed=1234))
    assert idx.unique().numel() == 360 and int(idx.max()) < 1437
    assert not torch.equal(idx, reference_indices(1437, 360, seed=1235))


def test_non_finite_images_give_an_infinite_distance(scorer: Scorer) -> None:
    fake = scorer.dataset.test_images.clone()
    fake[0, 0, 0, 0] = float("nan")
    assert scorer(fake)["fd_classifier"] == math.inf


def test_metrics_refuse_a_classifier_below_the_threshold(shared_cache: Path) -> None:
    run = digits_run(shared_cache)
    run = dataclasses.replace(run, eval=dataclasses.replace(run.eval, classifier_min_accuracy=1.01))
    with pytest.raises(UserError, match=r"^eval.classifier_min_accuracy: .* below the 101.0% required"):
        prepare_classifier(run, load_dataset(run.data, CPU), CPU)
    with pytest.raises(UserError, match="refuse to run"):
        Scorer(run)(load_dataset(run.data, CPU).test_images)


def test_prepare_reports_the_accuracy_next_to_the_score(shared_cache: Path) -> None:
    run = digits_run(shared_cache)
    info = prepare_classifier(run, load_dataset(run.data, CPU), CPU)
    assert info["classifier_min_accuracy"] == 0.97
    assert 0.97 <= info["classifier_test_accuracy"] <= 1.0
