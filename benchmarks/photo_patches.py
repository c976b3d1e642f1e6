"""Real 32 px colour photos with no download: patches of the two photographs scikit-learn ships.

    python benchmarks/photo_patches.py OUT            # OUT/photos/<class>/*.png and OUT/cifar-photos/
    python benchmarks/photo_patches.py OUT --small    # a few per class, for the tests

scikit-learn bundles two 427x640 photographs (`load_sample_images`: a Chinese temple, a flower). Each
is cut into five vertical strips; a strip is a class (10 in all: roof and sky, stone, foliage,
petals, ...). A patch is a random square of 48 to 112 px inside its strip, mirrored half the time,
resized to 32 x 32 with antialiasing: CIFAR-10's size and kind of content (natural texture and
colour), though not its diversity. It writes the patches twice:

- `OUT/photos/<class>/*.png`: 600 per class, for `data.name: folder` (one sub-folder per class);
- `OUT/cifar-photos/cifar-10-batches-py/`: 500 / 100 per class in CIFAR-10's python-batch format
  (five training batches and a test batch, disjoint draws), for `data.name: cifar10`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from a checkout

from benchmarks.own_data import write_cifar_batch  # noqa: E402  (the one writer of CIFAR batches)

SEED = 0
SIDE = 32
STRIPS = 5  # per photograph: 2 photographs x 5 strips = CIFAR-10's 10 classes
PATCH_RANGE = (48, 112)  # side of the square cut from a strip before resizing to 32 px
FULL = {"folder": 600, "train": 500, "test": 100}  # per class
SMALL = {"folder": 6, "train": 5, "test": 2}


def strips() -> list[np.ndarray]:
    """The 10 (H, W, 3) uint8 regions: each photograph cut into STRIPS vertical strips."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    return [strip for photo in photos for strip in np.array_split(photo, STRIPS, axis=1)]


def patch(region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random square of the region, maybe mirrored, as a (32, 32, 3) uint8 image."""
    height, width = region.shape[:2]
    size = int(rng.integers(PATCH_RANGE[0], min(PATCH_RANGE[1], height, width) + 1))
    top, left = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
    square = region[top:top + size, left:left + size]
    if rng.random() < 0.5:
        square = square[:, ::-1]
    return np.asarray(Image.fromarray(np.ascontiguousarray(square)).resize((SIDE, SIDE), Image.Resampling.LANCZOS))


def write_folder(out: Path, regions: list[np.ndarray], per_class: int, rng: np.random.Generator) -> int:
    for label, region in enumerate(regions):
        folder = out / "photos" / f"region{label}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(patch(region, rng)).save(folder / f"{i:04d}.png")
    return len(regions) * per_class


def draw(regions: list[np.ndarray], per_class: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3, 32, 32) uint8 patches and their labels, class by class, shuffled."""
    images = np.stack([patch(r, rng) for r in regions for _ in range(per_class)]).transpose(0, 3, 1, 2)
    labels = np.repeat(np.arange(len(regions)), per_class)
    order = rng.permutation(len(labels))
    return images[order], labels[order]


def write_cifar(out: Path, regions: list[np.ndarray], plan: dict[str, int], rng: np.random.Generator) -> int:
    folder = out / "cifar-photos" / "cifar-10-batches-py"
    (train_x, train_y), (test_x, test_y) = draw(regions, plan["train"], rng), draw(regions, plan["test"], rng)
    per_batch = len(train_y) // 5
    for b in range(5):  # five training batches, as CIFAR-10 ships five of 10,000
        part = slice(b * per_batch, (b + 1) * per_batch)
        write_cifar_batch(folder / f"data_batch_{b + 1}", train_x[part], train_y[part])
    write_cifar_batch(folder / "test_batch", test_x, test_y)
    return len(train_y) + len(test_y)


def write_all(out: Path, plan: dict[str, int] = FULL) -> dict[str, int]:
    rng = np.random.default_rng(SEED)
    regions = strips()
    return {"photos": write_folder(out, regions, plan["folder"], rng), "cifar-photos": write_cifar(out, regions, plan, rng)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--small", action="store_true", help="a few patches per class (the tests)")
    args = parser.parse_args(argv)
    print(f"wrote {write_all(args.out, SMALL if args.small else FULL)} under {args.out}", flush=True)


if __name__ == "__main__":
    main()
