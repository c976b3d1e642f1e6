"""The gradient penalties other than WGAN-GP's: one-sided (WGAN-LP), R1 and DRAGAN.

Each returns the *unscaled* penalty, differentiable w.r.t. the critic's parameters (input
gradients taken with create_graph); its constraint in `harness.recipes.constraints` multiplies it by the
knob. All of them are per-sample penalties, so a critic with batch norm is refused.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harness.recipes.losses import critic_grad_norms, input_grad_norms, reject_batch_norm


def one_sided_penalty(D: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """E[max(0, ||grad D(x_hat)|| - 1)^2] at WGAN-GP's interpolates (Petzka et al. 2018, eq. 8).

    Only norms above 1 are penalized: the Lipschitz constraint is an inequality.
    """
    reject_batch_norm(D)
    norms = critic_grad_norms(D, real, fake, create_graph=True)
    return F.relu(norms - 1.0).square().mean()


def r1_penalty(D: nn.Module, real: Tensor) -> Tensor:
    """E_real ||grad_x D(x)||^2 on the real batch (Mescheder et al. 2018, eq. 9, without gamma/2).

    The squared norm is taken as a sum of squares, not a squared `norm`: its gradient is finite
    even where the input gradient is zero.
    """
    reject_batch_norm(D)
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return grad.flatten(1).square().sum(1).mean()


def dragan_points(real: Tensor) -> Tensor:
    """x + a * 0.5 * std(x) * u, u ~ U[0,1) per element, a ~ U[0,1) per sample.

    Kodali et al.'s reference code perturbs the real batch, X_p = X + 0.5 * X.std() * U[0,1),
    and penalizes at X + a * (X_p - X); std is over the whole batch (every element).
    """
    real = real.detach()
    noise = 0.5 * real.std() * torch.rand_like(real)
    alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype)
    return (real + alpha * noise).requires_grad_(True)


def dragan_penalty(D: nn.Module, real: Tensor) -> Tensor:
    """E[(||grad D(x_p)|| - 1)^2] at points `dragan_points` around the real data (Kodali et al. 2017)."""
    reject_batch_norm(D)
    norms = input_grad_norms(D, dragan_points(real), create_graph=True)
    return (norms - 1.0).square().mean()
