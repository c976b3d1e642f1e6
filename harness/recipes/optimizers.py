"""Optimizers, one registry entry each, built once for G and once for D at `train.lr`.

The optimizer is a recipe axis like the loss: WGAN with weight clipping was published with RMSProp
(Arjovsky et al. 2017 argue that momentum destabilises the clipped critic), every later recipe with
Adam. An entry declares the knobs it reads, so Adam's betas apply, are logged and are searched only
where Adam trains, and RMSProp's decay only where RMSProp does. A user's own optimizer is one
`@register_optimizer` (re-exported by `harness.plugins`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import nn

from harness.core.knobs import Knob
from harness.core.registry import Registry

if TYPE_CHECKING:
    from harness.core.schema import TrainConfig

# (parameters, train config) -> optimizer at train.lr
BuildFn = Callable[[Iterable[nn.Parameter], "TrainConfig"], torch.optim.Optimizer]


@dataclass(frozen=True)
class OptimizerEntry:
    build: BuildFn
    knobs: tuple[Knob, ...] = ()  # the train.* keys it reads
    doc: str = field(default="", compare=False)


OPTIMIZERS: Registry[OptimizerEntry] = Registry("optimizer")


def register_optimizer(name: str, *, knobs: tuple[Knob, ...] = (), doc: str = "") -> Callable[[BuildFn], BuildFn]:
    """Function decorator: register `build(parameters, train) -> torch optimizer` as `train.optimizer: name`.
    It is called once for G's parameters and once for D's, and must use `train.lr` (the schedules
    scale it)."""

    def decorate(build: BuildFn) -> BuildFn:
        OPTIMIZERS.add(name, OptimizerEntry(build, tuple(knobs), doc or inspect.getdoc(build) or ""))
        return build

    return decorate


def build_optimizer(parameters: Iterable[nn.Parameter], train: "TrainConfig") -> torch.optim.Optimizer:
    """The run's optimizer over `parameters`."""
    return OPTIMIZERS.get(train.optimizer).build(parameters, train)


ADAM_KNOBS = (
    Knob("beta1", float, 0.5, min=0, max=1, max_exclusive=True,
         doc="Adam's first-moment decay (0 in WGAN-GP and SNGAN, 0.5 in DCGAN)"),
    Knob("beta2", float, 0.9, min=0, max=1, max_exclusive=True, doc="Adam's second-moment decay"),
)


@register_optimizer("adam", knobs=ADAM_KNOBS)
def build_adam(parameters: Iterable[nn.Parameter], train: "TrainConfig") -> torch.optim.Adam:
    """Adam with betas (train.beta1, train.beta2): DCGAN's, WGAN-GP's and SNGAN's optimizer."""
    return torch.optim.Adam(parameters, lr=train.lr, betas=(train.beta1, train.beta2))


RMSPROP_KNOBS = (
    Knob("rmsprop_alpha", float, 0.99, min=0, max=1, min_exclusive=True, max_exclusive=True,
         doc="RMSProp's squared-gradient decay (torch's alpha; WGAN's code used the default 0.99)"),
)


@register_optimizer("rmsprop", knobs=RMSPROP_KNOBS)
def build_rmsprop(parameters: Iterable[nn.Parameter], train: "TrainConfig") -> torch.optim.RMSprop:
    """RMSProp without momentum: the optimizer of WGAN with weight clipping (lr 5e-5 in the paper)."""
    return torch.optim.RMSprop(parameters, lr=train.lr, alpha=train.rmsprop_alpha)
