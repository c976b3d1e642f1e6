"""Metrics of the image datasets, through the evaluation classifier (no network, no Inception).

Reference set: n = min(number of generated samples, size of the training split) training images,
a fixed subset drawn with `eval.seed`, so both sides of the Fréchet distance have the same
count (the distance's sample-size bias is then the same for every run at that count). The
generated side is the first n generated samples. The class histogram of the data is the
classifier's predictions on the same reference images: the classifier's own confusions then
appear on both sides instead of counting as a generator error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from harness.data.base import dataset_entry
from harness.metrics.base import EvalContext, register_metric
from harness.metrics.classifier import ClassifierSpec, EvalClassifier, TrainedClassifier, load_or_train, require_accuracy
from harness.metrics.frechet import frechet_distance, gaussian_stats
from harness.metrics.kid import kernel_distance

if TYPE_CHECKING:
    from harness.core.schema import DataConfig, RunConfig
    from harness.data import ImageDataset

LABELLED_IMAGES = ("images", "labels")  # what the classifier's metrics need of a dataset
FEATURE_BATCH = 1024  # images per classifier call, to bound device memory
KID_SUBSET_SIZE = 1000  # Bińkowski et al.'s subset size; fewer samples use them all
KID_SUBSETS = 10  # they average 100; 10 keep an evaluation cheap on a CPU (about 0.5 s at n = 2000)


def classifier_info(cfg: "RunConfig", trained: TrainedClassifier) -> dict[str, float]:
    """The yardstick's facts that runs log (MLflow params eval_info.*) and the report's header shows."""
    return {"classifier_test_accuracy": trained.test_accuracy, "classifier_val_accuracy": trained.val_accuracy,
            "classifier_steps": float(trained.steps), "classifier_min_accuracy": float(cfg.eval.classifier_min_accuracy)}


def checked_classifier(cfg: "RunConfig", dataset: "ImageDataset") -> TrainedClassifier:
    """Load or train the dataset's classifier and refuse it if its test accuracy is below the threshold."""
    spec = ClassifierSpec(hflip=dataset_entry(cfg.data).flip_augment)
    trained = load_or_train(dataset, cfg.eval.cache_dir, spec)
    require_accuracy(dataset.name, trained.test_accuracy, float(cfg.eval.classifier_min_accuracy))
    return trained


def prepare_classifier(cfg: "RunConfig", dataset: "ImageDataset", device: torch.device) -> dict[str, float]:
    """Prepare hook: train (or find cached) the classifier now, before any worker needs it."""
    return classifier_info(cfg, checked_classifier(cfg, dataset))


def evaluation_classifier(ctx: EvalContext) -> EvalClassifier:
    """The run's classifier on the evaluation device (loaded once per run; trained if prepare was skipped)."""

    def load() -> EvalClassifier:
        trained = checked_classifier(ctx.cfg, ctx.dataset)
        ctx.info.update(classifier_info(ctx.cfg, trained))
        return trained.model.to(ctx.device)

    return ctx.shared("image_classifier", load, per_run=True)


@dataclass(frozen=True)
class ClassifierOutputs:
    features: np.ndarray  # (N, F) float64 penultimate-layer activations
    predicted: Tensor  # (N,) long predicted classes, on the CPU
    finite: bool  # every input pixel was finite


@torch.no_grad()
def classify(model: EvalClassifier, images: Tensor) -> ClassifierOutputs:
    """Features and predicted classes of `images`; non-finite pixels are zeroed for the classifier."""
    finite = bool(torch.isfinite(images).all())
    images = torch.nan_to_num(images, nan=0.0, posinf=1.0, neginf=-1.0)
    features, predicted = [], []
    for batch in images.split(FEATURE_BATCH):
        f, logits = model(batch)
        features.append(f.double().cpu())
        predicted.append(logits.argmax(dim=1).cpu())
    return ClassifierOutputs(torch.cat(features).numpy(), torch.cat(predicted), finite)


def class_histogram(predicted: Tensor, num_classes: int) -> Tensor:
    """Fraction of samples predicted as each class (float64, sums to 1)."""
    return torch.bincount(predicted, minlength=num_classes).double() / predicted.numel()


@dataclass(frozen=True)
class ReferenceStats:
    mean: np.ndarray
    cov: np.ndarray
    class_hist: Tensor
    count: int
    features: np.ndarray  # (count, F) float64, for KID


def reference_indices(num_train: int, n: int, seed: int) -> Tensor:
    """A fixed subset of n training-split indices (the same for every run with this eval.seed)."""
    return torch.randperm(num_train, generator=torch.Generator().manual_seed(seed))[:n]


def reference_stats(ctx: EvalContext, n: int) -> ReferenceStats:
    """Gaussian statistics and class histogram of n reference training images, once per run."""

    def compute() -> ReferenceStats:
        images = ctx.dataset.images
        idx = reference_indices(images.shape[0], n, ctx.cfg.eval.seed).to(images.device)
        out = classify(evaluation_classifier(ctx), images[idx].to(ctx.device))
        mean, cov = gaussian_stats(out.features)
        return ReferenceStats(mean, cov, class_histogram(out.predicted, ctx.dataset.num_classes), n, out.features)

    return ctx.shared(f"image_reference_{n}", compute, per_run=True)


def fake_outputs(ctx: EvalContext) -> ClassifierOutputs:
    """The classifier's view of this evaluation's generated images, computed once and shared."""
    return ctx.shared("image_fake_outputs", lambda: classify(evaluation_classifier(ctx), ctx.fake))


def reference_count(ctx: EvalContext) -> int:
    return min(ctx.fake.shape[0], ctx.dataset.images.shape[0])


def class_count(data: "DataConfig") -> float | None:
    """The upper bound of class_coverage: the dataset's number of classes (None: unlabelled)."""
    return dataset_entry(data).num_classes


@register_metric("fd_classifier", direction="minimize", needs=LABELLED_IMAGES, prepare=prepare_classifier,
                 bounds=(0.0, None))
def fd_classifier(ctx: EvalContext) -> float:
    """Fréchet distance in the evaluation classifier's penultimate features (minimize): a "classifier FID".

    Between n generated images and n fixed training images, n = min(eval.num_samples, training
    split size) (1437 on digits). 64-d features of a small CNN trained on the training split
    (test accuracy in `Evaluator.info`); float64 statistics. Biased upward at small n: compare
    only runs evaluated with the same n. Any non-finite generated pixel gives +inf.
    """
    n = reference_count(ctx)
    ref = reference_stats(ctx, n)
    fake = fake_outputs(ctx)
    ctx.info["fd_reference_samples"] = float(n)
    if not fake.finite:
        return float("inf")
    mean, cov = gaussian_stats(fake.features[:n])
    return frechet_distance(mean, cov, ref.mean, ref.cov)


@register_metric("kid", direction="minimize", needs=LABELLED_IMAGES, prepare=prepare_classifier,
                 bounds=(None, None))  # unbiased: small negative values happen, so no lower bound
def kid(ctx: EvalContext) -> float:
    """Kernel distance (KID: unbiased MMD², cubic polynomial kernel) in the evaluation classifier's features (minimize).

    Bińkowski et al. 2018, with the classifier's 64-d features in place of Inception's: between
    the same n generated and n reference training images as `fd_classifier`, averaged over
    KID_SUBSETS random subsets of min(1000, n) drawn with eval.seed. Unbiased: its expectation
    does not move with n (0 for matching distributions; small negative values happen), which
    makes it the better second opinion at small sample sizes. Any non-finite pixel gives +inf.
    """
    n = reference_count(ctx)
    fake = fake_outputs(ctx)
    if not fake.finite:
        return float("inf")
    return kernel_distance(fake.features[:n], reference_stats(ctx, n).features, KID_SUBSET_SIZE, KID_SUBSETS,
                           ctx.cfg.eval.seed)


@register_metric("class_coverage", direction="maximize", needs=LABELLED_IMAGES, prepare=prepare_classifier,
                 bounds=(0.0, class_count))
def class_coverage(ctx: EvalContext) -> float:
    """Number of classes the classifier predicts among all generated images (maximize; 10 at best).

    A class counts when at least one generated image is predicted as it, so read it next to
    `class_kl`, which weighs how balanced the classes are. A generator collapsed onto one image scores 1.
    """
    return float(torch.unique(fake_outputs(ctx).predicted).numel())


@register_metric("class_kl", direction="minimize", needs=LABELLED_IMAGES, prepare=prepare_classifier,
                 bounds=(0.0, None))
def class_kl(ctx: EvalContext) -> float:
    """KL(generated || data) of the predicted-class histograms, in nats (minimize; 0 is best).

    Generated: all generated images; data: the reference training images through the same
    classifier. Finite when classes are missing (all mass on one class gives about log 10 = 2.30),
    +inf only if generated images land in a class the reference set never shows.
    """
    n = reference_count(ctx)
    p_data = reference_stats(ctx, n).class_hist
    q = class_histogram(fake_outputs(ctx).predicted, ctx.dataset.num_classes)
    present = q > 0
    if bool((p_data[present] == 0).any()):
        return float("inf")
    return float((q[present] * torch.log(q[present] / p_data[present])).sum())
