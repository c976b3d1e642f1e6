"""GAN losses (one registry entry each) and the WGAN-GP gradient penalty.

Critics return raw scores; the loss decides what to do with them. Every loss is a pair of
plain functions with one signature: `critic(real_scores, fake_scores)` and `generator(fake_scores)`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harness.registry import Registry


@dataclass(frozen=True)
class GanLoss:
    critic: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]


LOSSES: Registry[GanLoss] = Registry("loss")


def bce_critic(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """softplus(-D(x)) + softplus(D(G(z))): BCE on logits, numerically safe without a sigmoid."""
    return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()


def bce_generator(fake_scores: Tensor) -> Tensor:
    """The non-saturating generator loss softplus(-D(G(z))) (Goodfellow et al. 2014, sec. 3)."""
    return F.softplus(-fake_scores).mean()


def wasserstein_critic(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """mean D(fake) - mean D(real): minimizing it maximizes the Wasserstein estimate."""
    return fake_scores.mean() - real_scores.mean()


def wasserstein_generator(fake_scores: Tensor) -> Tensor:
    return -fake_scores.mean()


LOSSES.add("bce", GanLoss(critic=bce_critic, generator=bce_generator))
LOSSES.add("wasserstein", GanLoss(critic=wasserstein_critic, generator=wasserstein_generator))


# Modules already checked for batch norm; weak keys so a checked critic can still be freed.
_CHECKED_CRITICS: "weakref.WeakKeyDictionary[nn.Module, bool]" = weakref.WeakKeyDictionary()


def reject_batch_norm(D: nn.Module) -> None:
    """Batch norm mixes samples, so d D(x_i)/d x_i is no longer a per-sample gradient: refuse it."""
    if D in _CHECKED_CRITICS:
        return
    offenders = [name for name, m in D.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if offenders:
        raise ValueError(
            f"gradient penalty on a critic with batch norm ({', '.join(offenders)}): batch norm couples "
            "the samples of a batch and breaks the per-sample penalty; use layer norm or none"
        )
    _CHECKED_CRITICS[D] = True


def interpolate(real: Tensor, fake: Tensor) -> Tensor:
    """x_hat = a*real + (1-a)*fake with one a ~ U[0,1] per sample, broadcast over all other dims."""
    alpha_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(alpha_shape, device=real.device, dtype=real.dtype)
    # detach: the penalty is a function of the critic only, never a path back into G.
    return torch.lerp(fake.detach(), real.detach(), alpha).requires_grad_(True)


def critic_grad_norms(D: nn.Module, real: Tensor, fake: Tensor, create_graph: bool = True) -> Tensor:
    """Per-sample ||grad_x D(x_hat)||_2 at random interpolates; shape (N,).

    With `create_graph=True` the norms stay differentiable w.r.t. D's parameters, which the
    penalty needs; `create_graph=False` is the cheap read-only Lipschitz diagnostic.
    """
    x_hat = interpolate(real, fake)
    scores = D(x_hat)
    # Summing is exact because each score depends on its own sample only (no batch norm).
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=create_graph)
    return torch.linalg.vector_norm(grad.flatten(1), ord=2, dim=1)


def penalty_from_norms(norms: Tensor) -> Tensor:
    return (norms - 1.0).square().mean()


def gradient_penalty_with_norms(D: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """`gradient_penalty` plus the per-sample gradient norms it was computed from."""
    reject_batch_norm(D)
    norms = critic_grad_norms(D, real, fake, create_graph=True)
    return penalty_from_norms(norms), norms


def gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """The unscaled WGAN-GP penalty E[(||grad_x D(x_hat)||_2 - 1)^2] (Gulrajani et al. 2017, eq. 3).

    x_hat = a*real + (1-a)*fake with one a ~ U[0,1] per sample, broadcast over every other
    dimension, so it works for any input rank (N x 2 points, N x C x H x W images). The result
    is differentiable w.r.t. D's parameters (the input gradient is taken with create_graph),
    so adding `lambda_gp * gradient_penalty(D, real, fake)` to the critic loss trains D towards
    unit gradient norm. Raises ValueError for a critic containing batch norm.
    """
    return gradient_penalty_with_norms(D, real, fake)[0]
