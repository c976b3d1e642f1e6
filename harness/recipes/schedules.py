"""Learning-rate schedules, one registry entry each, applied to both optimizers.

Most schedules advance once per generator step; `plateau` advances at each evaluation on the
run's objective metric, the only value that is comparable across variants. A user's own schedule
is one `@register_schedule` (re-exported by `harness.plugins`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal

from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, ReduceLROnPlateau

from harness.core.knobs import Knob
from harness.core.registry import Registry

if TYPE_CHECKING:
    from harness.core.schema import TrainConfig

# (optimizer, train config, objective direction "minimize"|"maximize") -> scheduler or None
BuildFn = Callable[[Optimizer, "TrainConfig", str], Any]


StepsOn = Literal["generator_step", "evaluation"]
GENERATOR_STEP: StepsOn = "generator_step"
EVALUATION: StepsOn = "evaluation"


@dataclass(frozen=True)
class Schedule:
    build: BuildFn
    steps_on: StepsOn  # after every generator step, or after each evaluation with the objective's value
    knobs: tuple[Knob, ...] = ()  # the train.* keys it reads
    spans_run: bool = False  # its shape depends on train.steps, so the run's length is fixed at the start
    doc: str = field(default="", compare=False)


SCHEDULES: Registry[Schedule] = Registry("scheduler")


def register_schedule(name: str, *, steps_on: StepsOn = GENERATOR_STEP, knobs: tuple[Knob, ...] = (),
                      spans_run: bool = False, doc: str = "") -> Callable[[BuildFn], BuildFn]:
    """Function decorator: register `build(optimizer, train, direction) -> scheduler or None` as
    `train.scheduler: name`. The trainer builds one per optimizer and calls `.step()` after every
    generator step, or (`steps_on="evaluation"`) `.step(objective)` after each evaluation."""
    if steps_on not in (GENERATOR_STEP, EVALUATION):
        raise ValueError(f"schedule {name!r}: steps_on must be {GENERATOR_STEP!r} or {EVALUATION!r}")

    def decorate(build: BuildFn) -> BuildFn:
        SCHEDULES.add(name, Schedule(build, steps_on, tuple(knobs), spans_run, doc or inspect.getdoc(build) or ""))
        return build

    return decorate


@register_schedule("none", doc="a constant learning rate")
def build_none(opt: Optimizer, train: "TrainConfig", direction: str) -> None:
    return None


@register_schedule("linear", spans_run=True)
def build_linear(opt: Optimizer, train: "TrainConfig", direction: str) -> LinearLR:
    """lr * (1 - step/steps): the decay of the WGAN-GP CIFAR-10 code, reaching 0 at the last step."""
    return LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=train.steps)


@register_schedule("cosine", spans_run=True, doc="cosine annealing from lr to 0 over train.steps")
def build_cosine(opt: Optimizer, train: "TrainConfig", direction: str) -> CosineAnnealingLR:
    return CosineAnnealingLR(opt, T_max=train.steps, eta_min=0.0)


PLATEAU_KNOBS = (
    Knob("plateau_factor", float, 0.5, min=0, max=1, min_exclusive=True, max_exclusive=True,
         doc="the plateau schedule multiplies the LR by this at each cut"),
    Knob("plateau_patience", int, 2, min=0, max=10**8, doc="evaluations without improvement before a plateau cut"),
)


@register_schedule("plateau", steps_on=EVALUATION, knobs=PLATEAU_KNOBS,
                   doc="cut the LR when the objective stops improving at evaluations")
def build_plateau(opt: Optimizer, train: "TrainConfig", direction: str) -> ReduceLROnPlateau:
    mode = "min" if direction == "minimize" else "max"
    return ReduceLROnPlateau(opt, mode=mode, factor=train.plateau_factor, patience=train.plateau_patience)
