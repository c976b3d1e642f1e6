"""Spectral normalization: the estimate u^T W v against torch.linalg.matrix_norm(W, 2), every layer wrapped."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from harness.recipes.spectral import NORMALIZED, apply_spectral_norm, sigma_estimates, spectral_parts
from harness.train.trainer import build_state
from tests.conftest import tiny_run


def critic() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 5, 3), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(5 * 4 * 4, 9),
                         nn.LeakyReLU(0.2), nn.Linear(9, 1))


def iterate(D: nn.Module, passes: int) -> None:
    """Each forward pass in training mode runs the layers' power iterations once more."""
    D.train()
    with torch.no_grad():
        for _ in range(passes):
            D(torch.randn(4, 3, 6, 6))


def raw_matrices(D: nn.Module) -> list[torch.Tensor]:
    """Each normalized layer's raw weight as torch reshapes it: (out, in * kernel)."""
    return [w.detach().reshape(w.shape[0], -1) for _, w in spectral_parts(D)]


def sigma_by_frobenius(D: nn.Module) -> torch.Tensor:
    return torch.stack([torch.linalg.matrix_norm(w, "fro") for w in raw_matrices(D)])


def sigma_by_first_row(D: nn.Module) -> torch.Tensor:
    return torch.stack([w[0].norm() for w in raw_matrices(D)])


def check_estimates_match_matrix_norm(estimate) -> None:
    D = apply_spectral_norm(critic(), n_power_iterations=1)
    iterate(D, 200)
    exact = torch.stack([torch.linalg.matrix_norm(w, 2) for w in raw_matrices(D)])
    torch.testing.assert_close(estimate(D), exact, rtol=1e-4, atol=1e-6)


def test_sigma_estimates_converge_to_the_spectral_norm() -> None:
    check_estimates_match_matrix_norm(sigma_estimates)


@pytest.mark.parametrize("mutant", [sigma_by_frobenius, sigma_by_first_row])
def test_wrong_estimates_fail_the_check(mutant) -> None:
    with pytest.raises(AssertionError):
        check_estimates_match_matrix_norm(mutant)


def test_normalized_weights_have_spectral_norm_one() -> None:
    D = apply_spectral_norm(critic(), n_power_iterations=1)
    iterate(D, 200)
    D.eval()  # read the weights without another power iteration
    for layer in [m for m in D.modules() if isinstance(m, NORMALIZED)]:
        w = layer.weight.detach().reshape(layer.weight.shape[0], -1)
        assert torch.linalg.matrix_norm(w, 2).item() == pytest.approx(1.0, abs=1e-4)


def test_power_iterations_knob_reaches_torch_and_rewrapping_is_a_no_op() -> None:
    D = apply_spectral_norm(critic(), n_power_iterations=3)
    assert {p.n_power_iterations for p, _ in spectral_parts(D)} == {3}
    count = len(spectral_parts(D))
    assert len(spectral_parts(apply_spectral_norm(D, 1))) == count == 3


@pytest.mark.parametrize("case", ["mlp-ring8", "dcgan-digits8"])
def test_the_constraint_wraps_every_critic_layer_when_models_are_built(case: str) -> None:
    state = build_state(tiny_run("sngan", case, train={"sn_power_iterations": 2}))
    layers = [m for m in state.D.modules() if isinstance(m, NORMALIZED)]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    assert {p.n_power_iterations for p, _ in spectral_parts(state.D)} == {2}
    assert not any(parametrize.is_parametrized(m) for m in state.G.modules())  # G is left alone
    plain = build_state(tiny_run("wgan_gp", case))
    assert not any(parametrize.is_parametrized(m) for m in plain.D.modules())
