"""Numeric tests of the losses and the gradient penalty, including the classic silent bugs.

Each classic bug is written below as a mutant of `gradient_penalty`; the checks that the real
implementation passes must each catch at least one mutant, so none of them can pass vacuously.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harness.recipes.losses import (LOSSES, bce_critic, bce_generator, gradient_penalty, hinge_critic,
                                    wasserstein_critic, wasserstein_generator)


class Linear(nn.Module):
    """D(x) = w . flatten(x): its input gradient is w everywhere, so the penalty is (||w|| - 1)^2."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.flatten().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w


class Recorder(nn.Module):
    """Records the inputs it was called with; D(x) = 0.5 * ||x||^2, so grad_x D = x."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach().clone())
        return 0.5 * self.scale * x.flatten(1).square().sum(1)


def small_mlp(dtype: torch.dtype = torch.float32) -> nn.Module:
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1),
                         nn.Flatten(0)).to(dtype)


# --- mutants: each one classic bug ----------------------------------------------------------


def _alpha(real: torch.Tensor) -> torch.Tensor:
    return torch.rand((real.shape[0],) + (1,) * (real.dim() - 1))


def mutant_no_requires_grad(D, real, fake):
    a = _alpha(real)
    x = a * real.detach() + (1 - a) * fake.detach()
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


def mutant_grad_wrt_real(D, real, fake):
    real = real.detach().requires_grad_(True)
    a = _alpha(real)
    x = a * real + (1 - a) * fake.detach()
    (g,) = torch.autograd.grad(D(x).sum(), real, create_graph=True)
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


def mutant_grad_wrt_fake(D, real, fake):
    fake = fake.detach().requires_grad_(True)
    a = _alpha(real)
    x = a * real.detach() + (1 - a) * fake
    (g,) = torch.autograd.grad(D(x).sum(), fake, create_graph=True)
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


def mutant_no_create_graph(D, real, fake):
    a = _alpha(real)
    x = (a * real.detach() + (1 - a) * fake.detach()).requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=False)
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


def mutant_one_alpha(D, real, fake):
    a = torch.rand(())
    x = (a * real.detach() + (1 - a) * fake.detach()).requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


def mutant_alpha_per_element(D, real, fake):
    a = torch.rand_like(real)  # not broadcast: a different mix per pixel/coordinate
    x = (a * real.detach() + (1 - a) * fake.detach()).requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


def _per_sample_penalty_without_checks(D, real, fake):
    a = _alpha(real)
    x = (a * real.detach() + (1 - a) * fake.detach()).requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


# bug -> (mutant, the check that must catch it)
MUTANTS = {
    "interpolates do not require grad": (mutant_no_requires_grad, "check_linear_critic_is_exact"),
    "gradient w.r.t. real": (mutant_grad_wrt_real, "check_linear_critic_is_exact"),
    "gradient w.r.t. fake": (mutant_grad_wrt_fake, "check_linear_critic_is_exact"),
    "missing create_graph": (mutant_no_create_graph, "check_parameter_gradient_matches_float64"),
    "one alpha for the whole batch": (mutant_one_alpha, "check_one_alpha_per_sample_broadcast"),
    "alpha not broadcast over the sample": (mutant_alpha_per_element, "check_one_alpha_per_sample_broadcast"),
    "batch-norm critic accepted": (_per_sample_penalty_without_checks, "check_batch_norm_critic_refused"),
}


# --- checks: the real implementation must pass every one --------------------------------------


def check_linear_critic_is_exact(gp) -> None:
    """D(x) = w.x has input gradient w: the penalty is exactly (||w|| - 1)^2, for points and images."""
    torch.manual_seed(0)
    for shape in [(64, 2), (16, 1, 8, 8), (8, 3, 4, 4)]:
        w = torch.randn(shape[1:]) * 0.7
        real, fake = torch.randn(shape), torch.randn(shape)
        expected = (w.norm() - 1) ** 2
        torch.testing.assert_close(gp(Linear(w), real, fake), expected, rtol=1e-5, atol=1e-6)


class Recording(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x.detach().clone())
        return self.inner(x)


def reference_penalty_float64(D32: nn.Module, x_hat: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """An independent float64 computation: per-sample input gradients with torch.func, no autograd.grad."""
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach().double().requires_grad_(True) for k, v in D32.named_parameters()}
    module64 = small_mlp(torch.float64)

    def score(p: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(module64, p, (x[None],)).squeeze()

    input_grads = vmap(grad(score, argnums=1), in_dims=(None, 0))(params, x_hat.double())
    penalty = ((input_grads.norm(dim=1) - 1) ** 2).mean()
    return penalty, grads_or_zeros(penalty, list(params.values()))


def grads_or_zeros(loss: torch.Tensor, params: list[torch.Tensor]) -> list[torch.Tensor]:
    """d loss / d params; the output bias never affects an input gradient, hence allow_unused."""
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params)]


def check_parameter_gradient_matches_float64(gp) -> None:
    """The penalty is differentiable w.r.t. D's parameters and its gradient matches float64."""
    torch.manual_seed(1)
    D = Recording(small_mlp())
    real, fake = torch.randn(32, 2), torch.randn(32, 2) * 0.5 + 1
    penalty = gp(D, real, fake)
    grads = grads_or_zeros(penalty, list(D.parameters()))
    assert sum(g.abs().sum() for g in grads) > 1e-3, "the penalty does not move D's parameters"
    ref_penalty, ref_grads = reference_penalty_float64(D.inner, D.inputs[-1])
    torch.testing.assert_close(penalty.double(), ref_penalty, rtol=1e-5, atol=1e-6)
    for g, ref in zip(grads, ref_grads):
        torch.testing.assert_close(g.double(), ref, rtol=1e-4, atol=1e-6)


def check_one_alpha_per_sample_broadcast(gp) -> None:
    """x_hat = a*real + (1-a)*fake with one a ~ U[0,1] per sample, the same a over all its dims."""
    torch.manual_seed(2)
    D = Recorder()
    real, fake = torch.ones(256, 3, 4, 4), torch.zeros(256, 3, 4, 4)
    penalty = gp(D, real, fake)
    x_hat = D.seen[-1].flatten(1)
    alpha = x_hat[:, 0]
    assert (x_hat.max(1).values - x_hat.min(1).values).max() < 1e-6, "alpha differs within a sample"
    assert alpha.unique().numel() == 256, "alpha is shared between samples"
    assert 0 <= alpha.min() and alpha.max() <= 1 and abs(alpha.mean() - 0.5) < 0.1
    # grad_x 0.5||x||^2 = x_hat, whose norm is alpha * sqrt(48).
    expected = ((alpha * math.sqrt(48) - 1) ** 2).mean()
    torch.testing.assert_close(penalty, expected, rtol=1e-5, atol=1e-6)


def check_batch_norm_critic_refused(gp) -> None:
    """Batch norm makes D(x_i) depend on x_j, so the per-sample penalty is meaningless: refuse."""
    D = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1), nn.Flatten(0))
    with pytest.raises(ValueError, match="batch norm"):
        gp(D, torch.randn(16, 2), torch.randn(16, 2))


CHECKS = [check_linear_critic_is_exact, check_parameter_gradient_matches_float64,
          check_one_alpha_per_sample_broadcast, check_batch_norm_critic_refused]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_gradient_penalty_passes(check) -> None:
    check(gradient_penalty)


def fails(check, implementation) -> bool:
    try:
        check(implementation)
    except (AssertionError, RuntimeError, pytest.fail.Exception):
        return True
    return False


@pytest.mark.parametrize("bug", list(MUTANTS))
def test_each_classic_bug_fails_its_check(bug: str) -> None:
    mutant, check_name = MUTANTS[bug]
    check = next(c for c in CHECKS if c.__name__ == check_name)
    assert fails(check, mutant), f"{check_name} does not catch the bug: {bug}"


def test_zero_input_gradient_gives_penalty_one_and_finite_parameter_gradients() -> None:
    D = Linear(torch.zeros(2))
    penalty = gradient_penalty(D, torch.randn(8, 2), torch.randn(8, 2))
    (g,) = torch.autograd.grad(penalty, [D.w])
    assert penalty.item() == pytest.approx(1.0)
    assert torch.isfinite(g).all()


def test_penalty_does_not_reach_the_generator() -> None:
    """The interpolates are detached: the penalty must not put gradients on G's output."""
    fake = torch.randn(8, 2, requires_grad=True)
    penalty = gradient_penalty(small_mlp(), torch.randn(8, 2), fake * 2)
    assert torch.autograd.grad(penalty, fake, allow_unused=True)[0] is None


# --- losses -----------------------------------------------------------------------------------


def test_bce_losses_equal_binary_cross_entropy_on_logits() -> None:
    torch.manual_seed(0)
    real, fake = torch.randn(100) * 3, torch.randn(100) * 3
    expected_d = (F.binary_cross_entropy_with_logits(real, torch.ones(100))
                  + F.binary_cross_entropy_with_logits(fake, torch.zeros(100)))
    torch.testing.assert_close(bce_critic(real, fake), expected_d)
    torch.testing.assert_close(bce_generator(fake), F.binary_cross_entropy_with_logits(fake, torch.ones(100)))


def test_bce_losses_are_finite_for_extreme_logits() -> None:
    logits = torch.tensor([-200.0, 200.0])
    assert torch.isfinite(bce_critic(logits, logits)) and torch.isfinite(bce_generator(logits))
    assert bce_generator(torch.tensor([200.0])).item() == pytest.approx(0.0)  # non-saturating: no log(1-D)


def test_wasserstein_losses() -> None:
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    assert wasserstein_critic(real, fake).item() == pytest.approx(-1.0 - 2.0)
    assert wasserstein_generator(fake).item() == pytest.approx(1.0)


def test_hinge_losses_match_their_definition() -> None:
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-3.0, -0.5, 1.0])
    # relu(1 - real) = (0, 0.5, 2), relu(1 + fake) = (0, 0.5, 2): means 2.5/3 each
    assert LOSSES.get("hinge").critic(real, fake).item() == pytest.approx(5.0 / 3.0)
    assert LOSSES.get("hinge").generator(fake).item() == pytest.approx(2.5 / 3.0)
    assert hinge_critic(real + 10, fake - 10).item() == 0.0  # beyond the margins nothing is learned


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_registered_loss_is_a_finite_differentiable_scalar(name: str) -> None:
    """Derived from the registry: a new loss is checked without editing this file."""
    from tests.conftest import tiny_run

    torch.manual_seed(0)
    loss = LOSSES.get(name).bind(tiny_run("wgan_gp").train)
    real, fake = torch.randn(8, requires_grad=True), torch.randn(8, requires_grad=True)
    d_loss, g_loss = loss.critic(real, fake), loss.generator(fake)
    assert d_loss.shape == () and g_loss.shape == () and torch.isfinite(d_loss) and torch.isfinite(g_loss)
    assert torch.autograd.grad(g_loss, fake)[0].abs().sum() > 0, "the generator loss ignores D(G(z))"
    assert torch.autograd.grad(d_loss, real)[0].abs().sum() > 0, "the critic loss ignores D(x)"
