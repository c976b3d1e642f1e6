"""Your own images: a folder of PNG/JPEG files, labelled by class sub-folders or flat and unlabelled.

Layouts (as torchvision's ImageFolder; hidden files and non-image files are ignored):
- `root/<class>/**/<image>`: one sub-folder per class, classes in sorted order of their names;
- `root/<image>`: a flat folder, unlabelled (label-free metrics only).
Every image is converted to `data.channels` (1: grayscale, 3: RGB, the default), scaled so its
shorter side is `data.image_size` and center-cropped to a square of that side. A held-out split
of TEST_FRACTION of each class (stratified), drawn with the fixed SPLIT_SEED from the sorted
file list, is the test split; its sizes and seed go to `dataset.info`, which runs log.
A file over MAX_PIXELS or that cannot be decoded is skipped, counted in one warning line; symlinks
are followed only inside `data.root` (harness.data.folder_scan).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch

from harness.data.base import DATASETS, DatasetEntry, stratified_holdout, with_properties
from harness.data.folder_scan import IMAGE_SUFFIXES, Layout, is_image, resolve_root, scan  # noqa: F401
from harness.data.images import RawSplits, image_loader, to_unit_range
from harness.core.errors import ConfigError, UserError, first_line

if TYPE_CHECKING:
    from harness.core.schema import DataConfig

TEST_FRACTION = 0.2
SPLIT_SEED = 0
MEMORY_HEADROOM = 2.0  # decoding holds the uint8 array and the float32 tensor at once
# Pixels an image may declare. A PNG's header can claim 20000x20000 in a few bytes (a "decompression
# bomb"); decoding it would take gigabytes. 64 megapixels is more than any camera photo; such files
# are skipped, with a count in one warning line, like files that cannot be decoded.
MAX_PIXELS = 64_000_000


def describe(cfg: "DataConfig") -> DatasetEntry:
    """The folder's properties from its layout alone (no image is decoded)."""
    if cfg.image_size is None:
        raise ConfigError("data.image_size", "null: data.name 'folder' has no native size; set data.image_size "
                                             "(e.g. 32; every image is resized and center-cropped to it)")
    layout = scan(str(resolve_root(cfg.root)))
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


class Skipped(NamedTuple):
    """A file left out of the dataset, and why."""

    path: Path
    too_big: bool  # over MAX_PIXELS; otherwise unreadable
    reason: str


def decode(path: Path, channels: int, side: int) -> np.ndarray | Skipped:
    """One image as uint8 (C, side, side) (converted, scaled on its shorter side, center-cropped), or
    why it is skipped: over MAX_PIXELS, or not decodable."""
    from PIL import Image, ImageOps

    try:
        # PIL warns about large images and damaged metadata ("Corrupt EXIF data"), a Python warning of
        # two lines per file: the pixel limit below and decoding itself decide, said in one line per folder.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                if img.width * img.height > MAX_PIXELS:
                    return Skipped(path, True, f"{img.width}x{img.height} pixels")
                img = img.convert("L" if channels == 1 else "RGB")
                fitted = ImageOps.fit(img, (side, side), method=Image.Resampling.BICUBIC, centering=(0.5, 0.5))
    except Image.DecompressionBombError as exc:  # PIL's own, larger limit, checked as the header is read
        return Skipped(path, True, first_line(exc).partition(" exceeds")[0])
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file, whatever PIL raises for it
        return Skipped(path, False, f"{type(exc).__name__}: {first_line(exc)}")
    pixels = np.asarray(fitted, dtype=np.uint8)
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


def decode_all(layout: Layout, root: Path, channels: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The usable images and their labels; skipped files are counted in one warning line."""
    from tqdm import tqdm

    pixels = np.empty((len(layout.files), channels, side, side), dtype=np.uint8)
    kept = np.ones(len(layout.files), dtype=bool)
    skipped: list[Skipped] = []
    for i, path in enumerate(tqdm(layout.files, desc=f"reading {root.name}", unit="img", leave=False,
                                  disable=None if len(layout.files) >= 1000 else True)):  # None: off a terminal
        image = decode(path, channels, side)
        if isinstance(image, Skipped):
            kept[i] = False
            skipped.append(image)
        else:
            pixels[i] = image
    labels = np.asarray(layout.labels)[kept]
    check_enough_left(layout, labels, root, skipped)
    if skipped:
        print(f"warning: data.root: {skipped_text(skipped, len(layout.files), root)}", file=sys.stderr, flush=True)
    return pixels[kept], labels


def skipped_text(skipped: list[Skipped], total: int, root: Path) -> str:
    over = sum(s.too_big for s in skipped)
    first = skipped[0]
    return (f"skipped {len(skipped)} of {total} files in '{root}' ({over} over {MAX_PIXELS:,} pixels, "
            f"{len(skipped) - over} unreadable), e.g. '{first.path.relative_to(root)}' ({first.reason})")


def check_enough_left(layout: Layout, labels: np.ndarray, root: Path, skipped: list[Skipped]) -> None:
    """Every class (or the flat folder) still holds the two images a held-out split needs."""
    names = layout.classes or (None,)
    for label, name in enumerate(names):
        left = int((labels == label).sum())
        if left < 2:
            where = f"class folder '{root / name}'" if name else f"'{root}'"
            raise UserError(f"data.root: {where} has {left} usable image(s), a held-out split needs at least 2; "
                            f"{skipped_text(skipped, len(layout.files), root)}")


def read_folder(cfg: "DataConfig") -> RawSplits:
    """Decode every image once, then split held-out images off with the fixed seed."""
    root = resolve_root(cfg.root)
    layout, channels, side = scan(str(root)), cfg.channels or 3, cfg.image_size
    check_memory(len(layout.files), channels, side, root)
    pixels, labels = decode_all(layout, root, channels, side)
    images = to_unit_range(torch.from_numpy(pixels), 255.0)
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
