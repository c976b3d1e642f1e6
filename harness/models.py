"""Generator/critic architectures by name: `mlp` for 2-D points, `dcgan` for images.

Critics return raw scores of shape (N,); the loss decides what to do with them (no sigmoid here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import torch
from torch import Tensor, nn

from harness.registry import Registry

from harness.schema import CRITIC_NORMS  # noqa: F401  (re-exported: the schema owns the names)

if TYPE_CHECKING:
    from harness.schema import ModelConfig


@dataclass(frozen=True)
class Architecture:
    kind: str  # the dataset kind it models: "points" or "images"
    generator: Callable[[tuple[int, ...], "ModelConfig"], nn.Module]
    critic: Callable[[tuple[int, ...], "ModelConfig", str], nn.Module]
    default_critic_norm: str
    supports_shape: Callable[[tuple[int, ...]], bool] = lambda shape: True


ARCHS: Registry[Architecture] = Registry("model.arch")


class Critic(nn.Module):
    """Wraps a trunk that ends in one unit and flattens its output to (N,) raw scores."""

    def __init__(self, trunk: nn.Module) -> None:
        super().__init__()
        self.trunk = trunk

    def forward(self, x: Tensor) -> Tensor:
        return self.trunk(x).reshape(-1)


# --- mlp: the WGAN-GP toy code's networks (ReLU, `depth` hidden layers of `width` units) --------


def mlp_generator(sample_shape: tuple[int, ...], cfg: "ModelConfig") -> nn.Module:
    layers: list[nn.Module] = []
    fan_in = cfg.z_dim
    for _ in range(cfg.depth):
        layers += [nn.Linear(fan_in, cfg.width), nn.ReLU()]
        fan_in = cfg.width
    layers.append(nn.Linear(fan_in, sample_shape[0]))  # no output activation: points are unbounded
    return nn.Sequential(*layers)


def mlp_norm(norm: str, width: int) -> nn.Module:
    return {"none": nn.Identity, "layer": lambda: nn.LayerNorm(width), "batch": lambda: nn.BatchNorm1d(width)}[norm]()


def mlp_critic(sample_shape: tuple[int, ...], cfg: "ModelConfig", norm: str) -> nn.Module:
    layers: list[nn.Module] = []
    fan_in = sample_shape[0]
    for _ in range(cfg.depth):
        layers += [nn.Linear(fan_in, cfg.width), mlp_norm(norm, cfg.width), nn.ReLU()]
        fan_in = cfg.width
    layers.append(nn.Linear(fan_in, 1))
    return Critic(nn.Sequential(*layers))


ARCHS.add("mlp", Architecture("points", mlp_generator, mlp_critic, default_critic_norm="none",
                              supports_shape=lambda shape: len(shape) == 1))


# --- dcgan: stride-2 (transposed) convolutions; the stack follows the image size --------------


def dcgan_plan(size: int) -> tuple[int, int]:
    """(start side s0, number of stride-2 stages k) with s0 * 2**k == size: 8->(4,1), 16->(4,2), 28->(7,2), 32->(4,3)."""
    s0, k = size, 0
    while s0 > 7 and s0 % 2 == 0:
        s0, k = s0 // 2, k + 1
    return s0, k


def dcgan_supports(shape: tuple[int, ...]) -> bool:
    if len(shape) != 3 or shape[1] != shape[2]:
        return False
    s0, k = dcgan_plan(shape[1])
    return k >= 1 and s0 in (4, 7)


def conv_norm(norm: str, channels: int) -> nn.Module:
    # GroupNorm with one group normalizes over (C, H, W) per sample: layer norm for conv maps.
    return {"none": nn.Identity, "layer": lambda: nn.GroupNorm(1, channels),
            "batch": lambda: nn.BatchNorm2d(channels)}[norm]()


def dcgan_generator(sample_shape: tuple[int, ...], cfg: "ModelConfig") -> nn.Module:
    channels_out, size = sample_shape[0], sample_shape[1]
    s0, k = dcgan_plan(size)
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


def dcgan_critic(sample_shape: tuple[int, ...], cfg: "ModelConfig", norm: str) -> nn.Module:
    channels_in, size = sample_shape[0], sample_shape[1]
    s0, k = dcgan_plan(size)
    c = cfg.width
    # No normalization on the first layer, as in DCGAN.
    layers: list[nn.Module] = [nn.Conv2d(channels_in, c, 4, 2, 1), nn.LeakyReLU(0.2)]  # width x size/2 x size/2
    for _ in range(1, k):
        layers += [nn.Conv2d(c, 2 * c, 4, 2, 1), conv_norm(norm, 2 * c), nn.LeakyReLU(0.2)]  # side halves
        c *= 2
    layers += [nn.Flatten(), nn.Linear(c * s0 * s0, 1)]  # state size. (width * 2**(k-1)) x s0 x s0 -> 1
    return Critic(nn.Sequential(*layers))


ARCHS.add("dcgan", Architecture("images", dcgan_generator, dcgan_critic, default_critic_norm="layer",
                                supports_shape=dcgan_supports))


def build_models(sample_shape: tuple[int, ...], cfg: "ModelConfig") -> tuple[nn.Module, nn.Module]:
    """(G, D) for the configured architecture; `cfg.critic_norm` must already be resolved."""
    arch = ARCHS.get(cfg.arch)
    return arch.generator(sample_shape, cfg), arch.critic(sample_shape, cfg, cfg.critic_norm)


@torch.no_grad()
def generate(G: nn.Module, z: Tensor, chunk: int = 1024) -> Tensor:
    """G(z) in eval mode (batch norm on running statistics), in chunks; G's mode is restored."""
    was_training = G.training
    G.eval()
    try:
        return torch.cat([G(part) for part in z.split(chunk)])
    finally:
        G.train(was_training)
