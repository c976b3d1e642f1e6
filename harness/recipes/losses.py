"""GAN losses (one registry entry each) and the WGAN-GP gradient penalty.

Critics return raw scores; the loss decides what to do with them. Every loss is a pair of
plain functions with one signature: `critic(real_scores, fake_scores)` and `generator(fake_scores)`.
A loss with knobs declares them and takes the train config as a keyword, `train=` (bound once
per run by `bind`). Users add losses with `@register_loss` (see docs/extending.md).
"""

from __future__ import annotations

import functools
import inspect
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harness.core.knobs import Knob
from harness.core.registry import Registry


@dataclass(frozen=True)
class GanLoss:
    critic: Callable[..., Tensor]  # (real_scores, fake_scores[, train=]) -> critic loss
    generator: Callable[..., Tensor]  # (fake_scores[, train=]) -> generator loss
    knobs: tuple[Knob, ...] = ()
    doc: str = field(default="", compare=False)

    def bind(self, train: Any) -> "GanLoss":
        """The two functions with the run's train config bound where they take `train=`."""
        return GanLoss(bind_train(self.critic, train), bind_train(self.generator, train), self.knobs, self.doc)


def bind_train(fn: Callable[..., Any], train: Any) -> Callable[..., Any]:
    """`fn` with `train=` bound if it accepts it (the compare_gan `call_with_accepted_args` idea)."""
    return functools.partial(fn, train=train) if "train" in inspect.signature(fn).parameters else fn


LOSSES: Registry[GanLoss] = Registry("loss")


def register_loss(name: str, *, knobs: tuple[Knob, ...] = (), doc: str = "") -> Callable[[Any], Any]:
    """Class decorator: register an object with `critic` and `generator` functions as loss `name`.

    Either function may take `train=` to read its declared knobs (`train.<knob>`).
    """

    def decorate(obj: Any) -> Any:
        LOSSES.add(name, GanLoss(obj.critic, obj.generator, tuple(knobs), doc or inspect.getdoc(obj) or ""))
        return obj

    return decorate


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


def hinge_critic(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """mean relu(1 - D(x)) + mean relu(1 + D(G(z))) (Lim & Ye 2017; Miyato et al. 2018, eq. 16)."""
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


def hinge_generator(fake_scores: Tensor) -> Tensor:
    """-mean D(G(z)): the hinge GAN's generator loss (the same as the Wasserstein one)."""
    return -fake_scores.mean()


LOSSES.add("bce", GanLoss(critic=bce_critic, generator=bce_generator, doc="non-saturating GAN (binary cross-entropy)"))
LOSSES.add("wasserstein", GanLoss(critic=wasserstein_critic, generator=wasserstein_generator,
                                  doc="Wasserstein critic estimate"))
LOSSES.add("hinge", GanLoss(critic=hinge_critic, generator=hinge_generator, doc="hinge loss (SNGAN, BigGAN)"))


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
    return input_grad_norms(D, interpolate(real, fake), create_graph)


def input_grad_norms(D: nn.Module, x: Tensor, create_graph: bool = True) -> Tensor:
    """Per-sample ||grad_x D(x)||_2 at points `x` that require grad; shape (N,)."""
    scores = D(x)
    # Summing is exact because each score depends on its own sample only (no batch norm).
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=create_graph)
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
