"""Generator-side hooks: what acts on G beside its loss (an exponential moving average, a regularizer).

An entry is a class built once per run from (G, train config) when its `enabled(train)` says so,
so its knobs switch it on and off (`train.g_ema: 0` is off) and the sweep can search them like any
other knob. The training loop calls, for every enabled hook and without naming one:

- `penalty(G, z, fake) -> (term or None, {name: scalar})`: added to the generator loss before its
  backward (a regularizer such as BigGAN's orthogonal one); the scalars are logged by name;
- `after_generator_step(G, step)`: after the generator's optimizer step (the EMA update);
- `evaluation_generator(G) -> nn.Module | None`: the generator that evaluations, sample grids and
  the final samples use (the EMA's average), or None to leave that to G;
- `state_dict()` / `load_state_dict()`: what a checkpoint keeps, so a resumed run is bit-exact.

Users add hooks with `@register_generator_hook` (exported by `harness.plugins`).
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import torch
from torch import Tensor, nn

from harness.core.knobs import Knob
from harness.core.registry import Registry

if TYPE_CHECKING:
    from harness.core.schema import TrainConfig

Diagnostics = dict[str, Tensor]


class GeneratorHook:
    """The no-op base: a hook overrides what it needs."""

    def __init__(self, G: nn.Module, train: "TrainConfig") -> None:
        self.train = train

    def penalty(self, G: nn.Module, z: Tensor, fake: Tensor) -> tuple[Tensor | None, Diagnostics]:
        return None, {}

    def after_generator_step(self, G: nn.Module, step: int) -> None:
        return None

    def evaluation_generator(self, G: nn.Module) -> nn.Module | None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


@dataclass(frozen=True)
class GeneratorHookEntry:
    build: Callable[[nn.Module, "TrainConfig"], GeneratorHook]
    enabled: Callable[["TrainConfig"], bool]  # read from its knobs: a hook is on where they say so
    knobs: tuple[Knob, ...] = ()
    diagnostics: tuple[str, ...] = ()  # the names `penalty` returns
    doc: str = field(default="", compare=False)


GENERATOR_HOOKS: Registry[GeneratorHookEntry] = Registry("generator_hook")


def register_generator_hook(name: str, *, enabled: Callable[["TrainConfig"], bool], knobs: tuple[Knob, ...] = (),
                            diagnostics: tuple[str, ...] = (), doc: str = "") -> Callable[[type], type]:
    """Class decorator: register a `GeneratorHook` subclass, built per run where `enabled(train)` is true."""

    def decorate(cls: type) -> type:
        GENERATOR_HOOKS.add(name, GeneratorHookEntry(cls, enabled, tuple(knobs), tuple(diagnostics),
                                                     doc or inspect.getdoc(cls) or ""))
        return cls

    return decorate


def enabled_hooks(train: "TrainConfig") -> list[str]:
    """The names of the hooks this run's knobs switch on, in registration order."""
    return [name for name in GENERATOR_HOOKS if GENERATOR_HOOKS.get(name).enabled(train)]


def build_hooks(G: nn.Module, train: "TrainConfig") -> dict[str, GeneratorHook]:
    """The run's enabled hooks, built on the generator (already on its device)."""
    return {name: GENERATOR_HOOKS.get(name).build(G, train) for name in enabled_hooks(train)}


def hook_diagnostics(train: "TrainConfig") -> tuple[str, ...]:
    """The scalar names the enabled hooks' penalties log."""
    return tuple(d for name in enabled_hooks(train) for d in GENERATOR_HOOKS.get(name).diagnostics)


def evaluation_generator(G: nn.Module, hooks: dict[str, GeneratorHook]) -> nn.Module:
    """The generator evaluations and samples use: the last enabled hook's choice, else G itself."""
    chosen = G
    for hook in hooks.values():
        chosen = hook.evaluation_generator(G) or chosen
    return chosen


# --- the built-in hook: an exponential moving average of G's weights ----------------------------

G_EMA = Knob("g_ema", float, 0.0, min=0.0, max=1.0, max_exclusive=True,
             doc="decay of the generator's exponential moving average (0: off); evaluations and samples use it")
G_EMA_START = Knob("g_ema_start", int, 0, min=0, max=10**8,
                   doc="generator steps before the moving average starts; until then it copies G (BigGAN's ema_start)")


@register_generator_hook("ema", enabled=lambda train: train.g_ema > 0, knobs=(G_EMA, G_EMA_START))
class GeneratorEMA(GeneratorHook):
    """Exponential moving average of G's weights (Yazıcı et al. 2019; BigGAN, StyleGAN).

    After generator step t: avg <- decay * avg + (1 - decay) * G for every parameter, buffers
    (batch-norm statistics) copied from G, as in StyleGAN2-ADA; up to step `g_ema_start` the
    average is a copy of G, as BigGAN's `ema_start`. The update stays on the device (no host sync).
    """

    def __init__(self, G: nn.Module, train: "TrainConfig") -> None:
        super().__init__(G, train)
        self.average = copy.deepcopy(G).requires_grad_(False).eval()

    @torch.no_grad()
    def after_generator_step(self, G: nn.Module, step: int) -> None:
        warming_up = step <= self.train.g_ema_start
        for avg, p in zip(self.average.parameters(), G.parameters()):
            if warming_up:
                avg.copy_(p)
            else:
                avg.lerp_(p, 1.0 - self.train.g_ema)  # avg + (1 - decay) * (p - avg)
        for avg, b in zip(self.average.buffers(), G.buffers()):
            avg.copy_(b)

    def evaluation_generator(self, G: nn.Module) -> nn.Module:
        return self.average

    def state_dict(self) -> dict[str, Any]:
        return {"average": self.average.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.average.load_state_dict(state["average"])
