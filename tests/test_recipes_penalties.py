"""Numeric tests of the one-sided (WGAN-LP), R1 and DRAGAN penalties, with mutants that must fail.

Closed-form critics give exact values; a float64 torch.func computation at the very points the
penalty used checks its parameter gradients. Each classic bug is a mutant below; the checks that
the real implementation passes must each catch their mutant.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from harness.recipes.penalties import dragan_penalty, dragan_points, one_sided_penalty, r1_penalty
from tests.test_recipes_losses import Linear, Recorder, Recording, grads_or_zeros, small_mlp


def input_grads_float64(D32: nn.Module, x: torch.Tensor) -> tuple[dict, torch.Tensor]:
    """(float64 params, per-sample input gradients of `small_mlp` with those params at x), via torch.func."""
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach().double().requires_grad_(True) for k, v in D32.named_parameters()}
    module64 = small_mlp(torch.float64)

    def score(p: dict, point: torch.Tensor) -> torch.Tensor:
        return functional_call(module64, p, (point[None],)).squeeze()

    return params, vmap(grad(score, argnums=1), in_dims=(None, 0))(params, x.double())


def matches_float64(penalty_fn, reference_fn, inputs_of, gain: float = 1.0) -> None:
    """The penalty and its parameter gradients equal a float64 reference at the points it used."""
    torch.manual_seed(1)
    D = Recording(small_mlp())
    with torch.no_grad():
        for p in D.parameters():
            p.mul_(gain)  # a steeper critic, where a penalty needs gradient norms above 1
    real, fake = torch.randn(32, 2), torch.randn(32, 2) * 0.5 + 1
    penalty = penalty_fn(D, real, fake)
    grads = grads_or_zeros(penalty, list(D.parameters()))
    assert sum(g.abs().sum() for g in grads) > 1e-3, "the penalty does not move D's parameters"
    params, input_grads = input_grads_float64(D.inner, inputs_of(D, real))
    norms = input_grads.norm(dim=1)
    assert gain == 1 or ((norms < 1).any() and (norms > 1).any()), "the points miss one side of norm 1"
    ref = reference_fn(input_grads)
    torch.testing.assert_close(penalty.double(), ref, rtol=1e-5, atol=1e-6)
    for g, r in zip(grads, grads_or_zeros(ref, list(params.values()))):
        torch.testing.assert_close(g.double(), r, rtol=1e-4, atol=1e-6)


# --- one-sided penalty (WGAN-LP) -------------------------------------------------------------------


def lp(D, real, fake):
    return one_sided_penalty(D, real, fake)


def mutant_lp_two_sided(D, real, fake):
    from harness.recipes.losses import gradient_penalty

    return gradient_penalty(D, real, fake)


def mutant_lp_wrong_side(D, real, fake):
    from harness.recipes.losses import critic_grad_norms

    return F.relu(1.0 - critic_grad_norms(D, real, fake)).square().mean()


def mutant_lp_no_create_graph(D, real, fake):
    from harness.recipes.losses import critic_grad_norms

    return F.relu(critic_grad_norms(D, real, fake, create_graph=False) - 1).square().mean()


def check_lp_linear_critic(fn) -> None:
    """D(x) = w.x: the penalty is max(0, ||w|| - 1)^2, zero for ||w|| <= 1 (only steep critics pay)."""
    torch.manual_seed(0)
    for scale in (0.3, 0.9, 1.7, 3.0):
        w = torch.randn(2)
        w = w / w.norm() * scale
        expected = torch.tensor(max(0.0, scale - 1) ** 2)
        torch.testing.assert_close(fn(Linear(w), torch.randn(16, 2), torch.randn(16, 2)), expected,
                                   rtol=1e-5, atol=1e-6)


def check_lp_float64(fn) -> None:
    # Every Recording input after D(real), D(fake) is an interpolate; the penalty used the last one.
    matches_float64(fn, lambda g: F.relu(g.norm(dim=1) - 1).square().mean(), lambda D, real: D.inputs[-1], gain=2.5)


# --- R1 --------------------------------------------------------------------------------------------


def r1(D, real, fake):
    return r1_penalty(D, real)


def mutant_r1_on_fake(D, real, fake):
    return r1_penalty(D, fake)


def mutant_r1_norm_not_squared(D, real, fake):
    x = real.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return g.flatten(1).norm(dim=1).mean()


def mutant_r1_no_create_graph(D, real, fake):
    x = real.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=False)
    return g.flatten(1).square().sum(1).mean()


def check_r1_quadratic_critic(fn) -> None:
    """D(x) = 0.5 s ||x||^2 has grad s x: R1 = s^2 E||x||^2 on the reals, for points and images."""
    for shape in [(64, 2), (8, 3, 4, 4)]:
        torch.manual_seed(0)
        D = Recorder()
        with torch.no_grad():
            D.scale.fill_(0.7)
        real, fake = torch.randn(shape), torch.randn(shape) * 5
        expected = 0.49 * real.flatten(1).square().sum(1).mean()
        torch.testing.assert_close(fn(D, real, fake), expected, rtol=1e-5, atol=1e-6)


def check_r1_float64(fn) -> None:
    matches_float64(fn, lambda g: g.square().sum(1).mean(), lambda D, real: real)


# --- DRAGAN ----------------------------------------------------------------------------------------


def dragan(D, real, fake):
    return dragan_penalty(D, real)


def mutant_dragan_at_real(D, real, fake):
    from harness.recipes.losses import input_grad_norms

    return (input_grad_norms(D, real.detach().requires_grad_(True)) - 1).square().mean()


def mutant_dragan_noise_unscaled(D, real, fake):
    from harness.recipes.losses import input_grad_norms

    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)))
    x = (real + alpha * 0.5 * torch.rand_like(real)).requires_grad_(True)
    return (input_grad_norms(D, x) - 1).square().mean()


def mutant_dragan_per_sample_std(D, real, fake):
    from harness.recipes.losses import input_grad_norms

    std = real.flatten(1).std(1).reshape(-1, *([1] * (real.dim() - 1)))
    alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)))
    x = (real + alpha * 0.5 * std * torch.rand_like(real)).requires_grad_(True)
    return (input_grad_norms(D, x) - 1).square().mean()


def check_dragan_points(fn) -> None:
    """The penalty is taken at x + a * 0.5 * std(batch) * u with u ~ U[0,1) per element, a per sample."""
    torch.manual_seed(4)
    D = Recorder()
    # samples of very different spreads: the batch's std differs from every sample's own
    real = torch.cat([torch.randn(64, 3, 4, 4) * 0.1, torch.randn(64, 3, 4, 4) * 4])
    fn(D, real, torch.zeros_like(real))
    delta = (D.seen[-1] - real).flatten(1)
    bound = 0.5 * real.std().item()
    assert delta.min() >= 0 and delta.max() < bound, "the perturbation is not in [0, 0.5 std(x))"
    assert delta.max() > 0.8 * bound, "the perturbation does not reach 0.5 std(x)"
    per_sample_max = delta.max(1).values / bound
    assert per_sample_max.min() < 0.2 and per_sample_max.max() > 0.9, "no per-sample mixing weight a ~ U[0,1)"


def check_dragan_linear_critic(fn) -> None:
    """D(x) = w.x: wherever the points are, the penalty is (||w|| - 1)^2."""
    torch.manual_seed(0)
    w = torch.randn(2) * 0.7
    torch.testing.assert_close(fn(Linear(w), torch.randn(16, 2), torch.randn(16, 2)), (w.norm() - 1) ** 2,
                               rtol=1e-5, atol=1e-6)


def check_dragan_float64(fn) -> None:
    matches_float64(fn, lambda g: (g.norm(dim=1) - 1).square().mean(), lambda D, real: D.inputs[-1])


def test_dragan_points_are_detached_and_require_grad() -> None:
    real = torch.randn(8, 2, requires_grad=True)
    points = dragan_points(real)
    assert points.requires_grad and points.grad_fn is None  # a leaf: no path back into the data


# --- every check passes; every mutant fails its check --------------------------------------------------

# penalty -> (implementation, checks, {bug: (mutant, the check that must catch it)})
CASES = {
    "one_sided": (lp, [check_lp_linear_critic, check_lp_float64], {
        "two-sided": (mutant_lp_two_sided, check_lp_linear_critic),
        "penalizes the wrong side": (mutant_lp_wrong_side, check_lp_linear_critic),
        "missing create_graph": (mutant_lp_no_create_graph, check_lp_float64)}),
    "r1": (r1, [check_r1_quadratic_critic, check_r1_float64], {
        "gradient at the fakes": (mutant_r1_on_fake, check_r1_quadratic_critic),
        "norm not squared": (mutant_r1_norm_not_squared, check_r1_quadratic_critic),
        "missing create_graph": (mutant_r1_no_create_graph, check_r1_float64)}),
    "dragan": (dragan, [check_dragan_points, check_dragan_linear_critic, check_dragan_float64], {
        "penalty at the reals": (mutant_dragan_at_real, check_dragan_points),
        "noise not scaled by std": (mutant_dragan_noise_unscaled, check_dragan_points),
        "std per sample": (mutant_dragan_per_sample_std, check_dragan_points)}),
}


@pytest.mark.parametrize("name, check", [(n, c) for n, (_, checks, _) in CASES.items() for c in checks],
                         ids=lambda v: getattr(v, "__name__", v))
def test_penalty_passes(name: str, check) -> None:
    check(CASES[name][0])


def fails(check, implementation) -> bool:
    try:
        check(implementation)
    except (AssertionError, RuntimeError):
        return True
    return False


@pytest.mark.parametrize("name, bug", [(n, b) for n, (_, _, mutants) in CASES.items() for b in mutants])
def test_each_classic_bug_fails_its_check(name: str, bug: str) -> None:
    mutant, check = CASES[name][2][bug]
    assert fails(check, mutant), f"{check.__name__} does not catch the {name} bug: {bug}"


@pytest.mark.parametrize("fn", [lp, r1, dragan], ids=["one_sided", "r1", "dragan"])
def test_batch_norm_critic_is_refused(fn) -> None:
    D = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1), nn.Flatten(0))
    with pytest.raises(ValueError, match="batch norm"):
        fn(D, torch.randn(16, 2), torch.randn(16, 2))


def test_r1_gradient_is_finite_where_the_input_gradient_is_zero() -> None:
    D = Linear(torch.zeros(2))
    penalty = r1_penalty(D, torch.randn(8, 2))
    (g,) = torch.autograd.grad(penalty, [D.w])
    assert penalty.item() == 0.0 and torch.isfinite(g).all() and math.isfinite(g.sum().item())
