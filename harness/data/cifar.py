"""CIFAR-10 (32x32 RGB, 10 classes) from its python-batch files under data.root.

The files are read here rather than through torchvision's CIFAR10 class, which checks every
file's MD5 against the official archive and so refuses any other file in the same format (a
subset, or the tiny files the tests write). torchvision is used only to download.

A batch is a pickle, and `pickle.load` runs whatever code a pickle names; it is read instead by
harness.data.safe_pickle, which builds plain data and numpy arrays only. Then b"data" must hold N
rows of 3072 integers in 0..255 (an integer numpy array, as the official files, or a list) and
b"labels" N integers in 0..9; anything else is a one-line UserError naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from harness.data.base import DATASETS, DatasetEntry
from harness.data.images import RawSplits, image_loader, label_problem, to_unit_range
from harness.data.safe_pickle import RefusedGlobal, load_data
from harness.core.errors import UserError, first_line

if TYPE_CHECKING:
    from harness.core.schema import DataConfig

FOLDER = "cifar-10-batches-py"  # the archive's top folder, as torchvision unpacks it
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILES = ("test_batch",)
SIDE = 32
ROW = 3 * SIDE * SIDE  # one image's values in b"data": the R, G and B planes, 1024 bytes each
NUM_CLASSES = 10
ALL_INTS = object()  # int_list_array's "no odd element": no value a file can hold is this object


def not_a_batch(path: Path, why: str) -> UserError:
    return UserError(f"data.root: '{path}' is not a CIFAR-10 python batch: {why}")


def unpickled(path: Path) -> tuple[object, int]:
    """The file's pickle built as plain data (harness.data.safe_pickle: a batch is data, never code), and its size."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"data.root: cannot read '{path}': {exc.strerror}") from None
    try:
        return load_data(raw), len(raw)
    except RefusedGlobal as exc:  # the name is the file's choice: quoted, so it cannot break the line
        raise not_a_batch(path, f"it asks to load {shorten(exc.name)!r}, which a batch never holds "
                                "(refused: a data file may not run code)") from None
    except Exception as exc:  # noqa: BLE001 - whatever malformed bytes make the unpickler raise
        raise not_a_batch(path, f"it cannot be unpickled ({type(exc).__name__}: {shorten(first_line(exc))}); "
                                "delete it and download again") from None


def shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def integer_values(value: object, limit: int) -> np.ndarray | str:
    """`value` as an integer array when it is in one of a batch's two forms (a numpy array of integers, a
    list of ints), else what it is instead, for the message. `limit` (the file's size: a value costs at
    least a byte) keeps a crafted array from making the checks walk more values than the file holds."""
    if isinstance(value, list):
        value = int_list_array(value)
        if isinstance(value, str):
            return value
    if not isinstance(value, np.ndarray):
        return a_value(value)
    if value.dtype.kind not in "iu":
        return f"an array of {value.dtype.name}"
    return value if value.size <= limit else "more values than the file holds"


def a_value(value: object) -> str:
    """'None', 'an int', 'a float', ...: what a value is, for a message."""
    name = type(value).__name__
    return "None" if value is None else f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name}"


def int_list_array(values: list) -> np.ndarray | str:
    """A list of ints as int64, or what spoils it (numpy would turn ints beyond 64 bits into floats or objects)."""
    odd = next((v for v in values if type(v) is not int), ALL_INTS)
    if odd is not ALL_INTS:
        return f"a list with {a_value(odd)}"
    if any(v.bit_length() > 63 for v in values):
        return "a list with an integer beyond 64 bits"
    return np.array(values, dtype=np.int64)


def pixels_of(path: Path, value: object, limit: int) -> np.ndarray:
    """b"data" as uint8 (N, 3, 32, 32): rows of 3072 integers in 0..255."""
    values = integer_values(value, limit)
    if isinstance(values, str):
        raise not_a_batch(path, f'b"data" holds {values}, not pixels (integers in 0..255)')
    if values.size == 0 or values.size % ROW:
        raise not_a_batch(path, f'b"data" holds {values.size} values, not rows of {ROW} (one 32x32 RGB image each)')
    low, high = values.min(), values.max()
    if low < 0 or high > 255:
        raise not_a_batch(path, f'b"data" holds the value {low if low < 0 else high}, outside the pixel range 0..255')
    return values.astype(np.uint8).reshape(-1, 3, SIDE, SIDE)


def labels_of(path: Path, value: object, images: int, limit: int) -> np.ndarray:
    """b"labels" as int64 (N,): one class index in 0..9 per image."""
    labels = integer_values(value, limit)
    if isinstance(labels, str) or labels.ndim != 1:
        what = labels if isinstance(labels, str) else f"a {labels.ndim}-D array"
        raise not_a_batch(path, f'b"labels" holds {what}, not a list of class indices')
    problem = label_problem(labels, images, NUM_CLASSES)
    if problem:
        raise UserError(f"data.root: '{path}' has {images} images but labels that do not match ({problem}; "
                        f"one label in 0..{NUM_CLASSES - 1} per image)")
    return labels.astype(np.int64)


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of one python-batch file: a pickled dict whose
    b"data" holds N rows of 3072 pixels and b"labels" N class indices; anything else is a one-line UserError."""
    batch, size = unpickled(path)
    if not isinstance(batch, dict):
        raise not_a_batch(path, f"it holds {a_value(batch)}, not a dict")
    missing = [key for key in (b"data", b"labels") if key not in batch]
    if missing:
        raise not_a_batch(path, f"it has no {missing[0]!r} entry")
    data = pixels_of(path, batch[b"data"], size)
    return data, labels_of(path, batch[b"labels"], data.shape[0], size)


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
                                     num_classes=NUM_CLASSES, classifier_min_accuracy=0.60, flip_augment=True))
