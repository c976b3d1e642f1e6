"""`dcgan`: stride-2 (transposed) convolutions, one per doubling of the image side (Radford et al. 2016)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from harness.models.base import Critic, register_arch
from harness.models.blocks import conv_norm, size_plan, square_plannable
from harness.models.mlp import WIDTH

if TYPE_CHECKING:
    from harness.core.schema import ModelConfig


@register_arch("dcgan", kind="images", knobs=(WIDTH,), default_critic_norm="layer", supports_shape=square_plannable)
class DCGAN:
    """DCGAN G (BN-ReLU transposed convolutions, tanh) and D (LeakyReLU convolutions); the stack follows the size."""

    @staticmethod
    def generator(sample_shape: tuple[int, ...], cfg: "ModelConfig") -> nn.Module:
        channels_out, size = sample_shape[0], sample_shape[1]
        s0, k = size_plan(size)
        c = cfg.width * 2 ** (k - 1)
        layers: list[nn.Module] = [
            nn.Linear(cfg.z_dim, c * s0 * s0, bias=False), nn.BatchNorm1d(c * s0 * s0), nn.ReLU(),
            nn.Unflatten(1, (c, s0, s0)),  # state size. (width * 2**(k-1)) x s0 x s0
        ]
        for stage in range(k):
            last = stage == k - 1
            c_next = channels_out if last else c // 2
            layers.append(nn.ConvTranspose2d(c, c_next, 4, 2, 1, bias=last))  # side doubles: s0 * 2**(stage+1)
            layers += [nn.Tanh()] if last else [nn.BatchNorm2d(c_next), nn.ReLU()]
            c = c_next
        return nn.Sequential(*layers)  # state size. channels x size x size, in [-1, 1]

    @staticmethod
    def critic(sample_shape: tuple[int, ...], cfg: "ModelConfig", norm: str) -> nn.Module:
        channels_in, size = sample_shape[0], sample_shape[1]
        s0, k = size_plan(size)
        c = cfg.width
        # No normalization on the first layer, as in DCGAN.
        layers: list[nn.Module] = [nn.Conv2d(channels_in, c, 4, 2, 1), nn.LeakyReLU(0.2)]  # width x size/2 x size/2
        for _ in range(1, k):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1), conv_norm(norm, 2 * c), nn.LeakyReLU(0.2)]  # side halves
            c *= 2
        layers += [nn.Flatten(), nn.Linear(c * s0 * s0, 1)]  # state size. (width * 2**(k-1)) x s0 x s0 -> 1
        return Critic(nn.Sequential(*layers))
