"""Multi-scale sliced Wasserstein distance on Laplacian-pyramid patches (Karras et al. 2018).

"Progressive Growing of GANs", section 5 and appendix D, as in their reference code
(`metrics/sliced_wasserstein.py`): each image is decomposed into a Laplacian pyramid (5x5
binomial filter, mirrored borders); from every level, 7x7 neighbourhoods at random positions are
taken as descriptors; each set of descriptors is normalized per colour channel by its own mean
and standard deviation; the distance between the real and generated sets is the sliced
Wasserstein distance (the mean, over random unit directions, of the mean absolute difference of
the sorted projections), reported multiplied by 1000 as in the paper. No pretrained weights.

Differences from the paper, for small images on a CPU: the coarsest level is 8 px, not 16 (a
7x7 neighbourhood fits), the pyramid stops where halving would give an odd side (28 px: levels
28 and 14), and PATCHES_PER_IMAGE / DIRECTIONS are smaller than its 128 / 512. The metric is
the mean over levels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from harness.metrics.base import EvalContext, register_metric
from harness.metrics.images import reference_count, reference_indices

PATCH = 7  # neighbourhood side
PATCHES_PER_IMAGE = 16
DIRECTIONS = 128
MIN_LEVEL_SIDE = 8
SCALE = 1e3  # the paper reports SWD x 10^3
BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])


def blur(x: Tensor, gain: float = 1.0) -> Tensor:
    """5x5 binomial filter (sum 1, times `gain`) per channel, mirrored borders (scipy's mode='mirror')."""
    kernel = (torch.outer(BINOMIAL, BINOMIAL) / 256.0 * gain).to(x)
    channels = x.shape[1]
    padded = F.pad(x, (2, 2, 2, 2), mode="reflect")
    return F.conv2d(padded, kernel.expand(channels, 1, 5, 5), groups=channels)


def pyr_down(x: Tensor) -> Tensor:
    return blur(x)[:, :, ::2, ::2]


def pyr_up(x: Tensor) -> Tensor:
    """Zero-insertion upsampling by 2, then the filter times 4 (the inserted zeros carry no energy)."""
    n, c, h, w = x.shape
    up = x.new_zeros(n, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    return blur(up, gain=4.0)


def pyramid_levels(side: int) -> int:
    """Levels from `side` down, halving while the side stays even and at least MIN_LEVEL_SIDE."""
    levels = 1
    while side % 2 == 0 and side // 2 >= MIN_LEVEL_SIDE:
        side, levels = side // 2, levels + 1
    return levels


def laplacian_pyramid(images: Tensor, levels: int) -> list[Tensor]:
    """[finest detail, ..., coarsest Gaussian]: each level minus the upsampled next coarser one."""
    pyramid = [images.float()]
    for _ in range(levels - 1):
        pyramid.append(pyr_down(pyramid[-1]))
        pyramid[-2] = pyramid[-2] - pyr_up(pyramid[-1])
    return pyramid


def patch_positions(count: int, side: int, per_image: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Top-left (row, col) of `per_image` neighbourhoods per image, uniform over fully inside positions."""
    shape = (count * per_image,)
    return (torch.randint(0, side - PATCH + 1, shape, generator=generator),
            torch.randint(0, side - PATCH + 1, shape, generator=generator))


def descriptors(level: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """(count * per_image, C * 49) neighbourhoods at (rows, cols), image i owning a block of per_image."""
    per_image = rows.shape[0] // level.shape[0]
    image = torch.arange(level.shape[0], device=level.device).repeat_interleave(per_image)
    offsets = torch.arange(PATCH, device=level.device)
    r = (rows.to(level.device)[:, None] + offsets)[:, :, None]  # (M, 7, 1)
    c = (cols.to(level.device)[:, None] + offsets)[:, None, :]  # (M, 1, 7)
    patches = level[image[:, None, None], :, r, c]  # (M, 7, 7, C)
    return patches.permute(0, 3, 1, 2).reshape(patches.shape[0], -1)


def normalized(desc: Tensor, channels: int) -> Tensor:
    """Per colour channel: minus the set's mean, over its (population) standard deviation."""
    d = desc.view(desc.shape[0], channels, -1)
    mean = d.mean(dim=(0, 2), keepdim=True)
    std = d.std(dim=(0, 2), keepdim=True, unbiased=False).clamp_min(1e-12)
    return ((d - mean) / std).view(desc.shape[0], -1)


def random_directions(dim: int, count: int, generator: torch.Generator) -> Tensor:
    """(dim, count) Gaussian directions scaled to unit length."""
    dirs = torch.randn(dim, count, generator=generator)
    return dirs / dirs.norm(dim=0, keepdim=True)


def sliced_wasserstein(a: Tensor, b: Tensor, directions: Tensor) -> float:
    """Mean over directions of the 1-D W1 between the projections of equal-size sets a and b."""
    proj_a, proj_b = sorted_rows(directions.T @ a.T), sorted_rows(directions.T @ b.T)  # (directions, samples)
    return float((proj_a - proj_b).abs().mean())


def sorted_rows(x: Tensor) -> Tensor:
    """Each row sorted. On the CPU through numpy, whose sort is about ten times faster than torch's there."""
    if x.device.type == "cpu":
        return torch.from_numpy(np.sort(x.numpy(), axis=1))
    return torch.sort(x, dim=1).values


def level_descriptors(images: Tensor, seed: int) -> list[Tensor]:
    """Normalized descriptors of every pyramid level, patch positions drawn from `seed`."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for level in laplacian_pyramid(images, pyramid_levels(images.shape[-1])):
        rows, cols = patch_positions(level.shape[0], level.shape[-1], PATCHES_PER_IMAGE, generator)
        out.append(normalized(descriptors(level, rows, cols), level.shape[1]))
    return out


def swd_per_level(real: list[Tensor], fake: list[Tensor], seed: int) -> list[float]:
    """SWD x 1000 per level, with the same DIRECTIONS random directions (from `seed`) for every call."""
    generator = torch.Generator().manual_seed(seed)
    dirs = [random_directions(r.shape[1], DIRECTIONS, generator).to(r.device) for r in real]
    return [SCALE * sliced_wasserstein(r, f, d) for r, f, d in zip(real, fake, dirs)]


@register_metric("swd", direction="minimize", needs=("images",), bounds=(0.0, None))
def swd(ctx: EvalContext) -> float:
    """Multi-scale sliced Wasserstein distance x 1000 on Laplacian-pyramid 7x7 patches (minimize; 0 is best).

    Karras et al. 2018. Between n generated images and the same n fixed training images as
    `fd_classifier` (n = min(eval.num_samples, training split)); mean over pyramid levels (8 px
    and up). Needs no labels and no pretrained network: the label-free objective of unlabelled
    image folders. Like every distance between samples it shrinks as n grows: compare at one n.
    """
    n = reference_count(ctx)
    if not bool(torch.isfinite(ctx.fake[:n]).all()):
        return float("inf")

    def reference() -> list[Tensor]:
        images = ctx.dataset.images
        idx = reference_indices(images.shape[0], n, ctx.cfg.eval.seed).to(images.device)
        return level_descriptors(images[idx].to(ctx.device), ctx.cfg.eval.seed)

    real = ctx.shared(f"swd_reference_{n}", reference, per_run=True)
    fake = level_descriptors(ctx.fake[:n], ctx.cfg.eval.seed + 1)
    per_level = swd_per_level(real, fake, ctx.cfg.eval.seed + 2)
    return sum(per_level) / len(per_level)
