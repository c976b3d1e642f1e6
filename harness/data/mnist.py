"""MNIST and Fashion-MNIST from their four IDX files under data.root/<MNIST|FashionMNIST>/raw.

The files are parsed here with numpy rather than through torchvision's MNIST class, so that every
malformed file is one line naming it: an IDX header holds a type code and the sizes of each
dimension, and these are checked against the file's length before anything is allocated (a header
can claim 2**31 images in 16 bytes). Only unsigned bytes (type 0x08) are admitted, images 28x28
and labels 0..9, as many labels as images. torchvision is used only to download.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from harness.data.base import DATASETS, DatasetEntry
from harness.data.images import RawSplits, SplitReader, image_loader, label_problem, to_unit_range
from harness.core.errors import UserError

if TYPE_CHECKING:
    from harness.core.schema import DataConfig

SIDE = 28
NUM_CLASSES = 10
SPLITS = ("train", "t10k")  # the file names' prefixes: the training and the test split
UBYTE = 0x08
IDX_TYPES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32",
             0x0E: "float64"}  # the type codes the format defines, named for the message


def file_names(split: str) -> tuple[str, str]:
    """(images, labels) file names of a split, as the archives unpack them."""
    return f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte"


def corrupt(path: Path, name: str, why: str) -> UserError:
    return UserError(f"data.root: {name} file '{path}' is corrupt or incomplete: {why}; delete it and download again")


def header_shape(head: bytes, dims: int) -> tuple[int, ...] | str:
    """The sizes an IDX header of `dims` dimensions declares, or what is wrong with it."""
    if len(head) < 4:
        return f"it ends after {len(head)} bytes, inside its 4-byte magic number" if head else "it is empty (0 bytes)"
    if head[:2] != b"\0\0":
        return f"it starts with 0x{head[:4].hex()}, not an IDX magic number (0x0000, a type, the dimensions)"
    if head[2] != UBYTE:
        kind = IDX_TYPES.get(head[2], "unknown")
        return f"it holds {kind} values (IDX type 0x{head[2]:02x}), not unsigned bytes (0x08)"
    if head[3] != dims:
        return f"it has {head[3]} dimensions, not {dims}"
    if len(head) < 4 + 4 * dims:
        return f"it ends after {len(head)} bytes, inside its {4 + 4 * dims}-byte header"
    return tuple(int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))


def read_idx(path: Path, dims: int, name: str) -> np.ndarray:
    """The uint8 array of an IDX file of `dims` dimensions; never allocates more than the file holds."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            shape = header_shape(f.read(4 + 4 * dims), dims)
            if isinstance(shape, str):
                raise corrupt(path, name, shape)
            header, count = 4 + 4 * dims, math.prod(shape)
            if size != header + count:
                raise corrupt(path, name, f"it holds {size} bytes but its header declares "
                                          f"{'x'.join(map(str, shape))} values ({header + count} bytes)")
            values = bytearray(count)  # writable, so torch.from_numpy needs no copy
            read = f.readinto(values)
    except OSError as exc:
        raise UserError(f"data.root: cannot read {name} file '{path}': {exc.strerror}") from None
    if read != count:  # the file shrank while it was read
        raise corrupt(path, name, f"it ended after {header + read} bytes")
    return np.frombuffer(values, dtype=np.uint8).reshape(shape)


def read_split(raw: Path, split: str, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A split's images (N, 1, 28, 28) in [-1, 1] and int64 labels (N,), each file checked against the other."""
    images_path, labels_path = (raw / file for file in file_names(split))
    images, labels = read_idx(images_path, 3, name), read_idx(labels_path, 1, name)
    if images.shape[0] == 0 or images.shape[1:] != (SIDE, SIDE):
        raise corrupt(images_path, name, f"it holds {'x'.join(map(str, images.shape))} pixels, not N images of "
                                         f"{SIDE}x{SIDE} (N > 0)")
    problem = label_problem(labels, images.shape[0], NUM_CLASSES, images_in=f" in '{images_path.name}'")
    if problem:
        raise corrupt(labels_path, name, problem)
    return to_unit_range(torch.from_numpy(images)[:, None], 255.0), torch.from_numpy(labels).long()


def missing(raw: Path) -> list[str]:
    return [file for split in SPLITS for file in file_names(split) if not (raw / file).is_file()]


def download(cls_name: str, cfg: "DataConfig", raw: Path) -> None:
    import torchvision

    try:  # fetches all four files (the test split's too) and unpacks them under raw
        getattr(torchvision.datasets, cls_name)(root=cfg.root, train=True, download=True)
    except (OSError, RuntimeError, ValueError, AssertionError, TypeError) as exc:  # no network, a bad archive
        raise UserError(f"data.download: fetching {cfg.name} into '{raw}' failed: {exc}") from None
    if missing(raw):
        raise UserError(f"data.download: fetching {cfg.name} into '{raw}' left {', '.join(missing(raw))} missing")


def idx_reader(cls_name: str) -> SplitReader:
    """Reader of MNIST-format IDX files under data.root/<cls_name>/raw, downloading them on request."""

    def read(cfg: "DataConfig") -> RawSplits:
        raw = Path(cfg.root) / cls_name / "raw"
        if missing(raw) and cfg.download:
            download(cls_name, cfg, raw)
        if missing(raw):
            raise UserError(f"data.root: {cfg.name} not found under '{raw}' and data.download is false; "
                            "set data.download: true or place the IDX files there")
        (train_x, train_y), (test_x, test_y) = (read_split(raw, split, cfg.name) for split in SPLITS)
        return RawSplits(train_x, train_y, test_x, test_y)

    return read


# Thresholds of eval.classifier_min_accuracy; measured accuracies are in docs/metrics.md.
DATASETS.add("mnist", DatasetEntry("images", image_loader(idx_reader("MNIST")), native_size=SIDE,
                                   num_classes=NUM_CLASSES, classifier_min_accuracy=0.97))
DATASETS.add("fashion_mnist", DatasetEntry("images", image_loader(idx_reader("FashionMNIST")),
                                           native_size=SIDE, num_classes=NUM_CLASSES, classifier_min_accuracy=0.85))
