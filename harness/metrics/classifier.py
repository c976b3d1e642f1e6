"""The evaluation classifier behind `fd_classifier`, `class_coverage` and `class_kl`.

A small CNN trained once per (dataset, image size, definition) on the dataset's training split,
on the CPU, deterministically, and cached as one file under `eval.cache_dir`. The file name
carries a hash of everything that defines the classifier (architecture, training
hyperparameters, dataset, image side, format version), so changing any of them trains a new one
instead of silently reusing a stale one. Writes are atomic (temporary file + os.replace): sweep
workers that race to train the same classifier each write a complete, identical file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harness.errors import UserError

if TYPE_CHECKING:
    from harness.data import ImageDataset

FORMAT_VERSION = 1  # bump when the training code changes in a way the spec does not capture


@dataclass(frozen=True)
class ClassifierSpec:
    """Everything that defines a trained classifier besides its data; all of it is hashed."""

    width: int = 32  # channels of the first conv; the second has 2 * width
    features: int = 64  # penultimate layer: the Fréchet distance's feature space
    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-3  # peak of the one-cycle schedule
    weight_decay: float = 1e-4
    max_shift_px: int = 1  # random translation augmentation, in pixels each way
    seed: int = 0


# Fixed epochs per dataset (the same images/step budget is not needed: each is trained once).
SPECS = {
    "digits": ClassifierSpec(epochs=20),  # 1437 images: 460 steps, 2-4 s on 2 cores
    "mnist": ClassifierSpec(epochs=2),  # 60000 images: 1876 steps, about a minute at 28 px
    "fashion_mnist": ClassifierSpec(epochs=3),
}
# Below these held-out accuracies the features are not trusted and the metrics refuse to run.
# Measured: digits 98.6% (8 px) / 99.2% (16 px); Fashion-MNIST 87.5% (14 px) / 90-91% (28 px).
MIN_TEST_ACCURACY = {"digits": 0.97, "mnist": 0.97, "fashion_mnist": 0.85}


def pool_stages(side: int) -> int:
    """Max-pool stages: two from 16 px up, one below, so 8-32 px images end 4-8 px wide."""
    return 2 if side >= 16 else 1


class EvalClassifier(nn.Module):
    """conv-pool-conv-[pool]-linear CNN; `forward` returns (penultimate features, logits)."""

    def __init__(self, side: int, spec: ClassifierSpec, num_classes: int, channels: int = 1) -> None:
        super().__init__()
        stages = pool_stages(side)
        pooled = side // 2 ** stages
        self.trunk = nn.Sequential(
            nn.Conv2d(channels, spec.width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # width x side/2 x side/2
            nn.Conv2d(spec.width, 2 * spec.width, 3, padding=1), nn.ReLU(),  # 2 width x side/2 x side/2
            nn.MaxPool2d(2) if stages == 2 else nn.Identity(),  # 2 width x pooled x pooled
            nn.Flatten(), nn.Linear(2 * spec.width * pooled * pooled, spec.features), nn.ReLU(),  # features
        )
        self.head = nn.Linear(spec.features, num_classes)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.trunk(x)
        return features, self.head(features)


def architecture(side: int, spec: ClassifierSpec, num_classes: int, channels: int = 1) -> EvalClassifier:
    """The classifier's modules on the meta device: no weight initialization, so no RNG draw."""
    with torch.device("meta"):
        return EvalClassifier(side, spec, num_classes, channels)


def definition(spec: ClassifierSpec, dataset: str, side: int, num_classes: int, channels: int = 1) -> dict:
    """The classifier's full identity, as plain data (hashed for the cache key, stored in the file).

    The architecture enters as the module's repr (every layer and its shape), so editing the
    network changes the key; changes to the training procedure must bump FORMAT_VERSION.
    """
    return {"format": FORMAT_VERSION, "arch": repr(architecture(side, spec, num_classes, channels)),
            "dataset": dataset, "side": side, "channels": channels, "num_classes": num_classes,
            "spec": dataclasses.asdict(spec)}


def definition_hash(defn: dict) -> str:
    return hashlib.sha256(json.dumps(defn, sort_keys=True).encode()).hexdigest()[:16]


def cache_path(cache_dir: str | Path, defn: dict) -> Path:
    return Path(cache_dir) / f"eval-classifier-{defn['dataset']}-{defn['side']}px-{definition_hash(defn)}.pt"


def random_shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Translate each image by up to `max_shift` pixels each way, filling with black (-1)."""
    if max_shift == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)
    dy = torch.randint(0, 2 * max_shift + 1, (n, 1, 1), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (n, 1, 1), generator=generator)
    rows, cols = dy + torch.arange(h).view(1, h, 1), dx + torch.arange(w).view(1, 1, w)
    return padded[torch.arange(n).view(n, 1, 1), :, rows, cols].permute(0, 3, 1, 2)  # (n, h, w, c) -> NCHW


@contextmanager
def deterministic_cpu(seed: int) -> Iterator[None]:
    """Deterministic algorithms on and the global CPU RNG seeded inside; both restored after.

    Training the classifier must neither depend on nor disturb the caller's RNG stream: a run
    with a cold cache and one with a warm cache train the GAN identically.
    """
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.use_deterministic_algorithms(True)
        torch.random.default_generator.manual_seed(seed)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(was_deterministic, warn_only=warn_only)


def train_classifier(spec: ClassifierSpec, images: Tensor, labels: Tensor, num_classes: int) -> EvalClassifier:
    """Train on the CPU with AdamW + one-cycle LR for `spec.epochs`; bitwise repeatable for a thread count."""
    images, labels = images.detach().float().cpu(), labels.detach().long().cpu()
    with deterministic_cpu(spec.seed), torch.enable_grad():
        model = EvalClassifier(images.shape[-1], spec, num_classes, images.shape[1])
        order = torch.Generator().manual_seed(spec.seed)
        opt = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
        steps_per_epoch = -(-images.shape[0] // spec.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, spec.lr, total_steps=spec.epochs * steps_per_epoch)
        model.train()
        for _ in range(spec.epochs):
            for idx in torch.randperm(images.shape[0], generator=order).split(spec.batch_size):
                _, logits = model(random_shift(images[idx], spec.max_shift_px, order))
                loss = F.cross_entropy(logits, labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: EvalClassifier, images: Tensor, labels: Tensor, batch: int = 1024) -> float:
    """Top-1 accuracy of `model` on (images, labels), evaluated on the model's device."""
    device = next(model.parameters()).device
    correct = sum(int((model(x.to(device))[1].argmax(1) == y.to(device)).sum())
                  for x, y in zip(images.split(batch), labels.split(batch)))
    return correct / images.shape[0]


@dataclass
class TrainedClassifier:
    model: EvalClassifier  # on the CPU, in eval mode
    test_accuracy: float  # on the dataset's held-out test split
    path: Path  # its cache file
    trained_now: bool  # False when it was loaded from the cache


def save_atomic(payload: dict, path: Path) -> None:
    """torch.save to a temporary file beside `path`, then os.replace: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is shared by whoever runs sweeps
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_cached(path: Path, defn: dict, model: EvalClassifier) -> tuple[EvalClassifier, float] | None:
    """(model with the cached weights, test accuracy) from a file of exactly this definition, else None.

    `model` is the architecture on the meta device; the loaded tensors replace its parameters.
    """
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload["definition"] == json.dumps(defn, sort_keys=True):
            model.load_state_dict(payload["state_dict"], assign=True)
            return model.eval(), float(payload["test_accuracy"])
        warnings.warn(f"{path}: its stored definition differs from the expected one; retraining", stacklevel=2)
    except (OSError, EOFError, RuntimeError, KeyError, TypeError, pickle.UnpicklingError) as exc:
        warnings.warn(f"{path}: unreadable evaluation classifier ({exc!r}); retraining", stacklevel=2)
    return None


def load_or_train(dataset: "ImageDataset", cache_dir: str | Path,
                  spec: ClassifierSpec | None = None) -> TrainedClassifier:
    """The dataset's evaluation classifier from the cache, training and caching it on a miss.

    `dataset` is an image dataset (`.name`, `.images`, `.labels`, `.test_images`, `.test_labels`,
    `.num_classes`); the classifier sees images at the dataset's configured size.
    """
    spec = spec or SPECS[dataset.name]
    side, channels = dataset.images.shape[-1], dataset.images.shape[1]
    defn = definition(spec, dataset.name, side, dataset.num_classes, channels)
    path = cache_path(cache_dir, defn)
    cached = load_cached(path, defn, architecture(side, spec, dataset.num_classes, channels))
    if cached is not None:
        return TrainedClassifier(cached[0], cached[1], path, trained_now=False)
    start = time.perf_counter()
    model = train_classifier(spec, dataset.images, dataset.labels, dataset.num_classes)
    test_accuracy = accuracy(model, dataset.test_images.cpu(), dataset.test_labels.cpu())
    save_atomic({"definition": json.dumps(defn, sort_keys=True), "state_dict": model.state_dict(),
                 "test_accuracy": test_accuracy, "train_seconds": time.perf_counter() - start}, path)
    return TrainedClassifier(model, test_accuracy, path, trained_now=True)


def require_accuracy(dataset: str, test_accuracy: float, minimum: float | None = None) -> None:
    """Refuse (UserError) a classifier whose held-out accuracy is below the dataset's threshold."""
    minimum = MIN_TEST_ACCURACY[dataset] if minimum is None else minimum
    if test_accuracy < minimum:
        raise UserError(f"eval.metrics: the evaluation classifier for {dataset} reaches {test_accuracy:.1%} "
                        f"test accuracy, below the {minimum:.0%} its metrics require; they refuse to run")
