"""Building blocks the image architectures share: the size plan, normalization layers, residual blocks."""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn


def size_plan(size: int) -> tuple[int, int]:
    """(start side s0, number of stride-2 stages k) with s0 * 2**k == size: 8->(4,1), 16->(4,2), 28->(7,2), 32->(4,3)."""
    s0, k = size, 0
    while s0 > 7 and s0 % 2 == 0:
        s0, k = s0 // 2, k + 1
    return s0, k


def square_plannable(shape: tuple[int, ...]) -> bool:
    """C x S x S images whose side halves down to 4 or 7 at least once (8, 14, 16, 28, 32, 64, ...)."""
    if len(shape) != 3 or shape[1] != shape[2]:
        return False
    s0, k = size_plan(shape[1])
    return k >= 1 and s0 in (4, 7)


def conv_norm(norm: str, channels: int) -> nn.Module:
    # GroupNorm with one group normalizes over (C, H, W) per sample: layer norm for conv maps.
    return {"none": nn.Identity, "layer": lambda: nn.GroupNorm(1, channels),
            "batch": lambda: nn.BatchNorm2d(channels)}[norm]()


def xavier(layer: nn.Module, gain: float) -> nn.Module:
    """The SNGAN reference initialization (mimicry, sngan_projection): Xavier-uniform weights."""
    nn.init.xavier_uniform_(layer.weight, gain)
    return layer


class UpBlock(nn.Module):
    """Generator residual block (SNGAN / WGAN-GP ResNet): BN-ReLU-up-conv3-BN-ReLU-conv3, plus up-conv1 shortcut."""

    def __init__(self, channels_in: int, channels_out: int) -> None:
        super().__init__()
        self.b1, self.b2 = nn.BatchNorm2d(channels_in), nn.BatchNorm2d(channels_out)
        self.c1 = xavier(nn.Conv2d(channels_in, channels_out, 3, 1, 1), math.sqrt(2.0))
        self.c2 = xavier(nn.Conv2d(channels_out, channels_out, 3, 1, 1), math.sqrt(2.0))
        self.c_sc = xavier(nn.Conv2d(channels_in, channels_out, 1, 1, 0), 1.0)

    def forward(self, x: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.b1(x)), scale_factor=2, mode="nearest")  # side doubles
        h = self.c2(F.relu(self.b2(self.c1(h))))
        return h + self.c_sc(F.interpolate(x, scale_factor=2, mode="nearest"))


class DownBlock(nn.Module):
    """Critic residual block: ReLU-conv3-ReLU-conv3 (then 2x2 average pooling when it downsamples).

    The shortcut is a 1x1 convolution only where the shape changes (downsampling or new width),
    else the identity, as in the reference. `norm` goes before each activation ("none" in SNGAN).
    """

    def __init__(self, channels_in: int, channels_out: int, downsample: bool, norm: str) -> None:
        super().__init__()
        self.downsample = downsample
        self.n1, self.n2 = conv_norm(norm, channels_in), conv_norm(norm, channels_in)
        self.c1 = xavier(nn.Conv2d(channels_in, channels_in, 3, 1, 1), math.sqrt(2.0))
        self.c2 = xavier(nn.Conv2d(channels_in, channels_out, 3, 1, 1), math.sqrt(2.0))
        learnable = downsample or channels_in != channels_out
        self.c_sc = xavier(nn.Conv2d(channels_in, channels_out, 1, 1, 0), 1.0) if learnable else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.c2(F.relu(self.n2(self.c1(F.relu(self.n1(x))))))
        shortcut = x if self.c_sc is None else self.c_sc(x)
        if self.downsample:
            h, shortcut = F.avg_pool2d(h, 2), F.avg_pool2d(shortcut, 2)  # side halves
        return h + shortcut


class FirstDownBlock(nn.Module):
    """The critic's "optimized" first block: conv3-ReLU-conv3-avgpool, shortcut avgpool-conv1 (no leading ReLU)."""

    def __init__(self, channels_in: int, channels_out: int, norm: str) -> None:
        super().__init__()
        self.c1 = xavier(nn.Conv2d(channels_in, channels_out, 3, 1, 1), math.sqrt(2.0))
        self.n1 = conv_norm(norm, channels_out)
        self.c2 = xavier(nn.Conv2d(channels_out, channels_out, 3, 1, 1), math.sqrt(2.0))
        self.c_sc = xavier(nn.Conv2d(channels_in, channels_out, 1, 1, 0), 1.0)

    def forward(self, x: Tensor) -> Tensor:
        h = F.avg_pool2d(self.c2(F.relu(self.n1(self.c1(x)))), 2)  # side halves
        return h + self.c_sc(F.avg_pool2d(x, 2))
