"""CIFAR-10 (32x32 RGB, 10 classes) from its python-batch files under data.root.

The files are read here rather than through torchvision's CIFAR10 class, which checks every
file's MD5 against the official archive and so refuses any other file in the same format (a
subset, or the tiny files the tests write). torchvision is used only to download.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from harness.data.base import DATASETS, DatasetEntry
from harness.data.images import RawSplits, image_loader, to_unit_range
from harness.core.errors import UserError

if TYPE_CHECKING:
    from harness.core.schema import DataConfig

FOLDER = "cifar-10-batches-py"  # the archive's top folder, as torchvision unpacks it
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
SIDE = 32


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of one python-batch file."""
    try:
        with path.open("rb") as f:
            batch = pickle.load(f, encoding="bytes")  # the format is a pickled dict of bytes keys
        data = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, SIDE, SIDE)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except OSError as exc:
        raise UserError(f"data.root: cannot read '{path}': {exc.strerror}") from None
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise UserError(f"data.root: '{path}' is not a CIFAR-10 python batch ({type(exc).__name__}); "
                        "delete it and download again") from None
    if labels.shape != (data.shape[0],) or labels.size == 0 or labels.min() < 0 or labels.max() > 9:
        raise UserError(f"data.root: '{path}' has {data.shape[0]} images but labels that do not match "
                        "(one label in 0..9 per image)")
    return data, labels


def read_files(folder: Path, names: tuple[str, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    parts = [read_batch(folder / name) for name in names]
    images = torch.from_numpy(np.concatenate([p[0] for p in parts]))
    return to_unit_range(images, 255.0), torch.from_numpy(np.concatenate([p[1] for p in parts]))


def download(root: str) -> None:
    import torchvision

    try:
        torchvision.datasets.CIFAR10(root=root, train=True, download=True)
    except (OSError, RuntimeError) as exc:  # no network, permission denied, a bad archive
        raise UserError(f"data.download: fetching cifar10 into '{Path(root) / FOLDER}' failed: {exc}") from None


def read_cifar10(cfg: "DataConfig") -> RawSplits:
    """The five training batches and the test batch; downloaded first when data.download is true."""
    folder = Path(cfg.root) / FOLDER
    missing = [name for name in TRAIN_FILES + TEST_FILES if not (folder / name).is_file()]
    if missing and cfg.download:
        download(cfg.root)
        missing = [name for name in TRAIN_FILES + TEST_FILES if not (folder / name).is_file()]
    if missing:
        raise UserError(f"data.root: cifar10 files {', '.join(missing)} not found under '{folder}' and "
                        "data.download is false; set data.download: true or place the python-batch files there")
    train_x, train_y = read_files(folder, TRAIN_FILES)
    test_x, test_y = read_files(folder, TEST_FILES)
    return RawSplits(train_x, train_y, test_x, test_y)


# The threshold is a floor for a small CNN at a fixed step budget on real CIFAR-10 (docs/metrics.md).
DATASETS.add("cifar10", DatasetEntry("images", image_loader(read_cifar10), native_size=SIDE, channels=3,
                                     num_classes=10, classifier_min_accuracy=0.60, flip_augment=True))
