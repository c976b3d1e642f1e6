"""Learning-rate schedules, one registry entry each, applied to both optimizers.

`per_step` schedules advance once per generator step; `plateau` advances at each evaluation
on the run's objective metric, the only value that is comparable across variants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, ReduceLROnPlateau

from harness.knobs import Knob
from harness.registry import Registry

if TYPE_CHECKING:
    from harness.schema import TrainConfig

# (optimizer, train config, objective direction "minimize"|"maximize") -> scheduler or None
BuildFn = Callable[[Optimizer, "TrainConfig", str], Any]


@dataclass(frozen=True)
class Schedule:
    build: BuildFn
    steps_on: str  # "generator_step" or "evaluation"
    knobs: tuple[Knob, ...] = ()  # the train.* keys it reads
    spans_run: bool = False  # its shape depends on train.steps, so the run's length is fixed at the start


def build_none(opt: Optimizer, train: "TrainConfig", direction: str) -> None:
    return None


def build_linear(opt: Optimizer, train: "TrainConfig", direction: str) -> LinearLR:
    """lr * (1 - step/steps): the decay of the WGAN-GP CIFAR-10 code, reaching 0 at the last step."""
    return LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=train.steps)


def build_cosine(opt: Optimizer, train: "TrainConfig", direction: str) -> CosineAnnealingLR:
    return CosineAnnealingLR(opt, T_max=train.steps, eta_min=0.0)


def build_plateau(opt: Optimizer, train: "TrainConfig", direction: str) -> ReduceLROnPlateau:
    mode = "min" if direction == "minimize" else "max"
    return ReduceLROnPlateau(opt, mode=mode, factor=train.plateau_factor, patience=train.plateau_patience)


SCHEDULES: Registry[Schedule] = Registry("scheduler")
SCHEDULES.add("none", Schedule(build_none, steps_on="generator_step"))
SCHEDULES.add("linear", Schedule(build_linear, steps_on="generator_step", spans_run=True))
SCHEDULES.add("cosine", Schedule(build_cosine, steps_on="generator_step", spans_run=True))
PLATEAU_KNOBS = (
    Knob("plateau_factor", float, 0.5, min=0, max=1, min_exclusive=True, max_exclusive=True,
         doc="the plateau schedule multiplies the LR by this at each cut"),
    Knob("plateau_patience", int, 2, min=0, doc="evaluations without improvement before a plateau cut"),
)
SCHEDULES.add("plateau", Schedule(build_plateau, steps_on="evaluation", knobs=PLATEAU_KNOBS))
