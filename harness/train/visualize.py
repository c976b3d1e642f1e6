"""Pictures of generated samples: an image grid, or a scatter over the true modes for 2-D toys."""

from __future__ import annotations

import io

import numpy as np
import torch
from torch import Tensor

GRID_IMAGES = 64
SCATTER_POINTS = 1000
# Grids are upscaled (nearest neighbour, so pixels stay sharp blocks) to at least about this many
# pixels a side: MLflow's UI shows an image at its own size, and 8x8 digits at 73 px were a smudge
# even in fullscreen. Blocks of one colour cost PNG almost nothing.
GRID_MIN_PIXELS = 768
# The preview on a run's MLflow page (its description, which MLflow folds to 100 px): whole at this height.
PREVIEW_PIXELS = 80
PREVIEW_IMAGES = 32  # two rows of 16


def image_grid(images: Tensor, nrow: int = 8) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> an (H', W', 3) uint8 grid, upscaled so 8x8 digits stay legible."""
    grid = grid_pixels(images, nrow)
    return zoom(grid, max(1, GRID_MIN_PIXELS // grid.shape[1]))


def grid_pixels(images: Tensor, nrow: int) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> an (H', W', 3) uint8 grid at the images' own size, 1 px of white between."""
    from torchvision.utils import make_grid

    grid = make_grid(images.detach().float().cpu().clamp(-1, 1), nrow=nrow, padding=1, normalize=True,
                     value_range=(-1, 1), pad_value=1.0)
    array = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return array if array.shape[2] == 3 else np.repeat(array[:, :, :1], 3, axis=2)


def zoom(picture: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling by a whole factor: pixels stay sharp blocks."""
    return picture.repeat(scale, axis=0).repeat(scale, axis=1)


def preview_picture(picture: np.ndarray, samples: Tensor | None = None) -> np.ndarray:
    """At most PREVIEW_PIXELS tall: two rows of the first PREVIEW_IMAGES samples at a whole zoom (8x8
    digits at 4x), or, for points or images too tall for that, the picture shrunk to that height."""
    if samples is not None and samples.dim() == 4:
        strip = grid_pixels(samples[:PREVIEW_IMAGES], nrow=PREVIEW_IMAGES // 2)
        if strip.shape[0] <= PREVIEW_PIXELS:
            return zoom(strip, PREVIEW_PIXELS // strip.shape[0])
        picture = strip
    if picture.shape[0] <= PREVIEW_PIXELS:
        return picture
    from PIL import Image

    width = max(1, round(picture.shape[1] * PREVIEW_PIXELS / picture.shape[0]))
    return np.asarray(Image.fromarray(picture).resize((width, PREVIEW_PIXELS), Image.Resampling.BOX))


def scatter_plot(points: Tensor, centers: Tensor | None, title: str = "") -> np.ndarray:
    """Generated points (blue) over the true modes (red crosses), as an (H, W, 3) uint8 image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xy = points.detach().float().cpu().numpy()
    fig, ax = plt.subplots(figsize=(4, 4), dpi=120)  # 480 px: legible in MLflow's image card
    ax.scatter(xy[:, 0], xy[:, 1], s=3, alpha=0.5, color="tab:blue", label="generated")
    if centers is not None:
        c = centers.cpu().numpy()
        ax.scatter(c[:, 0], c[:, 1], s=40, marker="x", color="tab:red", label="modes")
    ax.set_xlim(-2.5, 2.5)
    ax.set_ylim(-2.5, 2.5)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    buffer.seek(0)
    from PIL import Image

    return np.asarray(Image.open(buffer).convert("RGB"))


def render_samples(samples: Tensor, dataset: object, title: str = "") -> np.ndarray:
    """The right picture for the dataset kind."""
    if getattr(dataset, "kind", "") == "points":
        return scatter_plot(samples[:SCATTER_POINTS], getattr(dataset, "centers", None), title)
    return image_grid(samples[:GRID_IMAGES])


def picture_count(dataset: object) -> int:
    """How many samples one picture shows: a grid of images, or a cloud of points."""
    return SCATTER_POINTS if getattr(dataset, "kind", "") == "points" else GRID_IMAGES


def real_samples(dataset: object, count: int) -> Tensor:
    """The same real samples every time: evenly spaced training images (a folder sorted by class
    still shows every class), or points drawn under a fixed seed without touching the global RNG."""
    images = getattr(dataset, "images", None)
    if images is not None:
        index = torch.linspace(0, images.shape[0] - 1, min(count, images.shape[0])).round().long()
        return images[index.to(images.device)]
    with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
        torch.manual_seed(0)
        return dataset.sample(count)  # type: ignore[attr-defined]


def real_picture(dataset: object) -> np.ndarray:
    """The real data as the sample grids show generated data: what a run's pictures should look like."""
    return render_samples(real_samples(dataset, picture_count(dataset)), dataset, title="real data")


def fixed_noise(count: int, z_dim: int, seed: int, device: torch.device) -> Tensor:
    """Noise from its own CPU generator: identical on every device and run, and the training RNG is untouched."""
    return torch.randn(count, z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
