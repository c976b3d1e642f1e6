"""`resnet`: the SNGAN / WGAN-GP CIFAR-10 ResNet (Miyato et al. 2018, appendix B.4; Gulrajani et al. 2017).

At 32x32x3 with the published widths (z_dim 128, ngf 256, ndf 128) it has the reference
implementation's parameter counts, generator 4,276,739 and critic 1,053,825 (mimicry's
`sngan_32`; tests/test_models_resnet.py counts them). Other sides that halve down to 4 or 7 get
one generator block per doubling and the critic one downsampling block per halving to 8 (or 7),
so 32 px is exactly the reference. Upsampling is nearest-neighbour, as in both papers' code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
import torch.nn.functional as F

from harness.core.knobs import Knob
from harness.models.base import register_arch
from harness.models.blocks import DownBlock, FirstDownBlock, UpBlock, size_plan, square_plannable, xavier

if TYPE_CHECKING:
    from harness.core.schema import ModelConfig

NGF = Knob("ngf", int, 256, min=1, max=4096, doc="resnet generator channels (256 in SNGAN)")
NDF = Knob("ndf", int, 128, min=1, max=4096, doc="resnet critic channels (128 in SNGAN)")
PLAIN_CRITIC_BLOCKS = 2  # the reference's two blocks without downsampling before the sum pooling


class ResNetGenerator(nn.Module):
    """z -> linear -> s0 x s0 x ngf -> k upsampling blocks -> BN, ReLU, conv3x3, tanh."""

    def __init__(self, z_dim: int, ngf: int, channels: int, size: int) -> None:
        super().__init__()
        self.s0, k = size_plan(size)
        self.ngf = ngf
        self.l1 = xavier(nn.Linear(z_dim, self.s0 * self.s0 * ngf), 1.0)
        self.blocks = nn.Sequential(*[UpBlock(ngf, ngf) for _ in range(k)])  # state size. ngf x size x size
        self.b_out = nn.BatchNorm2d(ngf)
        self.c_out = xavier(nn.Conv2d(ngf, channels, 3, 1, 1), 1.0)

    def forward(self, z: Tensor) -> Tensor:
        h = self.l1(z).view(z.shape[0], self.ngf, self.s0, self.s0)
        h = self.blocks(h)
        return torch.tanh(self.c_out(F.relu(self.b_out(h))))  # state size. channels x size x size, in [-1, 1]


class ResNetCritic(nn.Module):
    """First (optimized) block, downsampling blocks, two plain blocks, ReLU, global sum pooling, linear."""

    def __init__(self, ndf: int, channels: int, size: int, norm: str) -> None:
        super().__init__()
        s0, k = size_plan(size)
        downsampling = max(k - 2, 0) if s0 == 4 else max(k - 1, 0)  # 32 -> 16 -> 8: the reference's two halvings
        blocks: list[nn.Module] = [FirstDownBlock(channels, ndf, norm)]
        blocks += [DownBlock(ndf, ndf, downsample=True, norm=norm) for _ in range(downsampling)]
        blocks += [DownBlock(ndf, ndf, downsample=False, norm=norm) for _ in range(PLAIN_CRITIC_BLOCKS)]
        self.blocks = nn.Sequential(*blocks)
        self.l_out = xavier(nn.Linear(ndf, 1), 1.0)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.blocks(x)).sum(dim=(2, 3))  # global sum pooling: ndf
        return self.l_out(h).reshape(-1)


@register_arch("resnet", kind="images", knobs=(NGF, NDF), default_critic_norm="none", supports_shape=square_plannable)
class ResNet:
    """The SNGAN / WGAN-GP CIFAR ResNet: residual G with batch norm, residual critic without normalization."""

    @staticmethod
    def generator(sample_shape: tuple[int, ...], cfg: "ModelConfig") -> nn.Module:
        return ResNetGenerator(cfg.z_dim, cfg.ngf, sample_shape[0], sample_shape[1])

    @staticmethod
    def critic(sample_shape: tuple[int, ...], cfg: "ModelConfig", norm: str) -> nn.Module:
        return ResNetCritic(cfg.ndf, sample_shape[0], sample_shape[1], norm)
