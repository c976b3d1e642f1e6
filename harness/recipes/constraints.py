"""Lipschitz constraints on the critic, one registry entry each.

A constraint may prepare the critic when the models are built (spectral norm wraps its weights),
add a penalty term to the critic loss (computed before the critic's backward), and act after the
critic's optimizer step (clipping). Its penalty returns named diagnostics, which the training loop
logs under those names (`gp`, `r1`, `sn_sigma_max`, ...); `diagnostics` declares them. `knobs`
declares the `train.*` keys it reads, which is also how the sweep knows where a knob means
something. A variant may name a list of constraints; `combined` joins them. Users add
constraints with `@register_constraint` (see docs/extending.md).
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import torch
from torch import Tensor, nn

from harness.core.errors import ConfigError
from harness.core.knobs import Knob
from harness.recipes.losses import gradient_penalty
from harness.recipes.penalties import dragan_penalty, one_sided_penalty, r1_penalty
from harness.core.registry import Registry
from harness.recipes.spectral import apply_spectral_norm, sigma_estimates

if TYPE_CHECKING:
    from harness.core.schema import TrainConfig

Diagnostics = dict[str, Tensor]  # name -> scalar on the device, logged under that name
# (critic, real, fake, train config) -> (term added to the critic loss or None, diagnostics)
PenaltyFn = Callable[[nn.Module, Tensor, Tensor, "TrainConfig"], tuple["Tensor | None", Diagnostics]]
AfterStepFn = Callable[[nn.Module, "TrainConfig"], None]
PrepareFn = Callable[[nn.Module, "TrainConfig"], None]


def no_penalty(D: nn.Module, real: Tensor, fake: Tensor, train: "TrainConfig") -> tuple[None, Diagnostics]:
    return None, {}


def no_action(D: nn.Module, train: "TrainConfig") -> None:
    return None


@dataclass(frozen=True)
class LipschitzConstraint:
    penalty: PenaltyFn = no_penalty
    after_critic_step: AfterStepFn = no_action
    prepare: PrepareFn = no_action  # once, on the freshly built critic (before it moves to the device)
    knobs: tuple[Knob, ...] = ()
    diagnostics: tuple[str, ...] = ()  # the names `penalty` returns
    # Batch norm in the critic breaks the per-sample gradient penalties.
    allows_batch_norm: bool = True
    combines: bool = True  # may be named in a list with other constraints
    doc: str = field(default="", compare=False)


CONSTRAINTS: Registry[LipschitzConstraint] = Registry("constraint")


def register_constraint(name: str, *, knobs: tuple[Knob, ...] = (), diagnostics: tuple[str, ...] = (),
                        allows_batch_norm: bool = True, combines: bool = True, doc: str = "") -> Callable[[Any], Any]:
    """Decorator: register a penalty function, or a class with any of `penalty`, `after_critic_step`
    and `prepare`, as constraint `name`. Signatures as in `LipschitzConstraint`."""

    def decorate(obj: Any) -> Any:
        parts = {"penalty": obj} if inspect.isfunction(obj) else {
            key: getattr(obj, key) for key in ("penalty", "after_critic_step", "prepare") if hasattr(obj, key)}
        CONSTRAINTS.add(name, LipschitzConstraint(**parts, knobs=tuple(knobs), diagnostics=tuple(diagnostics),
                                                  allows_batch_norm=allows_batch_norm, combines=combines,
                                                  doc=doc or inspect.getdoc(obj) or ""))
        return obj

    return decorate


# --- the built-in entries ------------------------------------------------------------------------

# A weight multiplies float32 tensors: past float32's largest value it is infinite before any step.
FLOAT32_MAX = 3.4e38
LAMBDA_GP = Knob("lambda_gp", float, 10.0, min=0, max=FLOAT32_MAX, doc="weight of a gradient penalty (gp, gp_one_sided, dragan)")
CLIP_VALUE = Knob("clip_value", float, 0.01, min=0, min_exclusive=True, max=100, doc="weight clipping box [-c, c]")
R1_GAMMA = Knob("r1_gamma", float, 10.0, min=0, max=FLOAT32_MAX, doc="R1 weight gamma; the term is gamma/2 * E||grad D(real)||^2")
SN_POWER_ITERATIONS = Knob("sn_power_iterations", int, 1, min=1, max=100,
                           doc="power iterations per critic forward pass for spectral norm")


@torch.no_grad()
def clip_weights(D: nn.Module, train: "TrainConfig") -> None:
    """Clamp every critic parameter into [-clip_value, clip_value] (Arjovsky et al. 2017, alg. 1).

    Must run *after* the optimizer step: clipping before it lets the step push weights outside
    the box and the critic is then evaluated unconstrained.
    """
    for p in D.parameters():
        p.clamp_(-train.clip_value, train.clip_value)


def scaled_gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor,
                            train: "TrainConfig") -> tuple[Tensor, Diagnostics]:
    penalty = gradient_penalty(D, real, fake)
    return train.lambda_gp * penalty, {"gp": penalty}


def scaled_one_sided_penalty(D: nn.Module, real: Tensor, fake: Tensor,
                             train: "TrainConfig") -> tuple[Tensor, Diagnostics]:
    penalty = one_sided_penalty(D, real, fake)
    return train.lambda_gp * penalty, {"lp": penalty}


def scaled_r1_penalty(D: nn.Module, real: Tensor, fake: Tensor, train: "TrainConfig") -> tuple[Tensor, Diagnostics]:
    penalty = r1_penalty(D, real)
    return 0.5 * train.r1_gamma * penalty, {"r1": penalty}


def scaled_dragan_penalty(D: nn.Module, real: Tensor, fake: Tensor,
                          train: "TrainConfig") -> tuple[Tensor, Diagnostics]:
    penalty = dragan_penalty(D, real)
    return train.lambda_gp * penalty, {"dragan": penalty}


def prepare_spectral_norm(D: nn.Module, train: "TrainConfig") -> None:
    apply_spectral_norm(D, train.sn_power_iterations)


def spectral_norm_diagnostic(D: nn.Module, real: Tensor, fake: Tensor,
                             train: "TrainConfig") -> tuple[None, Diagnostics]:
    return None, {"sn_sigma_max": sigma_estimates(D).max()}


CONSTRAINTS.add("none", LipschitzConstraint(combines=False, doc="no Lipschitz constraint"))
CONSTRAINTS.add("clip", LipschitzConstraint(after_critic_step=clip_weights, knobs=(CLIP_VALUE,), combines=False,
                                            doc="weight clipping after every critic step"))
def per_sample_penalty(penalty: PenaltyFn, knob: Knob, diagnostic: str, doc: str) -> LipschitzConstraint:
    """A gradient penalty: one knob, one diagnostic, and no batch-norm critic (per-sample gradients)."""
    return LipschitzConstraint(penalty=penalty, knobs=(knob,), diagnostics=(diagnostic,), allows_batch_norm=False,
                               doc=doc)


CONSTRAINTS.add("gp", per_sample_penalty(scaled_gradient_penalty, LAMBDA_GP, "gp",
                                         "lambda_gp * E[(||grad D(x_hat)|| - 1)^2] at interpolates (WGAN-GP)"))
CONSTRAINTS.add("gp_one_sided", per_sample_penalty(scaled_one_sided_penalty, LAMBDA_GP, "lp",
                                                   "lambda_gp * E[max(0, ||grad D(x_hat)|| - 1)^2] at interpolates "
                                                   "(WGAN-LP)"))
CONSTRAINTS.add("r1", per_sample_penalty(scaled_r1_penalty, R1_GAMMA, "r1",
                                         "r1_gamma/2 * E||grad D(real)||^2 on real data (R1)"))
CONSTRAINTS.add("dragan", per_sample_penalty(scaled_dragan_penalty, LAMBDA_GP, "dragan",
                                             "lambda_gp * E[(||grad D(x_p)|| - 1)^2] around perturbed real data "
                                             "(DRAGAN)"))
CONSTRAINTS.add("spectral_norm", LipschitzConstraint(
    penalty=spectral_norm_diagnostic, prepare=prepare_spectral_norm, knobs=(SN_POWER_ITERATIONS,),
    diagnostics=("sn_sigma_max",), doc="spectral normalization of every critic layer (SNGAN)"))


# --- combining ------------------------------------------------------------------------------------


def combined(names: tuple[str, ...], path: str = "train.constraint") -> LipschitzConstraint:
    """One constraint acting as all of `names`: penalties summed, actions and preparations in order."""
    if len(names) == 1:
        return CONSTRAINTS.get(names[0])
    entries = [CONSTRAINTS.get(name) for name in names]
    allowed = ", ".join(n for n in CONSTRAINTS if CONSTRAINTS.get(n).combines)
    for i, (name, entry) in enumerate(zip(names, entries)):
        if not entry.combines or name in names[:i]:
            why = "appears twice" if name in names[:i] else "cannot be combined with others"
            raise ConfigError(f"{path}[{i}]", f"{name!r} {why}; allowed in a list: {allowed}")
    return LipschitzConstraint(
        penalty=functools.partial(sum_penalties, entries), after_critic_step=functools.partial(after_steps, entries),
        prepare=functools.partial(prepare_all, entries), knobs=tuple(k for e in entries for k in e.knobs),
        diagnostics=tuple(d for e in entries for d in e.diagnostics),
        allows_batch_norm=all(e.allows_batch_norm for e in entries), doc=" + ".join(names))


def sum_penalties(entries: list[LipschitzConstraint], D: nn.Module, real: Tensor, fake: Tensor,
                  train: "TrainConfig") -> tuple["Tensor | None", Diagnostics]:
    total: Tensor | None = None
    diagnostics: Diagnostics = {}
    for entry in entries:
        term, named = entry.penalty(D, real, fake, train)
        diagnostics.update(named)
        if term is not None:
            total = term if total is None else total + term
    return total, diagnostics


def after_steps(entries: list[LipschitzConstraint], D: nn.Module, train: "TrainConfig") -> None:
    for entry in entries:
        entry.after_critic_step(D, train)


def prepare_all(entries: list[LipschitzConstraint], D: nn.Module, train: "TrainConfig") -> None:
    for entry in entries:
        entry.prepare(D, train)


def all_diagnostics() -> list[str]:
    """Every diagnostic name a registered constraint logs, in registration order (report columns)."""
    return list(dict.fromkeys(d for name in CONSTRAINTS for d in CONSTRAINTS.get(name).diagnostics))
