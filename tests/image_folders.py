"""Test data on disk: image folders (from scikit-learn's digits) and CIFAR-10 python-batch files.

The file formats are written by benchmarks/own_data.py, the one writer of IDX and CIFAR batches.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.own_data import write_cifar_batch


def digit_pixels(count: int, side: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` scikit-learn digits as uint8 (count, side, side) images upscaled from 8 px, and their labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    idx = (np.arange(count) + offset) % len(digits.target)
    images = [np.asarray(Image.fromarray((digits.images[i] * 255 / 16).astype(np.uint8)).resize(
        (side, side), Image.Resampling.BILINEAR)) for i in idx]
    return np.stack(images), digits.target[idx]


def save(pixels: np.ndarray, path: Path, mode: str) -> None:
    """A grayscale array as an image file in `mode` ("L", "RGB" tinted, "RGBA"); format from the suffix."""
    image = Image.fromarray(pixels)
    if mode != "L":
        rgb = np.stack([pixels, pixels // 2, 255 - pixels], axis=-1).astype(np.uint8)
        image = Image.fromarray(rgb).convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


def write_class_folders(root: Path, per_class: int = 3, classes: int = 3, side: int = 12, mode: str = "L",
                        suffix: str = ".png") -> Path:
    """root/<digit>/<i><suffix>: `per_class` images of each of the first `classes` digit classes."""
    pixels, labels = digit_pixels(400, side)
    for c in range(classes):
        for i, k in enumerate(np.flatnonzero(labels == c)[:per_class]):
            save(pixels[k], root / f"digit{c}" / f"{i:04d}{suffix}", mode)
    return root


def write_png_bomb(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A valid PNG header that declares width x height pixels, in well under a kilobyte (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def write_flat_folder(root: Path, count: int = 6, side: int = 12, mode: str = "L") -> Path:
    pixels, _ = digit_pixels(count, side)
    for i in range(count):
        save(pixels[i], root / f"{i:04d}.png", mode)
    return root


def write_cifar10(root: Path, per_batch: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tiny data_batch_1..5 and test_batch of random pixels under root/cifar-10-batches-py; returns (train, test)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    train = []
    for b in range(1, 6):
        images = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
        write_cifar_batch(folder / f"data_batch_{b}", images, [(b + i) % 10 for i in range(per_batch)])
        train.append(images)
    test = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
    write_cifar_batch(folder / "test_batch", test, list(range(per_batch)))
    return np.concatenate(train), test
