"""The architecture registry: one `@register_arch` entry per family of generator/critic pairs.

An architecture says what data it models (`kind`: "points" or "images"), which sample shapes it
builds for, the critic normalization it uses by default, and its knobs: the `model.<knob>` keys it
reads (widths, depths), which the config validates, the sweep searches (`sweep.space:
{model.ngf: ...}`) and the report shows for the variants that use it. Critics return raw scores
of shape (N,); the loss decides what to do with them (no sigmoid here).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import torch
from torch import Tensor, nn

from harness.core.knobs import MODEL, Knob
from harness.core.registry import Registry
from harness.core.schema import CRITIC_NORMS

if TYPE_CHECKING:
    from harness.core.schema import ModelConfig

# (sample shape, model config) -> G;  (sample shape, model config, critic norm) -> D
GeneratorFn = Callable[[tuple[int, ...], "ModelConfig"], nn.Module]
CriticFn = Callable[[tuple[int, ...], "ModelConfig", str], nn.Module]


def any_shape(shape: tuple[int, ...]) -> bool:
    return True


@dataclass(frozen=True)
class Architecture:
    kind: str  # the dataset kind it models: "points" or "images"
    generator: GeneratorFn
    critic: CriticFn
    default_critic_norm: str = "none"
    supports_shape: Callable[[tuple[int, ...]], bool] = any_shape
    knobs: tuple[Knob, ...] = ()  # the model.<knob> keys it reads
    doc: str = field(default="", compare=False)


ARCHS: Registry[Architecture] = Registry("model.arch", knob_section=MODEL)


def register_arch(name: str, *, kind: str, knobs: tuple[Knob, ...] = (), default_critic_norm: str = "none",
                  supports_shape: Callable[[tuple[int, ...]], bool] = any_shape,
                  doc: str = "") -> Callable[[Any], Any]:
    """Class decorator: register an object with `generator(sample_shape, model)` and
    `critic(sample_shape, model, norm)` as `model.arch: name`.

    `model` is the run's ModelConfig: `model.z_dim` and the declared knobs (`model.<knob>`) size
    the networks. `norm` is the resolved `model.critic_norm` ("none", "layer" or "batch"); a
    critic must return raw scores of shape (N,).
    """
    if kind not in ("points", "images"):
        raise ValueError(f"arch {name!r}: kind must be 'points' or 'images', got {kind!r}")
    if default_critic_norm not in CRITIC_NORMS:
        raise ValueError(f"arch {name!r}: default_critic_norm must be one of {CRITIC_NORMS}")

    def decorate(obj: Any) -> Any:
        ARCHS.add(name, Architecture(kind, obj.generator, obj.critic, default_critic_norm, supports_shape,
                                     tuple(knobs), doc or inspect.getdoc(obj) or ""))
        return obj

    return decorate


class Critic(nn.Module):
    """Wraps a trunk that ends in one unit and flattens its output to (N,) raw scores."""

    def __init__(self, trunk: nn.Module) -> None:
        super().__init__()
        self.trunk = trunk

    def forward(self, x: Tensor) -> Tensor:
        return self.trunk(x).reshape(-1)


def build_models(sample_shape: tuple[int, ...], cfg: "ModelConfig") -> tuple[nn.Module, nn.Module]:
    """(G, D) for the configured architecture; `cfg.critic_norm` must already be resolved."""
    arch = ARCHS.get(cfg.arch)
    return arch.generator(sample_shape, cfg), arch.critic(sample_shape, cfg, cfg.critic_norm)


def parameter_count(module: nn.Module) -> int:
    """Trainable numbers in `module` (a spectral-norm parametrization counts its weight once)."""
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def generate(G: nn.Module, z: Tensor, chunk: int = 1024) -> Tensor:
    """G(z) in eval mode (batch norm on running statistics), in chunks; G's mode is restored."""
    was_training = G.training
    G.eval()
    try:
        return torch.cat([G(part) for part in z.split(chunk)])
    finally:
        G.train(was_training)
