"""Pictures of generated samples: an image grid, or a scatter over the true modes for 2-D toys."""

from __future__ import annotations

import io

import numpy as np
import torch
from torch import Tensor

GRID_IMAGES = 64
SCATTER_POINTS = 1000


def image_grid(images: Tensor, nrow: int = 8) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> an (H', W', 3) uint8 grid, upscaled so 8x8 digits stay legible."""
    from torchvision.utils import make_grid

    grid = make_grid(images.detach().float().cpu().clamp(-1, 1), nrow=nrow, padding=1, normalize=True,
                     value_range=(-1, 1), pad_value=1.0)
    side = grid.shape[-1]
    scale = max(1, 256 // side)
    array = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    array = array.repeat(scale, axis=0).repeat(scale, axis=1)
    return array if array.shape[2] == 3 else np.repeat(array[:, :, :1], 3, axis=2)


def scatter_plot(points: Tensor, centers: Tensor | None, title: str = "") -> np.ndarray:
    """Generated points (blue) over the true modes (red crosses), as an (H, W, 3) uint8 image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xy = points.detach().float().cpu().numpy()
    fig, ax = plt.subplots(figsize=(4, 4), dpi=80)
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


def fixed_noise(count: int, z_dim: int, seed: int, device: torch.device) -> Tensor:
    """Noise from its own CPU generator: identical on every device and run, and the training RNG is untouched."""
    return torch.randn(count, z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
