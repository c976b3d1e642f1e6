"""sngan_cnn: Miyato et al. 2018's standard CNN, layer by layer at 32 px (their table 3)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.models import build_models
from harness.core.schema import ModelConfig


def cfg(width: int = 64, norm: str = "none") -> ModelConfig:
    return ModelConfig(arch="sngan_cnn", z_dim=128, critic_norm=norm, knobs={"width": width})


def convs(module: nn.Module, kind: type) -> list[tuple[int, int, int, int]]:
    return [(m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0]) for m in module.modules()
            if isinstance(m, kind)]


def test_the_papers_layers_at_32px() -> None:
    G, D = build_models((3, 32, 32), cfg())
    dense = [m for m in G.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in dense] == [(128, 4 * 4 * 512)]
    assert convs(G, nn.ConvTranspose2d) == [(512, 256, 4, 2), (256, 128, 4, 2), (128, 64, 4, 2)]
    assert convs(G, nn.Conv2d) == [(64, 3, 3, 1)] and isinstance(list(G.modules())[-1], nn.Tanh)
    assert convs(D, nn.Conv2d) == [(3, 64, 3, 1), (64, 64, 4, 2), (64, 128, 3, 1), (128, 128, 4, 2),
                                   (128, 256, 3, 1), (256, 256, 4, 2), (256, 512, 3, 1)]
    assert [(m.in_features, m.out_features) for m in D.modules() if isinstance(m, nn.Linear)] == [(4 * 4 * 512, 1)]
    assert {m.negative_slope for m in D.modules() if isinstance(m, nn.LeakyReLU)} == {0.1}
    assert not [m for m in D.modules() if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm))]


@pytest.mark.parametrize("side", [8, 16, 28])
def test_other_sides(side: int) -> None:
    torch.manual_seed(0)
    G, D = build_models((1, side, side), cfg(width=4))
    x = G(torch.randn(3, 128))
    assert x.shape == (3, 1, side, side) and D(x).shape == (3,)
