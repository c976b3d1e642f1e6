"""Your own images: a folder of PNG/JPEG files, labelled by class sub-folders or flat and unlabelled.

Layouts (as torchvision's ImageFolder; hidden files and non-image files are ignored):
- `root/<class>/**/<image>`: one sub-folder per class, classes in sorted order of their names;
- `root/<image>`: a flat folder, unlabelled (label-free metrics only).
Every image is converted to `data.channels` (1: grayscale, 3: RGB, the default), scaled so its
shorter side is `data.image_size` and center-cropped to a square of that side. A held-out split
of TEST_FRACTION of each class (stratified), drawn with the fixed SPLIT_SEED from the sorted
file list, is the test split; its sizes and seed go to `dataset.info`, which runs log.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from harness.data.base import DATASETS, DatasetEntry, stratified_holdout, with_properties
from harness.data.images import RawSplits, image_loader, to_unit_range
from harness.errors import ConfigError, UserError

if TYPE_CHECKING:
    from harness.schema import DataConfig

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
TEST_FRACTION = 0.2
SPLIT_SEED = 0
MEMORY_HEADROOM = 2.0  # decoding holds the uint8 array and the float32 tensor at once


@dataclass(frozen=True)
class Layout:
    classes: tuple[str, ...] | None  # None: flat and unlabelled
    files: tuple[Path, ...]  # sorted within each class, classes in order
    labels: tuple[int, ...]


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def class_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and is_image(p))
    if not files:
        raise UserError(f"data.root: class folder '{folder}' holds no images ({', '.join(IMAGE_SUFFIXES)})")
    if len(files) < 2:
        raise UserError(f"data.root: class folder '{folder}' has 1 image; a held-out split needs at least 2 per class")
    return files


@functools.lru_cache(maxsize=8)
def scan(root: str) -> Layout:
    """The folder's layout and files; one-line errors naming the path for anything unusable."""
    top = Path(root)
    if not top.is_dir():
        raise UserError(f"data.root: '{top}' is not a folder (data.name folder reads images from it)")
    entries = sorted(p for p in top.iterdir() if not p.name.startswith("."))
    folders, images = [p for p in entries if p.is_dir()], [p for p in entries if p.is_file() and is_image(p)]
    if folders and images:
        raise UserError(f"data.root: '{top}' mixes image files ('{images[0].name}') with class sub-folders "
                        f"('{folders[0].name}/'); use one layout: only sub-folders, or only images")
    if not folders and not images:
        raise UserError(f"data.root: '{top}' holds no images ({', '.join(IMAGE_SUFFIXES)}) and no class sub-folders")
    if not folders:
        if len(images) < 2:
            raise UserError(f"data.root: '{top}' has 1 image; a held-out split needs at least 2")
        return Layout(None, tuple(images), (0,) * len(images))
    per_class = [class_files(folder) for folder in folders]
    labels = tuple(i for i, files in enumerate(per_class) for _ in files)
    return Layout(tuple(f.name for f in folders), tuple(p for files in per_class for p in files), labels)


def describe(cfg: "DataConfig") -> DatasetEntry:
    """The folder's properties from its layout alone (no image is decoded)."""
    if cfg.image_size is None:
        raise ConfigError("data.image_size", "null: data.name 'folder' has no native size; set data.image_size "
                                             "(e.g. 32; every image is resized and center-cropped to it)")
    layout = scan(str(Path(cfg.root).expanduser().resolve()))
    num_classes = None if layout.classes is None or len(layout.classes) < 2 else len(layout.classes)
    return with_properties(DATASETS.get(cfg.name), native_size=cfg.image_size, channels=cfg.channels or 3,
                           num_classes=num_classes)


def check_memory(count: int, channels: int, side: int, root: Path) -> None:
    """Refuse, before decoding, a folder whose float32 tensor would not fit in the free host memory."""
    need = count * channels * side * side * 4 * MEMORY_HEADROOM
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not Linux: let the allocation itself fail
        return
    if need > free:
        raise UserError(f"data.root: the {count} images of '{root}' need {need / 2**30:.1f} GiB at {channels}x{side}x"
                        f"{side} but {free / 2**30:.1f} GiB are free; lower data.image_size or use fewer images")


def decode(path: Path, channels: int, side: int) -> np.ndarray:
    """One image as uint8 (C, side, side): converted, scaled on its shorter side, center-cropped."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            fitted = ImageOps.fit(img, (side, side), method=Image.Resampling.BICUBIC, centering=(0.5, 0.5))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise UserError(f"data.root: cannot read image '{path}' ({type(exc).__name__}: {exc})") from None
    pixels = np.asarray(fitted, dtype=np.uint8)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def read_folder(cfg: "DataConfig") -> RawSplits:
    """Decode every image once, then split held-out images off with the fixed seed."""
    from tqdm import tqdm

    root = Path(cfg.root).expanduser().resolve()
    layout, channels, side = scan(str(root)), cfg.channels or 3, cfg.image_size
    check_memory(len(layout.files), channels, side, root)
    pixels = np.empty((len(layout.files), channels, side, side), dtype=np.uint8)
    for i, path in enumerate(tqdm(layout.files, desc=f"reading {root.name}", unit="img", leave=False,
                                  disable=None if len(layout.files) >= 1000 else True)):  # None: off a terminal
        pixels[i] = decode(path, channels, side)
    images, labels = to_unit_range(torch.from_numpy(pixels), 255.0), np.asarray(layout.labels)
    test = stratified_holdout(labels, TEST_FRACTION, SPLIT_SEED)
    targets = None if layout.classes is None else torch.from_numpy(labels)
    split = torch.from_numpy(test)
    info = {"data_train_images": float((~test).sum()), "data_test_images": float(test.sum()),
            "data_split_seed": float(SPLIT_SEED), "data_test_fraction": TEST_FRACTION}
    return RawSplits(images[~split], None if targets is None else targets[~split], images[split],
                     None if targets is None else targets[split], info)


# classifier_min_accuracy: a floor for unknown data; raise it (eval.classifier_min_accuracy) when
# your classes are as easy as digits, lower it knowingly when they are hard.
DATASETS.add("folder", DatasetEntry("images", image_loader(read_folder), channels=3, classifier_min_accuracy=0.80,
                                    describe=describe))
