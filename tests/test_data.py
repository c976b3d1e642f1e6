"""Datasets: the toys' protocol geometry, digits and MNIST shapes/ranges, device residency, sampler state."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import own_data
from harness.config.resolve import DataConfig
from harness.data import DATASETS, Dataset, load_dataset
from harness.data.images import ImageTensorDataset
from harness.core.errors import UserError

CPU = torch.device("cpu")
RING_RADIUS = 2 / 1.414
GRID_STEP = 2 / 2.828


def load(name: str, device: torch.device = CPU, **kwargs) -> Dataset:
    return load_dataset(DataConfig(name=name, **kwargs), device)


# --- 2-D toys --------------------------------------------------------------------------------------


def test_ring8_has_eight_distinct_modes_at_equal_angles_on_the_protocol_radius() -> None:
    ring = load("ring8")
    centers = ring.centers.double()
    assert centers.shape == (8, 2) and ring.centers.dtype == torch.float32
    assert torch.allclose(centers.norm(dim=1), torch.full((8,), RING_RADIUS, dtype=torch.float64), atol=1e-6)
    angles = torch.atan2(centers[:, 1], centers[:, 0]).remainder(2 * math.pi).sort().values
    expected = torch.arange(8, dtype=torch.float64) * math.pi / 4
    assert torch.allclose(angles, expected, atol=1e-6)
    # linspace(0, 2*pi, 8) would make two modes coincide: the closest pair must be one ring step apart
    pairwise = torch.cdist(centers, centers) + torch.eye(8, dtype=torch.float64) * 99
    assert pairwise.min().item() == pytest.approx(2 * RING_RADIUS * math.sin(math.pi / 8), abs=1e-6)
    assert ring.sigma == pytest.approx(0.02 / 1.414)


def test_grid25_has_one_mode_on_each_point_of_a_5x5_lattice() -> None:
    grid = load("grid25")
    centers = grid.centers.double()
    assert centers.shape == (25, 2)
    ticks = torch.arange(-2, 3, dtype=torch.float64) * GRID_STEP
    cells = set()
    for x, y in centers.tolist():
        i, j = (torch.argmin((ticks - v).abs()).item() for v in (x, y))
        assert abs(x - ticks[i].item()) < 1e-6 and abs(y - ticks[j].item()) < 1e-6
        cells.add((i, j))
    assert len(cells) == 25
    assert grid.sigma == pytest.approx(0.05 / 2.828)


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_toy_samples_scatter_around_the_modes_with_sigma(name: str) -> None:
    torch.manual_seed(0)
    toy = load(name)
    n, k = 20_000, toy.centers.shape[0]
    points = toy.sample(n)
    assert points.shape == (n, 2) and points.dtype == torch.float32
    distances, nearest = torch.cdist(points.double(), toy.centers.double()).min(dim=1)
    # ||x - c||^2 / sigma^2 is chi-square with 2 degrees of freedom: mean 2, so this ratio is 1 (sd 1/sqrt(n))
    assert (distances.square().mean() / (2 * toy.sigma**2)).item() == pytest.approx(1.0, abs=0.03)
    assert distances.max().item() < 6 * toy.sigma
    counts = torch.bincount(nearest, minlength=k).double()
    sd = math.sqrt(n * (1 / k) * (1 - 1 / k))
    assert (counts - n / k).abs().max().item() < 5 * sd  # equal weights


def test_swissroll_follows_the_gan_toy_spiral() -> None:
    """x = t(cos t, sin t)/7.5 + noise/7.5, t ~ U[1.5pi, 4.5pi]: recover t from the polar form."""
    torch.manual_seed(0)
    roll = load("swissroll")
    assert roll.centers is None and roll.sigma is None
    p = roll.sample(20_000).double() * 7.5
    assert p.shape == (20_000, 2)
    radius = p.norm(dim=1)
    theta = torch.atan2(p[:, 1], p[:, 0]).remainder(2 * math.pi)
    candidates = theta[:, None] + 2 * math.pi * torch.arange(4, dtype=torch.float64)
    residual, best = (radius[:, None] - candidates).abs().min(dim=1)
    t = candidates.gather(1, best[:, None]).squeeze(1)
    assert (residual < 1.0).double().mean().item() > 0.999  # noise sd 0.25 around the arc
    assert t.mean().item() == pytest.approx(3 * math.pi, abs=0.1)  # the mean of U[1.5pi, 4.5pi]
    assert t.min().item() > 1.5 * math.pi - 1 and t.max().item() < 4.5 * math.pi + 1


@pytest.mark.parametrize("name", ["ring8", "grid25", "swissroll"])
def test_toys_sample_on_their_device_and_follow_the_global_seed(name: str) -> None:
    meta = load(name, torch.device("meta"))
    assert meta.sample(5).device.type == "meta" and meta.kind == "points" and meta.sample_shape == (2,)
    toy = load(name)
    assert isinstance(toy, Dataset) and toy.state_dict() == {}
    torch.manual_seed(3)
    first = toy.sample(7)
    torch.manual_seed(3)
    assert torch.equal(first, toy.sample(7)) and not torch.equal(first, toy.sample(7))


# --- digits -------------------------------------------------------------------------------------------


def test_digits_are_8x8_in_unit_range_with_a_stratified_split() -> None:
    ds = load("digits")
    assert ds.images.shape == (1437, 1, 8, 8) and ds.test_images.shape == (360, 1, 8, 8)
    assert ds.images.dtype == torch.float32 and ds.labels.dtype == torch.int64
    for x in (ds.images, ds.test_images):
        assert x.min().item() == -1.0 and x.max().item() == 1.0
        levels = (x + 1) * 8  # 0..16 grey levels map to k/8 - 1 exactly
        assert torch.equal(levels, levels.round()) and levels.min() >= 0 and levels.max() <= 16
    train_counts = torch.bincount(ds.labels, minlength=10)
    test_counts = torch.bincount(ds.test_labels, minlength=10)
    assert ds.num_classes == 10 and (test_counts > 0).all()
    assert ((test_counts.double() - 0.2 * (train_counts + test_counts)).abs() <= 1).all()


def test_digits_resized_to_16_keep_the_range_and_the_mean() -> None:
    small, big = load("digits"), load("digits", image_size=16)
    assert big.images.shape == (1437, 1, 16, 16) and big.test_images.shape == (360, 1, 16, 16)
    assert big.sample_shape == (1, 16, 16) and big.sample(4).shape == (4, 1, 16, 16)
    for x in (big.images, big.test_images):
        assert x.min().item() == -1.0 and x.max().item() == 1.0
    assert torch.equal(big.labels, small.labels)
    per_image = (big.images.mean(dim=(1, 2, 3)) - small.images.mean(dim=(1, 2, 3))).abs()
    assert per_image.max().item() < 0.05  # bilinear upsampling, not a different image


def test_image_datasets_live_on_the_device() -> None:
    ds = load("digits", torch.device("meta"))
    assert ds.images.device.type == "meta" and ds.labels.device.type == "meta"
    assert ds.sample(16).device.type == "meta" and ds.sample(16).shape == (16, 1, 8, 8)


# --- the image sampler: epochs without replacement, checkpointable ------------------------------------


def indexed(n: int) -> ImageTensorDataset:
    """A dataset whose image i is filled with the value i, so a batch tells which indices it drew."""
    images = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()
    labels = torch.zeros(n, dtype=torch.long)
    return ImageTensorDataset("indexed", (images, labels, images[:1], labels[:1]), num_classes=1)


def drawn(batch: torch.Tensor) -> list[int]:
    return batch[:, 0, 0, 0].long().tolist()


def test_sampler_draws_epochs_without_replacement() -> None:
    torch.manual_seed(0)
    ds = indexed(10)
    epoch = drawn(ds.sample(3)) + drawn(ds.sample(3)) + drawn(ds.sample(3))
    assert len(set(epoch)) == 9
    nxt = drawn(ds.sample(3))  # only 1 left: a new permutation starts (the remainder is dropped)
    assert len(set(nxt)) == 3 and ds.state_dict()["pos"] == 3


def test_sampler_state_round_trip_replays_the_same_batches() -> None:
    torch.manual_seed(0)
    ds = indexed(10)
    ds.sample(4)
    state = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in ds.state_dict().items()}
    rng = torch.get_rng_state()  # the reshuffle draws from the global RNG, which a checkpoint saves too
    expected = [drawn(ds.sample(4)) for _ in range(3)]  # crosses an epoch boundary
    restored, fresh = indexed(10), indexed(10)
    restored.load_state_dict(state)
    torch.set_rng_state(rng)
    assert [drawn(restored.sample(4)) for _ in range(3)] == expected
    torch.set_rng_state(rng)
    assert [drawn(fresh.sample(4)) for _ in range(3)] != expected  # the state is what made them equal


def test_sampler_returns_the_requested_batch_size_even_above_the_dataset_size() -> None:
    assert indexed(5).sample(8).shape[0] == 8


# --- MNIST / Fashion-MNIST through torchvision, from IDX files the test writes ------------------------


def write_idx(root: Path, folder: str, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    own_data.write_idx(root / folder / "raw", split, images, labels)


def fake_mnist(root: Path, folder: str, n_train: int = 12, n_test: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (n_train, 28, 28))
    train[0] = 0
    train[1] = 255
    train[2] = 51
    test = rng.integers(0, 256, (n_test, 28, 28))
    write_idx(root, folder, "train", train, np.arange(n_train) % 10)
    write_idx(root, folder, "t10k", test, (np.arange(n_test) + 3) % 10)
    return train, test


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_and_fashion_mnist_load_from_idx_files(tmp_path: Path, name: str, folder: str) -> None:
    train, test = fake_mnist(tmp_path, folder)
    ds = load(name, root=str(tmp_path), download=False)
    assert ds.images.shape == (12, 1, 28, 28) and ds.test_images.shape == (5, 1, 28, 28)
    assert ds.sample_shape == (1, 28, 28) and ds.num_classes == 10
    assert torch.equal(ds.images[0], torch.full((1, 28, 28), -1.0))
    assert torch.equal(ds.images[1], torch.full((1, 28, 28), 1.0))
    assert torch.allclose(ds.images[2], torch.full((1, 28, 28), 51 / 255 * 2 - 1))
    assert torch.allclose(ds.images[:, 0], torch.from_numpy(train).float() / 255 * 2 - 1)
    assert torch.allclose(ds.test_images[:, 0], torch.from_numpy(test).float() / 255 * 2 - 1)
    assert ds.labels.tolist() == [i % 10 for i in range(12)] and ds.test_labels.tolist() == [3, 4, 5, 6, 7]


def test_mnist_resized_to_32(tmp_path: Path) -> None:
    fake_mnist(tmp_path, "MNIST")
    ds = load("mnist", root=str(tmp_path), download=False, image_size=32)
    assert ds.images.shape == (12, 1, 32, 32) and ds.sample_shape == (1, 32, 32)
    assert ds.images.min().item() >= -1.0 and ds.images.max().item() <= 1.0
    assert torch.equal(ds.images[1], torch.full((1, 32, 32), 1.0))  # constant images stay constant


@pytest.mark.parametrize("present", ["nothing", "train only"])
def test_missing_dataset_without_download_is_one_line_naming_the_path(tmp_path: Path, present: str) -> None:
    if present == "train only":
        fake_mnist(tmp_path, "MNIST")
        for f in (tmp_path / "MNIST" / "raw").glob("t10k-*"):
            f.unlink()
    with pytest.raises(UserError) as info:
        load("mnist", root=str(tmp_path), download=False)
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "MNIST" / "raw") in message
    assert message.startswith("data.root: mnist not found under") and "data.download" in message


def test_empty_idx_file_is_a_user_error_naming_the_path(tmp_path: Path) -> None:
    fake_mnist(tmp_path, "MNIST")
    (tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte").write_bytes(b"")
    with pytest.raises(UserError, match=str(tmp_path / "MNIST" / "raw")):
        load("mnist", root=str(tmp_path), download=False)


def test_dataset_entries_declare_their_kind_shape_and_classes() -> None:
    expected = {"digits": ((1, 8, 8), 10), "mnist": ((1, 28, 28), 10), "fashion_mnist": ((1, 28, 28), 10),
                "cifar10": ((3, 32, 32), 10), "ring8": ((2,), None), "grid25": ((2,), None), "swissroll": ((2,), None)}
    for name, (shape, classes) in expected.items():
        entry = DATASETS.get(name)
        assert (entry.sample_shape(None), entry.num_classes) == (shape, classes), name
    assert DATASETS.get("digits").sample_shape(16) == (1, 16, 16)
    assert DATASETS.get("digits").properties == {"images", "labels"}
    assert DATASETS.get("ring8").properties == {"points", "modes"}
    assert DATASETS.get("swissroll").properties == {"points"}


def test_every_labelled_image_entry_declares_a_classifier_threshold() -> None:
    for name in DATASETS.names():
        entry = DATASETS.get(name)
        if entry.kind == "images" and (entry.num_classes or entry.describe):
            assert entry.classifier_min_accuracy is not None and 0 < entry.classifier_min_accuracy < 1, name
