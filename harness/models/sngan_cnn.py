"""`sngan_cnn`: the "standard CNN" of Miyato et al. 2018 (table 3), sized by `model.width` (64 in the paper).

Generator: z -> dense -> s0 x s0 x 8w, BN, ReLU; k transposed 4x4 stride-2 convolutions halving the
channels (BN, ReLU); a 3x3 convolution to the image's channels and tanh. Critic: a 3x3 convolution
to w channels, then per halving a 4x4 stride-2 convolution and a 3x3 one doubling the channels,
LeakyReLU(0.1) throughout, then a dense layer to one score. At 32 px (k = 3) that is the paper's
512-256-128-64 generator and 64-64-128-128-256-256-512 critic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from harness.models.base import Critic, register_arch
from harness.models.blocks import conv_norm, size_plan, square_plannable
from harness.models.mlp import WIDTH

if TYPE_CHECKING:
    from harness.core.schema import ModelConfig

SLOPE = 0.1  # the paper's LeakyReLU slope


@register_arch("sngan_cnn", kind="images", knobs=(WIDTH,), default_critic_norm="none", supports_shape=square_plannable)
class SNGANStandardCNN:
    """Miyato et al. 2018's standard CNN: DCGAN-like G, a deeper 3x3/4x4 critic without normalization."""

    @staticmethod
    def generator(sample_shape: tuple[int, ...], cfg: "ModelConfig") -> nn.Module:
        channels_out, size = sample_shape[0], sample_shape[1]
        s0, k = size_plan(size)
        c = cfg.width * 2**k
        layers: list[nn.Module] = [nn.Linear(cfg.z_dim, c * s0 * s0), nn.Unflatten(1, (c, s0, s0)),
                                   nn.BatchNorm2d(c), nn.ReLU()]  # state size. (width * 2**k) x s0 x s0
        for _ in range(k):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1), nn.BatchNorm2d(c // 2), nn.ReLU()]  # side doubles
            c //= 2
        layers += [nn.Conv2d(c, channels_out, 3, 1, 1), nn.Tanh()]  # state size. channels x size x size
        return nn.Sequential(*layers)

    @staticmethod
    def critic(sample_shape: tuple[int, ...], cfg: "ModelConfig", norm: str) -> nn.Module:
        channels_in, size = sample_shape[0], sample_shape[1]
        s0, k = size_plan(size)
        c = cfg.width
        layers: list[nn.Module] = [nn.Conv2d(channels_in, c, 3, 1, 1), nn.LeakyReLU(SLOPE)]  # width x size x size
        for _ in range(k):
            layers += [nn.Conv2d(c, c, 4, 2, 1), conv_norm(norm, c), nn.LeakyReLU(SLOPE),  # side halves
                       nn.Conv2d(c, 2 * c, 3, 1, 1), conv_norm(norm, 2 * c), nn.LeakyReLU(SLOPE)]
            c *= 2
        layers += [nn.Flatten(), nn.Linear(c * s0 * s0, 1)]  # state size. (width * 2**k) x s0 x s0 -> 1
        return Critic(nn.Sequential(*layers))
