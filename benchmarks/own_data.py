"""Your-own-data sets from scikit-learn's digits, and the evaluation classifier's accuracy on each.

    python benchmarks/own_data.py OUT            # write the sets under OUT, then measure the classifier
    python benchmarks/own_data.py OUT --write-only

It writes, from the 1,797 bundled digits (no download):
- `OUT/classes/<digit>/*.png`: every digit twice (plain and jittered), 32 or 40 px, tinted RGB:
  3,594 files for `data.name: folder` (one sub-folder per class);
- `OUT/flat/*.png`: the same files in one folder, unlabelled (label-free metrics only);
- `OUT/mnist/MNIST/raw/*-ubyte`: a 4,000 / 1,000 MNIST-format IDX set at 28 px for `data.name: mnist`;
- `OUT/cifar/cifar-10-batches-py/`: a 5,000 / 1,000 CIFAR-10-format set of coloured digits at 32 px.

Jittered copies are rotated (up to 12 degrees) and shifted (up to 1.75 px at 28 px) at random, so the
sets are bigger than digits without repeating it pixel for pixel. The IDX and CIFAR train and test
splits come from disjoint source digits (80/20 stratified): their test images are digits the
classifier never saw in any form. docs/metrics.md quotes the table this prints; the run that made
it is named there.
"""

from __future__ import annotations

import argparse
import pickle
import struct
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from a checkout

SEED = 0
FULL = {"sources": None, "mnist": (4000, 1000), "cifar": (5000, 1000)}  # the sets docs/metrics.md measures
SMALL = {"sources": 200, "mnist": (100, 50), "cifar": (100, 50)}  # --small: seconds, for the tests


def digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits as uint8 (N, 8, 8) images in 0..255, and their labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images * 255 / 16).round().astype(np.uint8), data.target


def jittered(image: np.ndarray, side: int, rng: np.random.Generator, jitter: bool) -> np.ndarray:
    """One 8x8 digit upscaled to `side` px, optionally rotated (±12°) and shifted (±side/16 px)."""
    big = Image.fromarray(image).resize((side, side), Image.Resampling.BILINEAR)
    if jitter:
        shift = rng.uniform(-side / 16, side / 16, size=2)
        big = big.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BILINEAR,
                         translate=(float(shift[0]), float(shift[1])))
    return np.asarray(big)


def coloured(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A grayscale digit painted with a random foreground over a random background: (3, H, W) uint8."""
    fg, bg = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    alpha = gray.astype(np.float32)[None] / 255
    return (alpha * fg[:, None, None] + (1 - alpha) * bg[:, None, None]).round().astype(np.uint8)


def write_folders(out: Path, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> int:
    """Every digit plain and jittered, at 32 or 40 px (mixed sizes are resized on load), tinted RGB."""
    count = 0
    for i, (image, label) in enumerate(zip(images, labels)):
        for copy in (0, 1):
            side = (32, 40)[(i + copy) % 2]
            gray = jittered(image, side, rng, jitter=bool(copy))
            rgb = Image.fromarray(np.stack([gray, gray // 2, 255 - gray], axis=-1))
            for path in (out / "classes" / f"digit{label}" / f"{i:04d}-{copy}.png", out / "flat" / f"{i:04d}-{copy}.png"):
                path.parent.mkdir(parents=True, exist_ok=True)
                rgb.save(path)
            count += 1
    return count


def disjoint_copies(images: np.ndarray, labels: np.ndarray, counts: tuple[int, int], side: int,
                    rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) jittered copies at `side` px, each split drawn only from its own source digits."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(labels))
    train_idx, test_idx = train_test_split(index, test_size=0.2, random_state=SEED, stratify=labels)
    splits = []
    for idx, count in zip((train_idx, test_idx), counts):
        pick = rng.choice(idx, size=count, replace=True)
        splits.append((np.stack([jittered(images[k], side, rng, jitter=True) for k in pick]), labels[pick]))
    return splits


def write_idx(raw: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """`<split>-images-idx3-ubyte` and `<split>-labels-idx1-ubyte` under `raw`, as torchvision's MNIST reads them."""
    raw.mkdir(parents=True, exist_ok=True)
    n, rows, cols = images.shape
    (raw / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">4i", 2051, n, rows, cols)
                                                    + images.astype(np.uint8).tobytes())
    (raw / f"{split}-labels-idx1-ubyte").write_bytes(struct.pack(">2i", 2049, n) + labels.astype(np.uint8).tobytes())


def write_cifar_batch(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """A CIFAR-10 python batch: a pickled dict, data rows of 3072 uint8 (R, G, B planes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    batch = {b"batch_label": path.name.encode(), b"labels": [int(v) for v in labels],
             b"data": images.reshape(len(labels), -1), b"filenames": [f"{i}.png".encode() for i in range(len(labels))]}
    with path.open("wb") as f:
        pickle.dump(batch, f)


def write_all(out: Path, plan: dict = FULL) -> dict[str, int]:
    rng = np.random.default_rng(SEED)
    images, labels = (part[:plan["sources"]] for part in digits())
    sizes = {"classes": write_folders(out, images, labels, rng)}
    (mnist_train, mnist_test) = disjoint_copies(images, labels, plan["mnist"], 28, rng)
    for split, (x, y) in zip(("train", "t10k"), (mnist_train, mnist_test)):
        write_idx(out / "mnist" / "MNIST" / "raw", split, x, y)
    sizes["mnist"] = len(mnist_train[1]) + len(mnist_test[1])
    cifar_train, cifar_test = disjoint_copies(images, labels, plan["cifar"], 32, rng)
    folder = out / "cifar" / "cifar-10-batches-py"
    paint = [np.stack([coloured(g, rng) for g in x]) for x, _ in (cifar_train, cifar_test)]
    per_batch = len(cifar_train[1]) // 5
    for b in range(5):  # five training batches, as CIFAR-10 ships five of 10,000
        part = slice(b * per_batch, (b + 1) * per_batch)
        write_cifar_batch(folder / f"data_batch_{b + 1}", paint[0][part], cifar_train[1][part])
    write_cifar_batch(folder / "test_batch", paint[1], cifar_test[1])
    sizes["cifar"] = len(cifar_train[1]) + len(cifar_test[1])
    return sizes


# (label, data config) for each labelled set; the folder is read at 28 px RGB, the others natively.
MEASURED = (
    ("digits, 8 px", {"name": "digits"}),
    ("MNIST-format IDX, 4,000 / 1,000, 28 px", {"name": "mnist", "root": "{out}/mnist"}),
    ("folder of class sub-folders, 3,594 PNGs, 28 px RGB", {"name": "folder", "root": "{out}/classes",
                                                           "image_size": 28, "channels": 3}),
    ("CIFAR-10-format batches, 5,000 / 1,000, 32 px RGB", {"name": "cifar10", "root": "{out}/cifar"}),
)


def measure(out: Path, cache_dir: Path) -> list[str]:
    """The default evaluation classifier's accuracy on each labelled set, trained fresh into `cache_dir`."""
    import torch

    from harness.config.resolve import parse_experiment, resolve_run
    from harness.data import dataset_entry, load_dataset
    from harness.metrics.classifier import ClassifierSpec, load_or_train

    rows = ["| data | threshold (default) | held-out accuracy | best validation accuracy | steps | seconds |",
            "| --- | --- | --- | --- | --- | --- |"]
    for label, data in MEASURED:
        data = {k: v.format(out=out) if isinstance(v, str) else v for k, v in data.items()}
        run = resolve_run(parse_experiment({"name": "own-data", "data": data, "train": {"device": "cpu"},
                                            "variants": ["vanilla"]}), "vanilla")
        start = time.perf_counter()
        # The harness's own spec and loader (not its refusal: this reports the number either way).
        trained = load_or_train(load_dataset(run.data, torch.device("cpu")), cache_dir,
                                ClassifierSpec(hflip=dataset_entry(run.data).flip_augment))
        rows.append(f"| {label} | {run.eval.classifier_min_accuracy:.2f} | {trained.test_accuracy:.3f} | "
                    f"{trained.val_accuracy:.3f} | {trained.steps} | {time.perf_counter() - start:.0f} |")
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--write-only", action="store_true", help="write the sets, do not train classifiers")
    parser.add_argument("--small", action="store_true", help="200 source digits and small IDX/CIFAR sets")
    args = parser.parse_args(argv)
    print(f"wrote {write_all(args.out, SMALL if args.small else FULL)} under {args.out}", flush=True)
    if not args.write_only:
        rows = measure(args.out, args.out / "eval-cache")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
