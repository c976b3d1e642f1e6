"""dcgan: one stride-2 stage per doubling of the side, tanh images, LeakyReLU critic."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.models import build_models
from harness.models.blocks import size_plan
from harness.core.schema import ModelConfig
from tests.conftest import tiny_run


def cfg(norm: str = "none") -> ModelConfig:
    return ModelConfig(arch="dcgan", z_dim=8, critic_norm=norm, knobs={"width": 8})


@pytest.mark.parametrize("size", [8, 16, 28, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_generator_shape_and_range(size: int, channels: int) -> None:
    torch.manual_seed(0)
    G, _ = build_models((channels, size, size), cfg())
    x = G(torch.randn(6, 8) * 10)  # large z drives tanh to saturation
    assert x.shape == (6, channels, size, size)
    assert x.min().item() >= -1.0 and x.max().item() <= 1.0 and x.std().item() > 0.1
    assert len([m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]) == size_plan(size)[1]
    assert isinstance(list(G.modules())[-1], nn.Tanh)


@pytest.mark.parametrize("size", [8, 16, 28, 32])
@pytest.mark.parametrize("norm", ["none", "layer", "batch"])
def test_dcgan_critic_returns_raw_scores_of_shape_n(size: int, norm: str) -> None:
    torch.manual_seed(0)
    _, D = build_models((1, size, size), cfg(norm))
    assert len([m for m in D.modules() if isinstance(m, nn.Conv2d)]) == size_plan(size)[1]
    with torch.no_grad():
        head = [m for m in D.modules() if isinstance(m, nn.Linear)][-1]
        head.bias.fill_(5.0)
        high = D(torch.randn(4, 1, size, size))
        head.bias.fill_(-5.0)
        low = D(torch.randn(4, 1, size, size))
    assert high.shape == (4,) and (high > 1).any() and (low < 0).any()  # not squashed into (0, 1)
    if norm == "none":
        assert not [m for m in D.modules() if isinstance(m, (nn.GroupNorm, nn.BatchNorm2d))]


@pytest.mark.parametrize("size", [8, 16, 28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_takes_a_training_step_at_every_size_and_channel_count(tmp_path, size: int, channels: int) -> None:
    from harness.train.trainer import build_state, train
    from tests.image_folders import write_flat_folder

    root = write_flat_folder(tmp_path, count=6, side=size, mode="RGB")
    run = tiny_run("wgan_gp", "dcgan-digits8", data={"name": "folder", "root": str(root), "image_size": size,
                                                     "channels": channels},
                   train={"steps": 1, "batch_size": 4, "n_critic": 1}, eval={"num_samples": 10})
    state = build_state(run)
    assert state.dataset.sample_shape == (channels, size, size)
    before = [[p.detach().clone() for p in m.parameters()] for m in (state.G, state.D)]
    result = train(run, [], state)
    for old, model in zip(before, (state.G, state.D)):  # both networks took their step
        assert any(not torch.equal(b, a) for b, a in zip(old, model.parameters()))
    assert result.steps == 1
    assert state.G(torch.randn(2, run.model.z_dim)).shape == (2, channels, size, size)
    assert result.final_metrics["swd"] > 0
