"""Image datasets held as one tensor on the device, and scikit-learn's digits.

Whole datasets fit in device memory (MNIST is 188 MB as float32), so a batch is an index into
a resident tensor: no DataLoader, no worker processes, no host-to-device copy per step. Each
entry names a reader that returns the CPU splits; `image_loader` resizes them, moves them to the
device once per process and wraps them. `mnist.py`, `cifar.py` and `folder.py` add entries the same way.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from harness.data.base import DATASETS, DatasetEntry, dataset_entry
from harness.core.errors import UserError

if TYPE_CHECKING:
    from harness.core.schema import DataConfig

Splits = tuple[Tensor, Tensor | None, Tensor, Tensor | None]  # train images, labels, test images, labels


class RawSplits(NamedTuple):
    """A reader's output on the CPU: images float in [-1, 1] (N, C, H, W), labels long or None."""

    train_images: Tensor
    train_labels: Tensor | None
    test_images: Tensor
    test_labels: Tensor | None
    info: dict[str, float] = {}  # facts about the split worth logging (sizes, seed)


SplitReader = Callable[["DataConfig"], RawSplits]


class ImageTensorDataset:
    """Shuffled epochs over a resident image tensor; the permutation lives on the device."""

    kind = "images"

    def __init__(self, name: str, splits: Splits, num_classes: int | None,
                 info: dict[str, float] | None = None) -> None:
        self.name = name
        self.images, self.labels, self.test_images, self.test_labels = splits
        self.num_classes = num_classes
        self.info = dict(info or {})
        self.sample_shape = tuple(self.images.shape[1:])
        self._perm = torch.randperm(self.images.shape[0], device=self.images.device)
        self._pos = 0

    def sample(self, n: int) -> Tensor:
        size = self.images.shape[0]
        if n > size:  # a batch larger than the dataset spans several shuffled epochs
            return torch.cat([self.sample(min(size, n - start)) for start in range(0, n, size)])
        if self._pos + n > size:  # the epoch's remainder is too short for a batch: reshuffle
            self._perm = torch.randperm(size, device=self.images.device)
            self._pos = 0
        idx = self._perm[self._pos : self._pos + n]
        self._pos += n
        return self.images[idx]

    def state_dict(self) -> dict[str, Any]:
        return {"perm": self._perm.cpu(), "pos": self._pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._perm = state["perm"].to(self.images.device)
        self._pos = int(state["pos"])


def to_unit_range(pixels: Tensor, max_value: float) -> Tensor:
    """Map [0, max_value] to [-1, 1], the range of the generator's tanh."""
    return pixels.float() / max_value * 2.0 - 1.0


def label_problem(labels: np.ndarray, images: int, classes: int, images_in: str = "") -> str | None:
    """Why integer `labels` cannot label `images` images of `classes` classes (one index in 0..classes-1
    each), or None; the readers say which file, in their own words (`images_in`: where the images are)."""
    if labels.shape != (images,):
        return f"{labels.size} labels for {images} images{images_in}"
    low, high = (labels.min(), labels.max()) if labels.size else (0, 0)
    if low < 0 or high >= classes:
        return f"label {low if low < 0 else high}, outside 0..{classes - 1}"
    return None


def resize(images: Tensor, size: int | None) -> Tensor:
    if size is None or size == images.shape[-1]:
        return images
    antialias = size < images.shape[-1]
    out = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=antialias)
    return out.clamp_(-1.0, 1.0)


def to_device(x: Tensor | None, device: str, name: str) -> Tensor | None:
    """Move one split to the device; running out of memory is the user's problem to fix, said in one line."""
    if x is None:
        return None
    try:
        return x.to(device)
    except torch.cuda.OutOfMemoryError:
        gib = x.numel() * x.element_size() / 2**30
        raise UserError(f"data.name: {name}'s {tuple(x.shape)} images ({gib:.1f} GiB as float32) do not fit in "
                        f"{device} memory; lower data.image_size or use fewer images") from None


@functools.lru_cache(maxsize=8)
def cached_splits(read: SplitReader, cfg: "DataConfig", device: str, where: str) -> tuple[Splits, dict[str, float]]:
    """Read, resize and move a dataset to the device once per process; every trial in a worker reuses it.

    `where` is data.root made absolute: only a key, since a relative root names another folder after a
    change of working directory (a process that runs several commands, as the tests do)."""
    raw = read(cfg)
    labels = [None if y is None else y.long() for y in (raw.train_labels, raw.test_labels)]
    splits = (resize(raw.train_images, cfg.image_size), labels[0], resize(raw.test_images, cfg.image_size), labels[1])
    return tuple(to_device(x, device, cfg.name) for x in splits), dict(raw.info)  # type: ignore[return-value]


def image_loader(read: SplitReader) -> Callable[["DataConfig", torch.device], ImageTensorDataset]:
    """An entry's `load`: the reader's splits, cached on the device, with the entry's class count."""

    def load(cfg: "DataConfig", device: torch.device) -> ImageTensorDataset:
        splits, info = cached_splits(read, cfg, str(device), os.path.abspath(cfg.root))
        return ImageTensorDataset(cfg.name, splits, dataset_entry(cfg).num_classes, info)

    return load


def read_digits(cfg: "DataConfig") -> RawSplits:
    """scikit-learn's bundled 8x8 digits (1797 images, no download), split 80/20 stratified, fixed seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.images.astype(np.float32)[:, None]  # (N, 1, 8, 8), values 0..16
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.2, random_state=0,
                                                        stratify=digits.target)
    return RawSplits(to_unit_range(torch.from_numpy(x_train), 16.0), torch.from_numpy(y_train),
                     to_unit_range(torch.from_numpy(x_test), 16.0), torch.from_numpy(y_test))


# The threshold of eval.classifier_min_accuracy; measured accuracies are in docs/metrics.md.
DATASETS.add("digits", DatasetEntry("images", image_loader(read_digits), native_size=8, num_classes=10,
                                    classifier_min_accuracy=0.97))
