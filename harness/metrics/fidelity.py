"""Metrics a paper can quote: `fid`, `is`, `kid_inception`, `precision` and `recall` in TF-Inception features.

Computed the way the literature computes them, and checked against torch-fidelity's
`calculate_metrics` with the same weights and images (tests/test_metrics_fidelity.py):

- the detector is torch-fidelity's port of the TF Inception (`harness.metrics.inception`), fed
  uint8 images: generated samples are quantized exactly as a saved PNG would be;
- the generated side is `eval.num_samples` samples of the fixed evaluation noise; the real side is
  every image of the `eval.inception_split` split (CIFAR-10's 50,000 training images in the
  papers' protocol), whose features are cached on disk once (`harness.metrics.inception_reference`);
- FID: Fréchet distance of pool3 Gaussians (Heusel et al. 2017); IS: exp E KL(p(y|x) || p(y)) over
  10 splits of the shuffled samples, the mean (Salimans et al. 2016); KID: unbiased MMD² with the
  cubic kernel, 100 subsets of 1,000 (Bińkowski et al. 2018); precision and recall: the k = 3
  nearest-neighbour manifolds (Kynkäänniemi et al. 2019), in pool3 features.

Each value's protocol (N, split, detector hash) is recorded with every run and printed by the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from harness.metrics.base import METRICS, EvalContext, register_metric
from harness.metrics.frechet import frechet_distance, gaussian_stats
from harness.metrics.inception import inception_features, load_detector, require_weights, weights_digest
from harness.metrics.inception_reference import ReferenceSet, reference_set
from harness.metrics.kid import subset_kernel_distance

if TYPE_CHECKING:
    from harness.data import ImageDataset
    from harness.core.schema import RunConfig

IS_SPLITS = 10
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000
PR_NEIGHBORHOOD = 3  # k of the k-NN radii (Kynkäänniemi et al. 2019)
PR_BATCH = 10_000  # rows per distance block


def split_images(dataset: "ImageDataset", split: str) -> Tensor:
    return dataset.images if split == "train" else dataset.test_images


def detector(ctx: EvalContext) -> torch.nn.Module:
    return ctx.shared("inception_detector", lambda: load_detector(require_weights(), ctx.device), per_run=True)


def reference(cfg: "RunConfig", dataset: "ImageDataset", device: torch.device, ctx: EvalContext | None = None
              ) -> ReferenceSet:
    """The inception split's cached features and statistics (extracted now on a cache miss)."""
    path = require_weights()

    def extract(images: Tensor) -> Tensor:
        net = detector(ctx) if ctx is not None else load_detector(path, device)
        return inception_features(net, images, device)[0]

    return reference_set(cfg.eval.cache_dir, dataset.name, cfg.eval.inception_split,
                         split_images(dataset, cfg.eval.inception_split), weights_digest(path), extract)


def prepare_reference(cfg: "RunConfig", dataset: "ImageDataset", device: torch.device) -> dict[str, float]:
    """Prepare hook: refuse before training when the weights are missing; fill the reference cache."""
    require_weights(tuple(m for m in cfg.eval.metrics or () if METRICS.get(m).prepare is prepare_reference))
    return {"inception_reference_samples": float(reference(cfg, dataset, device).count)}


def protocol(cfg: "RunConfig", dataset: "ImageDataset") -> str:
    split = cfg.eval.inception_split
    count = split_images(dataset, split).shape[0]
    side = dataset.sample_shape[-1]
    return (f"{cfg.eval.num_samples} generated vs {count} {dataset.name} {split} images at {side} px; "
            f"TF-Inception (torch-fidelity weights, sha256 {weights_digest(require_weights())[:12]}), uint8 inputs")


def fake_features(ctx: EvalContext) -> tuple[Tensor, Tensor]:
    """(pool3, logits) of this evaluation's generated images, extracted once for all five metrics."""
    return ctx.shared("inception_fake", lambda: inception_features(detector(ctx), ctx.fake, ctx.device))


def run_reference(ctx: EvalContext) -> ReferenceSet:
    return ctx.shared("inception_reference", lambda: reference(ctx.cfg, ctx.dataset, ctx.device, ctx), per_run=True)


def finite(ctx: EvalContext) -> bool:
    return ctx.shared("inception_finite", lambda: bool(torch.isfinite(ctx.fake).all()))


@register_metric("fid", direction="minimize", needs=("images",), default=False, prepare=prepare_reference,
                 protocol=protocol, bounds=(0.0, None))
def fid(ctx: EvalContext) -> float:
    """Fréchet Inception Distance between generated and real images, the papers' FID (minimize).

    pool3 features of the TF Inception, float64 Gaussian statistics; N generated = eval.num_samples
    against every image of eval.inception_split. Biased by N: compare only values of one protocol
    (the papers' CIFAR-10 one is 50,000 vs the 50,000 training images). Any non-finite pixel gives +inf.
    """
    if not finite(ctx):
        return float("inf")
    ref = run_reference(ctx)
    mean, cov = gaussian_stats(fake_features(ctx)[0])
    return frechet_distance(mean, cov, ref.mean, ref.cov)


def inception_score(logits: Tensor, splits: int, seed: int) -> tuple[float, float]:
    """(mean, std) over `splits` of exp E_x KL(p(y|x) || p(y)), samples shuffled with RandomState(seed)."""
    order = np.random.RandomState(seed).permutation(logits.shape[0])
    logits = logits[torch.from_numpy(order)].double()
    p, log_p = logits.softmax(dim=1), logits.log_softmax(dim=1)
    n = logits.shape[0]
    scores = []
    for i in range(splits):
        part, log_part = p[i * n // splits:(i + 1) * n // splits], log_p[i * n // splits:(i + 1) * n // splits]
        marginal = part.mean(dim=0, keepdim=True)
        scores.append(float((part * (log_part - marginal.log())).sum(dim=1).mean().exp()))
    return float(np.mean(scores)), float(np.std(scores))


@register_metric("is", direction="maximize", needs=("images",), default=False, prepare=prepare_reference,
                 protocol=lambda cfg, dataset: f"{protocol(cfg, dataset)}; {IS_SPLITS} splits, mean",
                 bounds=(1.0, 1008.0))  # exp of a KL between distributions over the TF Inception's 1008 classes
def inception_score_metric(ctx: EvalContext) -> float:
    """Inception Score of the generated images, the mean over 10 splits (maximize; 1 to 1008).

    Salimans et al. 2016 on the TF Inception's logits, the samples shuffled with eval.seed first.
    It reads no real image: it rewards confident, diverse ImageNet classes, so it means most on
    CIFAR-10-like data. Any non-finite pixel gives -inf.
    """
    if not finite(ctx):
        return float("-inf")
    return inception_score(fake_features(ctx)[1], IS_SPLITS, ctx.cfg.eval.seed)[0]


@register_metric("kid_inception", direction="minimize", needs=("images",), default=False,
                 prepare=prepare_reference, bounds=(None, None),  # unbiased: may be slightly negative
                 protocol=lambda cfg, dataset: f"{protocol(cfg, dataset)}; {KID_SUBSETS} subsets of "
                                               f"min({KID_SUBSET_SIZE}, N)")
def kid_inception(ctx: EvalContext) -> float:
    """Kernel Inception Distance (minimize): unbiased MMD² with the cubic kernel in pool3 features.

    Bińkowski et al. 2018, averaged over 100 subsets of min(1000, N) per side drawn as their code
    (and torch-fidelity) draws them. Unbiased: its expectation does not move with N. Any
    non-finite pixel gives +inf.
    """
    if not finite(ctx):
        return float("inf")
    return subset_kernel_distance(fake_features(ctx)[0].numpy(), run_reference(ctx).features.numpy(),
                                  KID_SUBSET_SIZE, KID_SUBSETS, ctx.cfg.eval.seed)


def knn_radii(features: Tensor, k: int) -> Tensor:
    """Distance of each row to its k-th nearest other row (the k+1-th smallest, itself included)."""
    return torch.cat([torch.cdist(block, features).kthvalue(k + 1, dim=1).values
                      for block in features.split(PR_BATCH)])


def inside(queries: Tensor, support: Tensor, radii: Tensor) -> Tensor:
    """For each query, whether it lies within some support point's radius (a ball of the manifold)."""
    return torch.cat([(torch.cdist(block, support) <= radii[None, :]).any(dim=1) for block in queries.split(PR_BATCH)])


def precision_recall(fake: Tensor, real: Tensor, k: int = PR_NEIGHBORHOOD) -> tuple[float, float]:
    """(precision, recall) of Kynkäänniemi et al. 2019: generated samples inside the real manifold, and back."""
    precision = inside(fake, real, knn_radii(real, k)).float().mean()
    recall = inside(real, fake, knn_radii(fake, k)).float().mean()
    return float(precision), float(recall)


def shared_precision_recall(ctx: EvalContext) -> tuple[float, float]:
    def compute() -> tuple[float, float]:
        fake = fake_features(ctx)[0].to(ctx.device)
        return precision_recall(fake, run_reference(ctx).features.to(ctx.device))

    return ctx.shared("inception_precision_recall", compute)


def pr_protocol(cfg: "RunConfig", dataset: "ImageDataset") -> str:
    return f"{protocol(cfg, dataset)}; k = {PR_NEIGHBORHOOD} nearest neighbours in pool3"


@register_metric("precision", direction="maximize", needs=("images",), default=False, prepare=prepare_reference,
                 protocol=pr_protocol, bounds=(0.0, 1.0))
def precision(ctx: EvalContext) -> float:
    """Improved precision (maximize, 0 to 1): the share of generated images inside the real images' k = 3 manifold.

    Kynkäänniemi et al. 2019, in the TF Inception's pool3 features: fidelity, blind to diversity.
    Read it with `recall`. Any non-finite pixel gives -inf.
    """
    return shared_precision_recall(ctx)[0] if finite(ctx) else float("-inf")


@register_metric("recall", direction="maximize", needs=("images",), default=False, prepare=prepare_reference,
                 protocol=pr_protocol, bounds=(0.0, 1.0))
def recall(ctx: EvalContext) -> float:
    """Improved recall (maximize, 0 to 1): the share of real images inside the generated images' k = 3 manifold.

    Kynkäänniemi et al. 2019: diversity, the coverage of the data; low under mode collapse. Any
    non-finite pixel gives -inf.
    """
    return shared_precision_recall(ctx)[1] if finite(ctx) else float("-inf")
