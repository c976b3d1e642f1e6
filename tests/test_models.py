"""Architectures: mlp for points, dcgan whose stack follows the image size; critics return raw (N,) scores."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.config import ModelConfig
from harness.models import ARCHS, build_models, dcgan_plan, dcgan_supports, generate
from tests.conftest import VARIANTS, tiny_run


def cfg(arch: str, norm: str = "none", **kwargs) -> ModelConfig:
    return ModelConfig(arch=arch, critic_norm=norm, **{"z_dim": 8, "width": 8, **kwargs})


def layers_of(module: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, kind)]


# --- mlp ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width, depth", [(16, 1), (32, 3), (5, 4)])
def test_mlp_width_and_depth_come_from_config(width: int, depth: int) -> None:
    G, D = build_models((2,), cfg("mlp", width=width, depth=depth))
    g_linear, d_linear = layers_of(G, nn.Linear), layers_of(D, nn.Linear)
    assert [(m.in_features, m.out_features) for m in g_linear] == [(8, width)] + [(width, width)] * (depth - 1) + [
        (width, 2)]
    assert [(m.in_features, m.out_features) for m in d_linear] == [(2, width)] + [(width, width)] * (depth - 1) + [
        (width, 1)]
    assert isinstance(list(G.modules())[-1], nn.Linear)  # points are unbounded: no output activation
    torch.manual_seed(0)
    assert G(torch.randn(5, 8)).shape == (5, 2) and D(torch.randn(5, 2)).shape == (5,)


@pytest.mark.parametrize("norm, kind", [("none", None), ("layer", nn.LayerNorm), ("batch", nn.BatchNorm1d)])
def test_mlp_critic_norm(norm: str, kind: type | None) -> None:
    _, D = build_models((2,), cfg("mlp", norm, depth=3))
    norms = layers_of(D, (nn.LayerNorm, nn.BatchNorm1d, nn.GroupNorm))
    assert len(norms) == (0 if kind is None else 3) and all(isinstance(m, kind) for m in norms)


# --- dcgan -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size, plan", [(8, (4, 1)), (16, (4, 2)), (28, (7, 2)), (32, (4, 3)), (64, (4, 4))])
def test_dcgan_plan(size: int, plan: tuple[int, int]) -> None:
    assert dcgan_plan(size) == plan
    s0, k = plan
    assert s0 * 2**k == size


@pytest.mark.parametrize("shape, ok", [
    ((1, 8, 8), True), ((1, 16, 16), True), ((1, 28, 28), True), ((3, 32, 32), True),
    ((1, 4, 4), False), ((1, 12, 12), False), ((1, 30, 30), False), ((1, 16, 8), False), ((2,), False),
])
def test_dcgan_supported_shapes(shape: tuple, ok: bool) -> None:
    assert dcgan_supports(shape) is ok


@pytest.mark.parametrize("size", [8, 16, 28, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_generator_shape_and_range(size: int, channels: int) -> None:
    torch.manual_seed(0)
    G, _ = build_models((channels, size, size), cfg("dcgan"))
    x = G(torch.randn(6, 8) * 10)  # large z drives tanh to saturation
    assert x.shape == (6, channels, size, size)
    assert x.min().item() >= -1.0 and x.max().item() <= 1.0 and x.std().item() > 0.1
    s0, k = dcgan_plan(size)
    assert len(layers_of(G, nn.ConvTranspose2d)) == k  # one stride-2 stage per doubling
    assert isinstance(list(G.modules())[-1], nn.Tanh)


@pytest.mark.parametrize("size", [8, 16, 28, 32])
@pytest.mark.parametrize("norm", ["none", "layer", "batch"])
def test_dcgan_critic_returns_raw_scores_of_shape_n(size: int, norm: str) -> None:
    torch.manual_seed(0)
    _, D = build_models((1, size, size), cfg("dcgan", norm))
    assert len(layers_of(D, nn.Conv2d)) == dcgan_plan(size)[1]
    assert not layers_of(D, nn.Sigmoid)
    with torch.no_grad():
        head = layers_of(D, nn.Linear)[-1]
        head.bias.fill_(5.0)
        high = D(torch.randn(4, 1, size, size))
        head.bias.fill_(-5.0)
        low = D(torch.randn(4, 1, size, size))
    assert high.shape == (4,) and (high > 1).any() and (low < 0).any()  # not squashed into (0, 1)
    if norm == "none":
        assert not layers_of(D, (nn.GroupNorm, nn.BatchNorm2d))


@pytest.mark.parametrize("arch, shape", [("mlp", (2,)), ("dcgan", (1, 16, 16))])
@pytest.mark.parametrize("norm", ["none", "layer"])
def test_critics_without_batch_norm_score_each_sample_on_its_own(arch: str, shape: tuple, norm: str) -> None:
    """The gradient penalty needs d D(x_i) / d x_j = 0 for i != j; batch norm would break it."""
    torch.manual_seed(0)
    _, D = build_models(shape, cfg(arch, norm))
    x = torch.randn(8, *shape)
    assert torch.allclose(D(x)[:3], D(x[:3]), atol=1e-6)
    x_other = torch.cat([x[:3], torch.randn(5, *shape)])
    assert torch.allclose(D(x)[:3], D(x_other)[:3], atol=1e-6)


def test_batch_norm_critic_mixes_samples_which_is_why_gp_refuses_it() -> None:
    torch.manual_seed(0)
    _, D = build_models((2,), cfg("mlp", "batch"))
    x = torch.randn(8, 2)
    assert not torch.allclose(D(x)[:3], D(torch.cat([x[:3], torch.randn(5, 2) * 3]))[:3], atol=1e-4)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", ["mlp-ring8", "dcgan-digits8", "dcgan-digits16"])
def test_resolved_critics_have_no_batch_norm_under_the_gradient_penalty(variant: str, case: str) -> None:
    run = tiny_run(variant, case)
    sample_shape = (2,) if run.model.arch == "mlp" else (1, run.data.image_size or 8, run.data.image_size or 8)
    _, D = build_models(sample_shape, run.model)
    if run.train.constraint == "gp":
        assert not layers_of(D, nn.modules.batchnorm._BatchNorm)


def test_generate_uses_running_stats_in_chunks_and_restores_the_mode() -> None:
    torch.manual_seed(0)
    G, _ = build_models((1, 8, 8), cfg("dcgan"))
    G(torch.randn(16, 8))  # one training-mode batch moves the running statistics
    z = torch.randn(10, 8)
    out = generate(G, z, chunk=3)
    assert G.training and out.shape == (10, 1, 8, 8) and not out.requires_grad
    G.eval()
    with torch.no_grad():
        one_batch = G(z)
        single = torch.cat([G(z[i : i + 1]) for i in range(10)])
    assert torch.allclose(out, one_batch, atol=1e-6) and torch.allclose(out, single, atol=1e-6)
    G.eval()
    generate(G, z)
    assert not G.training


def test_every_arch_declares_kind_and_default_norm() -> None:
    assert {name: (ARCHS.get(name).kind, ARCHS.get(name).default_critic_norm) for name in ARCHS.names()} == {
        "mlp": ("points", "none"), "dcgan": ("images", "layer")}


@pytest.mark.parametrize("size", [8, 16, 28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_takes_a_training_step_at_every_size_and_channel_count(tmp_path, size: int, channels: int) -> None:
    from harness.trainer import build_state, train
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
