"""Image datasets held as one tensor on the device: scikit-learn digits, MNIST, Fashion-MNIST.

Whole datasets fit in device memory (MNIST is 188 MB as float32), so a batch is an index into
a resident tensor: no DataLoader, no worker processes, no host-to-device copy per step.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from harness.data.base import DATASETS, DatasetEntry
from harness.errors import UserError

if TYPE_CHECKING:
    from harness.schema import DataConfig

Splits = tuple[Tensor, Tensor, Tensor, Tensor]  # train images, train labels, test images, test labels


class ImageTensorDataset:
    """Shuffled epochs over a resident image tensor; the permutation lives on the device."""

    kind = "images"

    def __init__(self, name: str, splits: Splits, num_classes: int) -> None:
        self.name = name
        self.images, self.labels, self.test_images, self.test_labels = splits
        self.num_classes = num_classes
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


def resize(images: Tensor, size: int | None) -> Tensor:
    if size is None or size == images.shape[-1]:
        return images
    antialias = size < images.shape[-1]
    out = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=antialias)
    return out.clamp_(-1.0, 1.0)


def load_digits_splits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (1797 images, no download), split 80/20 stratified, fixed seed."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = digits.images.astype(np.float32)[:, None]  # (N, 1, 8, 8), values 0..16
    return tuple(train_test_split(x, digits.target, test_size=0.2, random_state=0, stratify=digits.target))


@functools.lru_cache(maxsize=8)
def cached_splits(name: str, root: str, download: bool, size: int | None, device: str) -> Splits:
    """Load and move a dataset to the device once per process; every trial in a worker reuses it."""
    if name == "digits":
        x_train, x_test, y_train, y_test = load_digits_splits()
        arrays = (to_unit_range(torch.from_numpy(x_train), 16.0), torch.from_numpy(y_train),
                  to_unit_range(torch.from_numpy(x_test), 16.0), torch.from_numpy(y_test))
    else:
        arrays = load_torchvision_splits(name, root, download)
    train_x, train_y, test_x, test_y = arrays
    return (resize(train_x, size).to(device), train_y.long().to(device),
            resize(test_x, size).to(device), test_y.long().to(device))


TORCHVISION_CLASSES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}


def load_torchvision_splits(name: str, root: str, download: bool) -> Splits:
    import torchvision

    cls_name = TORCHVISION_CLASSES[name]
    cls = getattr(torchvision.datasets, cls_name)
    raw = Path(root) / cls_name / "raw"
    try:
        train, test = (cls(root=root, train=flag, download=download) for flag in (True, False))
    except RuntimeError as exc:
        if not download:
            raise UserError(
                f"data.root: {name} not found under '{raw}' and data.download is false; "
                "set data.download: true or place the IDX files there"
            ) from None
        raise UserError(f"data.download: fetching {name} into '{raw}' failed: {exc}") from None
    except OSError as exc:  # no network, permission denied, ...
        raise UserError(f"data.download: fetching {name} into '{raw}' failed: {exc}") from None
    except (ValueError, AssertionError, IndexError) as exc:  # a truncated or zero-byte IDX file
        raise UserError(f"data.root: the {name} files under '{raw}' are corrupt or incomplete ({exc}); "
                        "delete them and download again") from None
    return (to_unit_range(train.data[:, None], 255.0), train.targets,
            to_unit_range(test.data[:, None], 255.0), test.targets)


def load_images(cfg: "DataConfig", device: torch.device) -> ImageTensorDataset:
    splits = cached_splits(cfg.name, cfg.root, cfg.download, cfg.image_size, str(device))
    return ImageTensorDataset(cfg.name, splits, num_classes=10)


DATASETS.add("digits", DatasetEntry("images", load_images, native_size=8))
DATASETS.add("mnist", DatasetEntry("images", load_images, native_size=28))
DATASETS.add("fashion_mnist", DatasetEntry("images", load_images, native_size=28))
