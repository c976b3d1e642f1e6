"""The evaluation classifier behind `fd_classifier`, `kid`, `class_coverage` and `class_kl`.

A small CNN trained once per (dataset contents, image size, definition) on the dataset's training
split, on the CPU, deterministically, and cached as one file under `eval.cache_dir`. It trains for
a fixed number of optimizer steps whatever the dataset's size (a 4,000-image set gets as many
updates as 60,000-image MNIST), with random translations (and mirroring where the dataset entry
allows it) against overfitting small sets, and keeps the weights of the best accuracy on a
validation split carved from the training split, stopping early when that stops improving.

The file name carries a hash of everything that defines the classifier (architecture, training
hyperparameters, a fingerprint of the data, image side, format version), so changing any of them
trains a new one instead of silently reusing a stale one. Writes are atomic (temporary file +
os.replace): sweep workers that race to train the same classifier each write a complete,
identical file.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import pickle
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harness.data.base import stratified_holdout
from harness.core.errors import UserError
from harness.metrics.disk_cache import data_fingerprint, save_atomic

if TYPE_CHECKING:
    from harness.data import ImageDataset

FORMAT_VERSION = 2  # bump when the training code changes in a way the spec does not capture


@dataclass(frozen=True)
class ClassifierSpec:
    """Everything that defines a trained classifier besides its data; all of it is hashed."""

    width: int = 32  # channels of the first conv; the second has 2 * width
    features: int = 64  # penultimate layer: the Fréchet distance's and KID's feature space
    steps: int = 1500  # optimizer steps, whatever the dataset's size
    batch_size: int = 64
    lr: float = 2e-3  # peak of the one-cycle schedule
    weight_decay: float = 1e-4
    shift_per_side: int = 8  # random translation of up to side // this pixels each way (1 px at 8 px, 3 at 28)
    hflip: bool = False  # random horizontal mirroring (from the dataset entry's flip_augment)
    val_fraction: float = 0.1  # of the training split, stratified, for early stopping
    check_every_steps: int = 100  # validation accuracy every this many steps
    patience_checks: int = 4  # stop after this many checks without a better validation accuracy
    seed: int = 0


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


def definition(spec: ClassifierSpec, dataset: str, side: int, num_classes: int, channels: int = 1,
               fingerprint: str = "") -> dict:
    """The classifier's full identity, as plain data (hashed for the cache key, stored in the file).

    The architecture enters as the module's repr (every layer and its shape), so editing the
    network changes the key; changes to the training procedure must bump FORMAT_VERSION.
    `fingerprint` identifies the data itself: a 4,000-image MNIST subset and full MNIST under the
    same name, or a folder whose files changed, get different classifiers.
    """
    return {"format": FORMAT_VERSION, "arch": repr(architecture(side, spec, num_classes, channels)),
            "dataset": dataset, "side": side, "channels": channels, "num_classes": num_classes,
            "data": fingerprint, "spec": dataclasses.asdict(spec)}


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


def augment(x: Tensor, spec: ClassifierSpec, generator: torch.Generator) -> Tensor:
    """Random translation by up to side // spec.shift_per_side pixels, then mirroring if the spec allows it."""
    x = random_shift(x, x.shape[-1] // spec.shift_per_side, generator)
    if spec.hflip:
        flip = torch.rand(x.shape[0], generator=generator) < 0.5
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    return x


def batches(count: int, batch_size: int, steps: int, generator: torch.Generator) -> Iterator[Tensor]:
    """`steps` index batches from successive shuffles of range(count) (a batch never spans two)."""
    done = 0
    while done < steps:
        for idx in torch.randperm(count, generator=generator).split(batch_size):
            if done == steps:
                return
            done += 1
            yield idx


@dataclass
class Fitted:
    model: EvalClassifier  # on the CPU, in eval mode, with the best validation weights
    val_accuracy: float  # best validation accuracy (nan without a validation split)
    best_step: int  # the step of those weights
    steps: int  # steps trained before stopping


class EarlyStopping:
    """Keeps the best validation accuracy's weights; says stop after `patience` checks without a gain."""

    def __init__(self, patience: int) -> None:
        self.patience, self.bad_checks = patience, 0
        self.best_accuracy, self.best_step, self.best_state = float("nan"), 0, None

    def update(self, step: int, val_accuracy: float, model: nn.Module) -> bool:
        if self.best_state is None or val_accuracy > self.best_accuracy:
            self.best_accuracy, self.best_step, self.bad_checks = val_accuracy, step, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.bad_checks += 1
        return self.bad_checks >= self.patience


def split_validation(spec: ClassifierSpec, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(train images, labels, validation images, labels): a stratified, seeded part of the training split."""
    val = torch.from_numpy(stratified_holdout(labels.numpy(), spec.val_fraction, spec.seed))
    return images[~val], labels[~val], images[val], labels[val]


def train_classifier(spec: ClassifierSpec, images: Tensor, labels: Tensor, num_classes: int) -> Fitted:
    """AdamW + one-cycle LR for at most `spec.steps` steps, early-stopped on validation accuracy.

    Bitwise repeatable for a thread count; the caller's RNG state and grad mode are left alone.
    """
    images, labels = images.detach().float().cpu(), labels.detach().long().cpu()
    train_x, train_y, val_x, val_y = split_validation(spec, images, labels)
    with deterministic_cpu(spec.seed), torch.enable_grad():
        model = EvalClassifier(images.shape[-1], spec, num_classes, images.shape[1])
        order = torch.Generator().manual_seed(spec.seed)
        opt = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, spec.lr, total_steps=spec.steps)
        stopper, step = EarlyStopping(spec.patience_checks), 0
        for step, idx in enumerate(batches(train_x.shape[0], spec.batch_size, spec.steps, order), 1):
            model.train()
            _, logits = model(augment(train_x[idx], spec, order))
            loss = F.cross_entropy(logits, train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if val_x.shape[0] and (step % spec.check_every_steps == 0 or step == spec.steps):
                if stopper.update(step, accuracy(model.eval(), val_x, val_y), model):
                    break
        if stopper.best_state is not None:
            model.load_state_dict(stopper.best_state)
    return Fitted(model.eval(), stopper.best_accuracy, stopper.best_step or step, step)


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
    val_accuracy: float = float("nan")  # best accuracy on the validation split carved from training
    steps: int = 0  # optimizer steps trained (early stopping may end before spec.steps)


def load_cached(path: Path, defn: dict, model: EvalClassifier) -> TrainedClassifier | None:
    """The classifier stored at `path` if the file holds exactly this definition, else None.

    `model` is the architecture on the meta device; the loaded tensors replace its parameters.
    """
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(payload, dict):  # a tensor indexed by a string would warn, then raise
            raise TypeError(f"a {type(payload).__name__}, not the classifier's dict")
        if payload["definition"] == json.dumps(defn, sort_keys=True):
            model.load_state_dict(payload["state_dict"], assign=True)
            return TrainedClassifier(model.eval(), float(payload["test_accuracy"]), path, False,
                                     float(payload["val_accuracy"]), int(payload["steps"]))
        print(f"warning: {path}: its stored definition differs from the expected one; retraining",
              file=sys.stderr, flush=True)
    except (OSError, EOFError, RuntimeError, KeyError, TypeError, IndexError, ValueError, AttributeError,
            pickle.UnpicklingError) as exc:  # anything a file of other contents makes the lookups raise
        # One line, as every warning of the harness (a Python warning prints the source line too).
        print(f"warning: {path}: unreadable evaluation classifier ({type(exc).__name__}); retraining",
              file=sys.stderr, flush=True)
    return None


def load_or_train(dataset: "ImageDataset", cache_dir: str | Path, spec: ClassifierSpec) -> TrainedClassifier:
    """The dataset's evaluation classifier from the cache, training and caching it on a miss.

    `dataset` is a labelled image dataset (`.name`, `.images`, `.labels`, `.test_images`,
    `.test_labels`, `.num_classes`); the classifier sees images at the dataset's configured size.
    """
    assert dataset.labels is not None and dataset.test_labels is not None and dataset.num_classes
    side, channels = dataset.images.shape[-1], dataset.images.shape[1]
    fingerprint = data_fingerprint(dataset.images, dataset.labels, dataset.test_images, dataset.test_labels)
    defn = definition(spec, dataset.name, side, dataset.num_classes, channels, fingerprint)
    path = cache_path(cache_dir, defn)
    cached = load_cached(path, defn, architecture(side, spec, dataset.num_classes, channels))
    if cached is not None:
        return cached
    start = time.perf_counter()
    fitted = train_classifier(spec, dataset.images, dataset.labels, dataset.num_classes)
    test_accuracy = accuracy(fitted.model, dataset.test_images.cpu(), dataset.test_labels.cpu())
    save_atomic({"definition": json.dumps(defn, sort_keys=True), "state_dict": fitted.model.state_dict(),
                 "test_accuracy": test_accuracy, "val_accuracy": fitted.val_accuracy, "steps": fitted.steps,
                 "train_seconds": time.perf_counter() - start}, path)
    return TrainedClassifier(fitted.model, test_accuracy, path, True, fitted.val_accuracy, fitted.steps)


def require_accuracy(dataset: str, test_accuracy: float, minimum: float) -> None:
    """Refuse (UserError) a classifier whose held-out accuracy is below `minimum`."""
    if test_accuracy < minimum:
        raise UserError(f"eval.classifier_min_accuracy: the evaluation classifier for {dataset} reaches "
                        f"{test_accuracy:.1%} test accuracy, below the {minimum:.1%} required; its metrics refuse "
                        "to run (lower the threshold knowingly, or use label-free metrics such as swd)")
