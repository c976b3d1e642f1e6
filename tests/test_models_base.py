"""The architecture registry: every entry builds (G, D) whose critic returns raw (N,) scores, per sample."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.core.errors import ConfigError
from harness.core.knobs import KNOBS, Knob
from harness.models import ARCHS, Critic, build_models, generate, parameter_count, register_arch
from harness.core.schema import ModelConfig
from tests.conftest import ARCH_CASES, ARCHITECTURES, VARIANTS, tiny_run


def shape_of(case: str) -> tuple[int, ...]:
    run = tiny_run("wgan_gp", case)
    return (2,) if run.data.name == "ring8" else (1, run.data.image_size or 8, run.data.image_size or 8)


def layers_of(module: nn.Module, kind: type | tuple[type, ...]) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, kind)]


@pytest.mark.parametrize("case", ARCHITECTURES)
def test_every_arch_builds_a_generator_of_the_sample_shape_and_a_raw_score_critic(case: str) -> None:
    run = tiny_run("wgan_gp", case)
    torch.manual_seed(0)
    G, D = build_models(shape_of(case), run.model)
    x = G(torch.randn(5, run.model.z_dim))
    assert x.shape == (5, *shape_of(case))
    scores = D(x.detach())
    assert scores.shape == (5,) and not layers_of(D, nn.Sigmoid)  # the loss decides what a score means
    assert ARCHS.get(run.model.arch).supports_shape(shape_of(case))


@pytest.mark.parametrize("case", ARCHITECTURES)
@pytest.mark.parametrize("norm", ["none", "layer"])
def test_critics_without_batch_norm_score_each_sample_on_its_own(case: str, norm: str) -> None:
    """The gradient penalty needs d D(x_i) / d x_j = 0 for i != j; batch norm would break it."""
    run = tiny_run("wgan_gp", case, model={"critic_norm": norm})
    torch.manual_seed(0)
    _, D = build_models(shape_of(case), run.model)
    x = torch.randn(8, *shape_of(case))
    assert torch.allclose(D(x)[:3], D(x[:3]), atol=1e-5)
    x_other = torch.cat([x[:3], torch.randn(5, *shape_of(case))])
    assert torch.allclose(D(x)[:3], D(x_other)[:3], atol=1e-5)


def test_batch_norm_critic_mixes_samples_which_is_why_gp_refuses_it() -> None:
    torch.manual_seed(0)
    _, D = build_models((2,), ModelConfig(arch="mlp", z_dim=8, critic_norm="batch"))
    x = torch.randn(8, 2)
    assert not torch.allclose(D(x)[:3], D(torch.cat([x[:3], torch.randn(5, 2) * 3]))[:3], atol=1e-4)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", list(ARCH_CASES))
def test_resolved_critics_have_no_batch_norm_under_a_per_sample_penalty(variant: str, case: str) -> None:
    from harness.recipes.constraints import combined

    run = tiny_run(variant, case)
    _, D = build_models(shape_of(case), run.model)
    if not combined(run.train.constraints).allows_batch_norm:
        assert not layers_of(D, nn.modules.batchnorm._BatchNorm)


@pytest.mark.parametrize("case", ARCHITECTURES)
def test_spectral_norm_wraps_every_critic_layer(case: str) -> None:
    """Under `spectral_norm` every Linear and Conv of the critic is normalized, shortcuts and heads included."""
    from torch.nn.utils import parametrize

    from harness.train.trainer import build_state

    state = build_state(tiny_run("sngan", case))
    weighted = layers_of(state.D, (nn.Linear, nn.Conv2d))
    assert weighted and all(parametrize.is_parametrized(m, "weight") for m in weighted)


def test_generate_uses_running_stats_in_chunks_and_restores_the_mode() -> None:
    torch.manual_seed(0)
    G, _ = build_models((1, 8, 8), tiny_run("wgan_gp", "dcgan-digits8").model)
    G(torch.randn(16, G[0].in_features))  # one training-mode batch moves the running statistics
    z = torch.randn(10, G[0].in_features)
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


def test_parameter_count_counts_each_number_once() -> None:
    layer = nn.Linear(3, 2)
    assert parameter_count(layer) == 3 * 2 + 2
    assert parameter_count(nn.Sequential(layer, layer)) == 8  # a shared layer is one set of numbers
    wrapped = torch.nn.utils.parametrizations.spectral_norm(nn.Linear(3, 2))
    assert parameter_count(wrapped) == 8  # the parametrization keeps one weight; u, v are buffers


def test_register_arch_declares_model_knobs_and_checks_its_arguments() -> None:
    knob = Knob("test_arch_units", int, 5, min=1, doc="units")

    @register_arch("test_arch", kind="points", knobs=(knob,))
    class Tiny:
        @staticmethod
        def generator(sample_shape, cfg):
            return nn.Linear(cfg.z_dim, sample_shape[0])

        @staticmethod
        def critic(sample_shape, cfg, norm):
            return Critic(nn.Linear(sample_shape[0], 1))

    try:
        assert ARCHS.get("test_arch").knobs == (knob,) and KNOBS["test_arch_units"] is knob
        run = tiny_run("wgan_gp", "mlp-ring8", model={"arch": "test_arch", "test_arch_units": 7})
        assert run.model.test_arch_units == 7 and run.model.arch == "test_arch"
        with pytest.raises(ConfigError, match="model.test_arch_units: 0 is out of range"):
            tiny_run("wgan_gp", "mlp-ring8", model={"arch": "test_arch", "test_arch_units": 0})
    finally:
        ARCHS.remove("test_arch")
    assert "test_arch_units" not in KNOBS
    with pytest.raises(ValueError, match="kind must be 'points' or 'images'"):
        register_arch("bad", kind="voxels")
    with pytest.raises(ValueError, match="default_critic_norm must be one of"):
        register_arch("bad", kind="points", default_critic_norm="group")
