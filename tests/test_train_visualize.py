"""Sample pictures: the image grid's exact pixels and layout, the toy scatter, and RNG-free fixed noise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.train.visualize import (GRID_MIN_PIXELS, PREVIEW_PIXELS, fixed_noise, image_grid, preview_picture,
                                     real_picture, real_samples, render_samples, scatter_plot)


def constant_images(values: list[float], side: int = 8, channels: int = 1) -> torch.Tensor:
    return torch.tensor(values).view(-1, 1, 1, 1).expand(-1, channels, side, side).clone()


def test_grid_layout_padding_and_upscaling() -> None:
    grid = image_grid(constant_images([-1.0] * 64))  # 8 x 8 tiles of 8 px, 1 px white padding
    side = 8 * (8 + 1) + 1
    scale = GRID_MIN_PIXELS // side
    assert scale >= 10  # 8x8 digits fill MLflow's fullscreen view instead of 256 px of it
    assert grid.dtype == np.uint8 and grid.shape == (side * scale, side * scale, 3)
    small = grid[::scale, ::scale]
    assert (small[0, :] == 255).all() and (small[:, 0] == 255).all() and (small[9, :] == 255).all()
    assert (small[1:9, 1:9] == 0).all() and (small[10:18, 1:9] == 0).all()


@pytest.mark.parametrize("value, pixel", [(-1.0, 0), (1.0, 255), (0.0, 128), (-0.5, 64), (3.0, 255), (-7.0, 0)])
def test_grid_maps_minus_one_one_to_0_255_and_clamps(value: float, pixel: int) -> None:
    grid = image_grid(constant_images([value, value]))  # two tiles: torchvision returns a lone image unpadded
    scale = GRID_MIN_PIXELS // (2 * 9 + 1)
    assert grid.shape == (10 * scale, 19 * scale, 3)
    assert grid[scale * 1, scale * 1].tolist() == [pixel] * 3  # inside the first tile
    assert grid[scale * 1, scale * 10].tolist() == [pixel] * 3  # inside the second tile
    assert grid[0, 0].tolist() == [255] * 3 and grid[scale, scale * 9].tolist() == [255] * 3  # white padding


def test_grid_keeps_colour_channels_and_tile_order() -> None:
    images = torch.full((2, 3, 4, 4), -1.0)
    images[0, 0] = 1.0  # red
    images[1, 2] = 1.0  # blue
    grid = image_grid(images, nrow=2)
    scale = GRID_MIN_PIXELS // (2 * 5 + 1)
    assert grid[scale * 2, scale * 2].tolist() == [255, 0, 0]
    assert grid[scale * 2, scale * 7].tolist() == [0, 0, 255]


def test_grid_does_not_modify_its_input() -> None:
    images = constant_images([3.0, -3.0])
    before = images.clone()
    image_grid(images)
    assert torch.equal(images, before)


def red_pixels(image: np.ndarray) -> int:
    r, g, b = (image[..., i].astype(int) for i in range(3))
    return int(((r > 180) & (g < 80) & (b < 80)).sum())


def test_scatter_is_an_rgb_image_with_the_modes_in_red() -> None:
    points = torch.zeros(10, 2)
    centers = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    with_modes, without = scatter_plot(points, centers), scatter_plot(points, None)
    assert with_modes.dtype == np.uint8 and with_modes.ndim == 3 and with_modes.shape[2] == 3
    assert red_pixels(with_modes) > 10 and red_pixels(without) == 0


def test_render_picks_the_picture_by_dataset_kind() -> None:
    class Points:
        kind, centers = "points", None

    class Images:
        kind = "images"

    scatter = render_samples(torch.zeros(5, 2), Points())
    grid = render_samples(constant_images([0.0] * 100), Images())
    assert scatter.shape[2] == 3 and grid.shape == image_grid(constant_images([0.0] * 64)).shape  # first 64 only


def test_fixed_noise_is_repeatable_and_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(5)
    before = torch.get_rng_state()
    a = fixed_noise(6, 3, seed=7, device=torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(a, fixed_noise(6, 3, seed=7, device=torch.device("cpu")))
    assert not torch.equal(a, fixed_noise(6, 3, seed=8, device=torch.device("cpu")))
    assert a.shape == (6, 3) and fixed_noise(6, 3, 7, torch.device("meta")).device.type == "meta"


def test_real_pictures_are_the_same_every_time_and_leave_the_global_rng_alone() -> None:
    from harness.data import load_dataset
    from harness.core.schema import DataConfig

    cpu = torch.device("cpu")
    digits, ring = load_dataset(DataConfig("digits"), cpu), load_dataset(DataConfig("ring8"), cpu)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    assert np.array_equal(real_picture(digits), real_picture(digits))
    assert torch.equal(real_samples(ring, 50), real_samples(ring, 50))
    assert torch.equal(torch.get_rng_state(), before)
    spread = real_samples(digits, 64)
    assert spread.shape == (64, 1, 8, 8) and torch.equal(spread[0], digits.images[0])
    assert torch.equal(spread[-1], digits.images[-1])  # evenly spaced over the whole set, first to last
    assert real_picture(digits).shape == image_grid(spread).shape


@pytest.mark.parametrize("side, zoom", [(8, 4), (32, 1)])
def test_the_preview_is_two_rows_of_samples_at_a_whole_zoom_within_mlflows_fold(side: int, zoom: int) -> None:
    images = constant_images([-1.0] * 64, side=side)
    images[1] = 1.0  # the second tile white: the first 32 samples, in order
    preview = preview_picture(image_grid(images), images)
    assert preview.shape == ((2 * (side + 1) + 1) * zoom, (16 * (side + 1) + 1) * zoom, 3)
    assert preview.shape[0] <= PREVIEW_PIXELS <= 100  # MLflow folds a run's description at 100 px
    assert preview[zoom * 2, zoom * 2].tolist() == [0] * 3 and preview[zoom * 2, zoom * (side + 3)].tolist() == [255] * 3


def test_a_preview_too_tall_for_a_whole_zoom_or_of_points_is_shrunk_to_the_fold() -> None:
    large = constant_images([0.0] * 64, side=64)
    height, width = 2 * 65 + 1, 16 * 65 + 1  # 64 px images: 131 px at their own size
    assert preview_picture(image_grid(large), large).shape == (PREVIEW_PIXELS, round(width * PREVIEW_PIXELS / height), 3)
    scatter = scatter_plot(torch.zeros(10, 2), None)
    assert preview_picture(scatter, torch.zeros(10, 2)).shape == (PREVIEW_PIXELS, PREVIEW_PIXELS, 3)
    assert preview_picture(scatter).shape == (PREVIEW_PIXELS, PREVIEW_PIXELS, 3)  # no samples: the picture
