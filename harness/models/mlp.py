"""`mlp`: the WGAN-GP toy code's networks for 2-D points (ReLU, `depth` hidden layers of `width` units)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from harness.core.knobs import Knob
from harness.models.base import Critic, register_arch

if TYPE_CHECKING:
    from harness.core.schema import ModelConfig

WIDTH = Knob("width", int, 64, min=1, max=4096, doc="hidden units (mlp) or base channels (dcgan, sngan_cnn)")
DEPTH = Knob("depth", int, 3, min=1, max=32, doc="hidden layers of the mlp")


def mlp_norm(norm: str, width: int) -> nn.Module:
    return {"none": nn.Identity, "layer": lambda: nn.LayerNorm(width), "batch": lambda: nn.BatchNorm1d(width)}[norm]()


@register_arch("mlp", kind="points", knobs=(WIDTH, DEPTH), supports_shape=lambda shape: len(shape) == 1)
class MLP:
    """Fully connected G and D for 2-D points (Gulrajani et al. 2017's toy networks)."""

    @staticmethod
    def generator(sample_shape: tuple[int, ...], cfg: "ModelConfig") -> nn.Module:
        layers: list[nn.Module] = []
        fan_in = cfg.z_dim
        for _ in range(cfg.depth):
            layers += [nn.Linear(fan_in, cfg.width), nn.ReLU()]
            fan_in = cfg.width
        layers.append(nn.Linear(fan_in, sample_shape[0]))  # no output activation: points are unbounded
        return nn.Sequential(*layers)

    @staticmethod
    def critic(sample_shape: tuple[int, ...], cfg: "ModelConfig", norm: str) -> nn.Module:
        layers: list[nn.Module] = []
        fan_in = sample_shape[0]
        for _ in range(cfg.depth):
            layers += [nn.Linear(fan_in, cfg.width), mlp_norm(norm, cfg.width), nn.ReLU()]
            fan_in = cfg.width
        layers.append(nn.Linear(fan_in, 1))
        return Critic(nn.Sequential(*layers))
