"""mlp: width and depth come from its model knobs; no output activation on points."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.models import build_models
from harness.core.schema import ModelConfig


def cfg(norm: str = "none", **knobs: int) -> ModelConfig:
    return ModelConfig(arch="mlp", z_dim=8, critic_norm=norm, knobs={"width": 64, "depth": 3, **knobs})


@pytest.mark.parametrize("width, depth", [(16, 1), (32, 3), (5, 4)])
def test_mlp_width_and_depth_come_from_config(width: int, depth: int) -> None:
    G, D = build_models((2,), cfg(width=width, depth=depth))
    g_linear = [m for m in G.modules() if isinstance(m, nn.Linear)]
    d_linear = [m for m in D.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in g_linear] == [(8, width)] + [(width, width)] * (depth - 1) + [
        (width, 2)]
    assert [(m.in_features, m.out_features) for m in d_linear] == [(2, width)] + [(width, width)] * (depth - 1) + [
        (width, 1)]
    assert isinstance(list(G.modules())[-1], nn.Linear)  # points are unbounded: no output activation
    torch.manual_seed(0)
    assert G(torch.randn(5, 8)).shape == (5, 2) and D(torch.randn(5, 2)).shape == (5,)


@pytest.mark.parametrize("norm, kind", [("none", None), ("layer", nn.LayerNorm), ("batch", nn.BatchNorm1d)])
def test_mlp_critic_norm(norm: str, kind: type | None) -> None:
    _, D = build_models((2,), cfg(norm, depth=3))
    norms = [m for m in D.modules() if isinstance(m, (nn.LayerNorm, nn.BatchNorm1d, nn.GroupNorm))]
    assert len(norms) == (0 if kind is None else 3) and all(isinstance(m, kind) for m in norms)
