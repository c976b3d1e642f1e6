"""Sliced Wasserstein distance on Laplacian pyramids: hand-checkable numbers and a numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import torch

from harness.metrics import swd

GAUSS = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0


# --- a straightforward numpy reference, after Karras et al.'s metrics/sliced_wasserstein.py ----------


def np_pyr_down(x: np.ndarray) -> np.ndarray:
    return scipy.ndimage.convolve(x, GAUSS[None, None], mode="mirror")[:, :, ::2, ::2]


def np_pyr_up(x: np.ndarray) -> np.ndarray:
    n, c, h, w = x.shape
    up = np.zeros((n, c, 2 * h, 2 * w))
    up[:, :, ::2, ::2] = x
    return scipy.ndimage.convolve(up, GAUSS[None, None] * 4.0, mode="mirror")


def np_pyramid(x: np.ndarray, levels: int) -> list[np.ndarray]:
    pyramid = [x.astype(np.float64)]
    for _ in range(levels - 1):
        pyramid.append(np_pyr_down(pyramid[-1]))
        pyramid[-2] = pyramid[-2] - np_pyr_up(pyramid[-1])
    return pyramid


def np_descriptors(level: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    per_image = len(rows) // level.shape[0]
    out = [level[i // per_image, :, r:r + 7, c:c + 7] for i, (r, c) in enumerate(zip(rows, cols))]
    desc = np.stack(out)  # (M, C, 7, 7)
    desc = (desc - desc.mean(axis=(0, 2, 3), keepdims=True)) / desc.std(axis=(0, 2, 3), keepdims=True)
    return desc.reshape(len(out), -1)


def np_swd(a: np.ndarray, b: np.ndarray, dirs: np.ndarray) -> float:
    pa, pb = np.sort(a @ dirs, axis=0), np.sort(b @ dirs, axis=0)
    return float(np.mean(np.abs(pa - pb)))


# --- hand-checkable numbers -----------------------------------------------------------------------------


def test_sliced_wasserstein_by_hand() -> None:
    one = torch.tensor([[1.0]])
    assert swd.sliced_wasserstein(torch.tensor([[0.0], [1.0], [2.0]]), torch.tensor([[1.0], [2.0], [3.0]]), one) == 1.0
    assert swd.sliced_wasserstein(torch.tensor([[2.0], [0.0]]), torch.tensor([[0.0], [2.0]]), one) == 0.0  # sorted
    # Along e1 the sets agree (0), along e2 they are 2 apart: mean over the two directions 1.
    a, b = torch.tensor([[0.0, 0.0], [1.0, 0.0]]), torch.tensor([[0.0, 2.0], [1.0, 2.0]])
    assert swd.sliced_wasserstein(a, b, torch.eye(2)) == 1.0


def test_pyr_down_of_an_impulse_is_the_binomial_filter() -> None:
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 2, 2] = 1.0
    down = swd.pyr_down(x)
    assert down.shape == (1, 1, 4, 4)
    assert down[0, 0, 1, 1].item() == pytest.approx(36 / 256)  # centre tap 6 * 6 / 256
    # Two rows up, at the border: the mirrored border puts the impulse on both outer taps (2 * 1 * 6 / 256).
    assert down[0, 0, 0, 1].item() == pytest.approx(12 / 256)
    assert down[0, 0, 2, 2].item() == pytest.approx(1 / 256)  # two rows and columns away: 1 * 1 / 256


def test_a_constant_image_has_no_detail_and_its_value_on_top() -> None:
    levels = swd.laplacian_pyramid(torch.full((2, 3, 32, 32), 0.25), 3)
    assert [tuple(level.shape[-2:]) for level in levels] == [(32, 32), (16, 16), (8, 8)]
    assert all(level.abs().max() < 1e-6 for level in levels[:-1])
    assert torch.allclose(levels[-1], torch.full_like(levels[-1], 0.25))


def test_the_pyramid_reconstructs_the_image() -> None:
    x = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    detail, coarse = swd.laplacian_pyramid(x, 2)
    assert torch.allclose(detail + swd.pyr_up(coarse), x, atol=1e-6)


@pytest.mark.parametrize("side, levels", [(8, 1), (14, 1), (16, 2), (28, 2), (32, 3), (64, 4)])
def test_pyramid_levels_stop_at_8_px_and_odd_sides(side: int, levels: int) -> None:
    assert swd.pyramid_levels(side) == levels


def test_descriptors_are_the_patches_at_the_positions_of_their_image() -> None:
    level = torch.arange(2 * 2 * 10 * 10, dtype=torch.float32).view(2, 2, 10, 10)
    rows, cols = torch.tensor([0, 3, 1, 2]), torch.tensor([1, 0, 3, 2])  # 2 per image
    desc = swd.descriptors(level, rows, cols)
    assert desc.shape == (4, 2 * 49)
    assert torch.equal(desc[1], level[0, :, 3:10, 0:7].reshape(-1))
    assert torch.equal(desc[2], level[1, :, 1:8, 3:10].reshape(-1))


def test_normalized_descriptors_have_zero_mean_unit_std_per_channel() -> None:
    desc = torch.randn(50, 3 * 49, generator=torch.Generator().manual_seed(1)) * 5 + 2
    out = swd.normalized(desc, 3).view(50, 3, 49)
    assert torch.allclose(out.mean(dim=(0, 2)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(out.std(dim=(0, 2), unbiased=False), torch.ones(3), atol=1e-5)


# --- the whole pipeline against the numpy reference ---------------------------------------------------------


def test_matches_the_numpy_reference_on_small_arrays() -> None:
    rng = np.random.default_rng(0)
    real, fake = rng.uniform(-1, 1, (3, 2, 16, 16)), rng.uniform(-1, 1, (3, 2, 16, 16)) ** 3
    g = torch.Generator().manual_seed(0)
    expected, got = [], []
    for lr, lf in zip(np_pyramid(real, 2), swd.laplacian_pyramid(torch.from_numpy(real).float(), 2)):
        assert np.allclose(lf.numpy(), lr, atol=1e-5)
    for level_real, level_fake, t_real, t_fake in zip(np_pyramid(real, 2), np_pyramid(fake, 2),
                                                      swd.laplacian_pyramid(torch.from_numpy(real).float(), 2),
                                                      swd.laplacian_pyramid(torch.from_numpy(fake).float(), 2)):
        rows, cols = swd.patch_positions(3, level_real.shape[-1], 4, g)
        dirs = swd.random_directions(2 * 49, 16, g)
        a_np = np_descriptors(level_real, rows.numpy(), cols.numpy())
        b_np = np_descriptors(level_fake, rows.numpy(), cols.numpy())
        expected.append(np_swd(a_np, b_np, dirs.double().numpy()))
        a, b = (swd.normalized(swd.descriptors(t, rows, cols), 2) for t in (t_real, t_fake))
        got.append(swd.sliced_wasserstein(a, b, dirs))
    assert got == pytest.approx(expected, rel=1e-4)
    assert all(value > 0 for value in got)


def test_identical_sets_are_at_distance_zero_and_unit_directions_are_unit() -> None:
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(2)) * 2 - 1
    real = swd.level_descriptors(x, seed=5)
    assert swd.swd_per_level(real, swd.level_descriptors(x, seed=5), seed=3) == [0.0]
    assert swd.swd_per_level(real, swd.level_descriptors(-x, seed=5), seed=3)[0] > 0
    dirs = swd.random_directions(49, 10, torch.Generator().manual_seed(0))
    assert torch.allclose(dirs.norm(dim=0), torch.ones(10))
