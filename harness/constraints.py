"""Lipschitz constraints on the critic, one registry entry each: none, clip, gp.

A constraint contributes an optional term to the critic loss (computed before the critic's
backward) and an optional action after the critic's optimizer step. `uses` names the `train.*`
keys it reads, which is also how the sweep knows where a knob means something.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import torch
from torch import Tensor, nn

from harness.losses import gradient_penalty_with_norms
from harness.registry import Registry

if TYPE_CHECKING:
    from harness.config import TrainConfig

# (critic, real, fake, train config) -> (term added to the critic loss or None, per-sample grad norms or None)
PenaltyFn = Callable[[nn.Module, Tensor, Tensor, "TrainConfig"], tuple["Tensor | None", "Tensor | None"]]
AfterStepFn = Callable[[nn.Module, "TrainConfig"], None]


def no_penalty(D: nn.Module, real: Tensor, fake: Tensor, train: "TrainConfig") -> tuple[None, None]:
    return None, None


def no_action(D: nn.Module, train: "TrainConfig") -> None:
    return None


def scaled_gradient_penalty(
    D: nn.Module, real: Tensor, fake: Tensor, train: "TrainConfig"
) -> tuple[Tensor, Tensor]:
    penalty, norms = gradient_penalty_with_norms(D, real, fake)
    return train.lambda_gp * penalty, norms


@torch.no_grad()
def clip_weights(D: nn.Module, train: "TrainConfig") -> None:
    """Clamp every critic parameter into [-clip_value, clip_value] (Arjovsky et al. 2017, alg. 1).

    Must run *after* the optimizer step: clipping before it lets the step push weights outside
    the box and the critic is then evaluated unconstrained.
    """
    for p in D.parameters():
        p.clamp_(-train.clip_value, train.clip_value)


@dataclass(frozen=True)
class LipschitzConstraint:
    penalty: PenaltyFn = no_penalty
    after_critic_step: AfterStepFn = no_action
    uses: tuple[str, ...] = ()
    # Batch norm in the critic breaks the per-sample gradient penalty.
    allows_batch_norm: bool = True
    doc: str = field(default="", compare=False)


CONSTRAINTS: Registry[LipschitzConstraint] = Registry("constraint")
CONSTRAINTS.add("none", LipschitzConstraint(doc="no Lipschitz constraint"))
CONSTRAINTS.add(
    "clip",
    LipschitzConstraint(after_critic_step=clip_weights, uses=("clip_value",), doc="weight clipping"),
)
CONSTRAINTS.add(
    "gp",
    LipschitzConstraint(
        penalty=scaled_gradient_penalty,
        uses=("lambda_gp",),
        allows_batch_norm=False,
        doc="lambda_gp * gradient penalty added to the critic loss",
    ),
)
