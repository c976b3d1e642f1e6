"""The training loop: n_critic critic steps, then one generator step, for any recipe.

The loop never names a variant: the loss, the Lipschitz constraint and the LR schedule are
looked up once from their registries and called through one shape each. Per-step scalars stay
on the device (see `step_stats.py`); the host syncs once per `train.log_every` steps.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from harness.config.resolve import RunConfig
from harness.recipes.constraints import Diagnostics, LipschitzConstraint, combined
from harness.data import Dataset, load_dataset
from harness.train.device import resolve_device, seed_everything
from harness.recipes.generator_hooks import GeneratorHook, build_hooks, evaluation_generator, hook_diagnostics
from harness.recipes.losses import LOSSES, GanLoss, critic_grad_norms
from harness.metrics import METRICS, Evaluator
from harness.models import build_models, generate
from harness.recipes.optimizers import build_optimizer
from harness.recipes.schedules import EVALUATION, GENERATOR_STEP, SCHEDULES, Schedule
from harness.train.step_stats import COLUMNS, StepStats, first_divergence, summarize
from harness.train.visualize import GRID_IMAGES, SCATTER_POINTS, fixed_noise, render_samples


class Diverged(RuntimeError):
    """A loss became NaN or infinite; `step` is the first generator step where it was seen."""

    def __init__(self, step: int, quantity: str) -> None:
        self.step, self.quantity = step, quantity
        super().__init__(f"diverged at step {step} ({quantity} is not finite)")


class TrainCallback:
    """Hooks the loop calls; subclasses override what they need. Exceptions propagate (pruning)."""

    def on_start(self, state: "TrainState", eval_info: dict[str, float | str]) -> None:
        """Before the first step; `eval_info` describes the yardstick (e.g. the metric classifier's accuracy,
        `protocol.<metric>`: how a metric's value was computed)."""

    def on_log(self, step: int, scalars: dict[str, float]) -> None: ...

    def on_eval(self, step: int, metrics: dict[str, float]) -> None: ...

    def on_samples(self, step: int, image: np.ndarray, samples: Tensor) -> None: ...

    def on_checkpoint(self, state: "TrainState") -> None: ...


@dataclass
class TrainState:
    """Everything that changes during training; a checkpoint is exactly this plus the RNG."""

    cfg: RunConfig
    device: torch.device
    dataset: Dataset
    G: nn.Module
    D: nn.Module
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    sched_G: Any
    sched_D: Any
    hooks: dict[str, GeneratorHook] = field(default_factory=dict)  # the enabled generator hooks (EMA, ...)
    step: int = 0  # generator steps completed
    # The run's time accounting so far; a checkpoint keeps it, so a resumed run's totals continue.
    result: "TrainResult" = field(default_factory=lambda: TrainResult.empty())


@dataclass(frozen=True)
class Recipe:
    """A variant's loss, constraint and schedule, resolved from their registries once per run (its
    optimizer is built with the state)."""

    loss: GanLoss
    constraint: LipschitzConstraint
    schedule: Schedule
    generator_diagnostics: tuple[str, ...] = ()  # the enabled generator hooks' named scalars

    @staticmethod
    def of(cfg: RunConfig) -> "Recipe":
        return Recipe(LOSSES.get(cfg.train.loss).bind(cfg.train), combined(cfg.train.constraints),
                      SCHEDULES.get(cfg.train.scheduler), hook_diagnostics(cfg.train))

    @property
    def columns(self) -> tuple[str, ...]:
        """The logged per-step scalars: every recipe's, the constraint's, then the generator hooks' diagnostics."""
        return COLUMNS + self.constraint.diagnostics + self.generator_diagnostics


@dataclass
class TrainResult:
    steps: int
    final_metrics: dict[str, float]
    train_seconds: float  # pure training steps, excluding evaluation, sampling and callbacks
    eval_seconds: float
    evaluations: int
    other_seconds: float  # sampling pictures, callbacks (tracking), checkpoints
    history: list[tuple[int, dict[str, float]]] = field(default_factory=list)  # (step, metrics) per eval

    @staticmethod
    def empty() -> "TrainResult":
        return TrainResult(0, {}, 0.0, 0.0, 0, 0.0)


def build_state(cfg: RunConfig, device: torch.device | None = None) -> TrainState:
    """Seed, load data, build G/D, the optimizer for each, and the schedulers."""
    device = device or resolve_device(cfg.train.device)
    seed_everything(cfg.seed)
    dataset = load_dataset(cfg.data, device)
    G, D = build_models(dataset.sample_shape, cfg.model)
    combined(cfg.train.constraints).prepare(D, cfg.train)  # e.g. spectral norm wraps D's weights
    G, D = G.to(device), D.to(device)
    opt_G, opt_D = build_optimizer(G.parameters(), cfg.train), build_optimizer(D.parameters(), cfg.train)
    schedule = SCHEDULES.get(cfg.train.scheduler)
    direction = METRICS.get(cfg.objective).direction
    return TrainState(cfg, device, dataset, G, D, opt_G, opt_D,
                      schedule.build(opt_G, cfg.train, direction), schedule.build(opt_D, cfg.train, direction),
                      build_hooks(G, cfg.train))


def has_batch_norm(module: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


@dataclass(frozen=True)
class CriticOutcome:
    """What one critic update leaves for logging: on the device, not yet detached or reduced.

    Only the last of the n_critic updates is logged, so `critic_scalars` detaches and reduces
    that one alone; the others are dropped untouched.
    """

    d_loss: Tensor
    real_scores: Tensor
    fake_scores: Tensor
    norms: Tensor | None  # per-sample critic gradient norms at the interpolates, when measured
    diagnostics: Diagnostics = field(default_factory=dict)  # the constraint's named scalars


def critic_step(state: TrainState, recipe: Recipe, diagnose: bool) -> CriticOutcome:
    """One critic update on a fresh real batch."""
    train = state.cfg.train
    real = state.dataset.sample(train.batch_size)
    z = torch.randn(train.batch_size, state.cfg.model.z_dim, device=state.device)
    with torch.no_grad():
        fake = state.G(z)
    real_scores, fake_scores = state.D(real), state.D(fake)
    d_loss = recipe.loss.critic(real_scores, fake_scores)
    penalty, diagnostics = recipe.constraint.penalty(state.D, real, fake, train)
    total = d_loss if penalty is None else d_loss + penalty
    state.opt_D.zero_grad(set_to_none=True)
    total.backward()
    state.opt_D.step()
    recipe.constraint.after_critic_step(state.D, train)  # e.g. clipping: after the step, never before
    # The same read-only measurement for every recipe, on the updated critic.
    norms = lipschitz_diagnostic(state.D, real, fake) if diagnose and not has_batch_norm(state.D) else None
    return CriticOutcome(d_loss, real_scores, fake_scores, norms, diagnostics)


@torch.no_grad()
def critic_scalars(outcome: CriticOutcome) -> dict[str, Tensor | None]:
    """The logged critic quantities of one update, detached and reduced on the device (no host sync)."""
    scalars: dict[str, Tensor | None] = {
        "d_loss": outcome.d_loss.detach(), "wasserstein": outcome.real_scores.mean() - outcome.fake_scores.mean()}
    if outcome.norms is not None:
        scalars.update(grad_norm_mean=outcome.norms.mean(), grad_norm_max=outcome.norms.max())
    scalars.update({name: value.detach() for name, value in outcome.diagnostics.items()})
    return scalars


def lipschitz_diagnostic(D: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """Gradient norms at interpolates, the Lipschitz diagnostic of every recipe: read-only, once per window.

    Its interpolation weights come from a forked RNG and D is measured in eval mode, so how often a
    run logs, evaluates or checkpoints never changes what it trains.
    """
    devices = [real.device] if real.device.type == "cuda" else []
    training = D.training
    D.eval()  # a measurement must not advance state either: spectral norm's power iteration runs in training mode
    try:
        with torch.random.fork_rng(devices=devices):
            return critic_grad_norms(D, real, fake, create_graph=False)
    finally:
        D.train(training)


def generator_step(state: TrainState, recipe: Recipe) -> tuple[Tensor, Diagnostics]:
    """One generator update, then the generator hooks (EMA, ...); D's parameters are frozen so no
    weight gradients are computed for them. Returns the loss and the hooks' diagnostics, on the device."""
    z = torch.randn(state.cfg.train.batch_size, state.cfg.model.z_dim, device=state.device)
    critic_params = list(state.D.parameters())
    for p in critic_params:
        p.requires_grad_(False)
    try:
        fake = state.G(z)
        g_loss = recipe.loss.generator(state.D(fake))
        total, diagnostics = g_loss, {}
        for hook in state.hooks.values():
            term, named = hook.penalty(state.G, z, fake)
            total = total if term is None else total + term
            diagnostics.update(named)
        state.opt_G.zero_grad(set_to_none=True)
        total.backward()
        state.opt_G.step()
    finally:
        for p in critic_params:
            p.requires_grad_(True)
    for hook in state.hooks.values():
        hook.after_generator_step(state.G, state.step + 1)
    return g_loss, diagnostics


def training_step(state: TrainState, recipe: Recipe, stats: StepStats, diagnose: bool) -> None:
    """n_critic critic updates, one generator update, per-step schedules; records scalars."""
    n_critic = state.cfg.train.n_critic
    for i in range(n_critic):
        outcome = critic_step(state, recipe, diagnose=diagnose and i == n_critic - 1)
    # Only the last critic update is logged, so only it is reduced: n_critic - 1 fewer small kernels.
    scalars = critic_scalars(outcome)
    g_loss, g_diagnostics = generator_step(state, recipe)
    scalars["g_loss"] = g_loss.detach()
    scalars.update({name: value.detach() for name, value in g_diagnostics.items()})
    state.step += 1
    if recipe.schedule.steps_on == GENERATOR_STEP and state.sched_G is not None:
        state.sched_G.step()
        state.sched_D.step()
    stats.record(state.step, scalars)


def learning_rates(state: TrainState) -> dict[str, float]:
    return {"lr_G": state.opt_G.param_groups[0]["lr"], "lr_D": state.opt_D.param_groups[0]["lr"]}


def is_due(step: int, every: int, last: int) -> bool:
    return step % every == 0 or step == last


def boundary_actions(cfg: RunConfig, step: int) -> dict[str, bool]:
    """What happens after generator step `step`; any of them closes the current logging window."""
    train, last = cfg.train, cfg.train.steps
    return {
        "log": is_due(step, train.log_every, last),
        "eval": is_due(step, train.eval_every, last),
        "samples": is_due(step, train.sample_every, last),
        "checkpoint": step == last or (train.checkpoint_every > 0 and step % train.checkpoint_every == 0),
    }


def train(cfg: RunConfig, callbacks: Sequence[TrainCallback] = (), state: TrainState | None = None,
          result: TrainResult | None = None) -> TrainResult:
    """Train `cfg` up to `cfg.train.steps` generator steps, from scratch or from a restored `state`.

    Raises Diverged as soon as a logging window shows a non-finite loss; exceptions raised by
    callbacks (e.g. optuna.TrialPruned from `on_eval`) stop training and propagate. Pass a
    `result` (e.g. `TrainResult.empty()`) to keep the time accounting of a run that stops that way:
    it is filled in as training goes.
    """
    state = state or build_state(cfg)
    result = state.result if result is None else result
    state.result = result
    result.steps = state.step
    recipe = Recipe.of(cfg)
    evaluator = Evaluator(cfg, state.dataset, state.device)
    evaluator.prepare()
    for cb in callbacks:
        cb.on_start(state, dict(evaluator.info))
    stats = StepStats(cfg.train.log_every, state.device, recipe.columns)
    sample_z = fixed_noise(sample_count(state.dataset), cfg.model.z_dim, cfg.eval.seed + 1, state.device)
    if state.step == 0:
        log_samples(state, callbacks, sample_z)  # the untrained generator: where the UI's step slider starts
    window_start, window_steps = time.perf_counter(), 0
    last_checkpoint = time.monotonic()
    while state.step < cfg.train.steps:
        actions = boundary_actions(cfg, state.step + 1)
        training_step(state, recipe, stats, diagnose=any(actions.values()))
        window_steps += 1
        if not any(actions.values()):
            continue
        window, first_step = stats.flush()  # the one host sync of the window
        elapsed = time.perf_counter() - window_start
        result.train_seconds += elapsed
        result.steps = state.step
        check_finite(window, first_step, recipe.columns)
        actions["checkpoint"] |= checkpoint_overdue(cfg, last_checkpoint)
        last_checkpoint = time.monotonic() if actions["checkpoint"] else last_checkpoint
        scalars = {**summarize(window, recipe.columns), **learning_rates(state),
                   "seconds_per_step": elapsed / window_steps}
        after_window(state, recipe, actions, callbacks, evaluator, sample_z, result, scalars)
        window_start, window_steps = time.perf_counter(), 0
    return result


def checkpoint_overdue(cfg: RunConfig, last_checkpoint: float) -> bool:
    """Time-based checkpoints, taken at a window boundary (they never change what is trained)."""
    every = cfg.train.checkpoint_every_seconds
    return every > 0 and time.monotonic() - last_checkpoint >= every


def check_finite(window: np.ndarray, first_step: int, columns: tuple[str, ...]) -> None:
    divergence = first_divergence(window, first_step, columns)
    if divergence is not None:
        raise Diverged(*divergence)


def after_window(state: TrainState, recipe: Recipe, actions: dict[str, bool], callbacks: Sequence[TrainCallback],
                 evaluator: Evaluator, sample_z: Tensor, result: TrainResult, scalars: dict[str, float]) -> None:
    """Logging, evaluation, sample pictures and checkpoints due at this step, in that order."""
    step = state.step
    start = time.perf_counter()
    for cb in callbacks:
        cb.on_log(step, scalars)
    if actions["eval"]:
        result.other_seconds += time.perf_counter() - start
        evaluate(state, recipe, evaluator, callbacks, result)
        start = time.perf_counter()
    if actions["samples"]:
        log_samples(state, callbacks, sample_z)
    if actions["checkpoint"]:
        for cb in callbacks:
            cb.on_checkpoint(state)
    result.other_seconds += time.perf_counter() - start


def log_samples(state: TrainState, callbacks: Sequence[TrainCallback], sample_z: Tensor) -> None:
    """The generator's picture on the fixed sample noise, handed to the callbacks (none: nothing is drawn)."""
    if not callbacks:
        return
    samples = generate(sampling_generator(state), sample_z)  # the EMA's average when it is on
    image = render_samples(samples, state.dataset, title=f"{state.cfg.variant} step {state.step}")
    for cb in callbacks:
        cb.on_samples(state.step, image, samples)


COST_KEYS = ("cost_generator_steps", "cost_critic_updates", "cost_images_seen", "cost_train_seconds")


def cost_at(state: TrainState, train_seconds: float) -> dict[str, float]:
    """What the run has spent so far, recorded with every evaluation so results can be compared at equal
    compute, not only at equal steps. Images seen are real images the critic consumed (one batch per
    critic update); `cost_train_seconds` is pure training time, evaluation and logging excluded."""
    train = state.cfg.train
    critic_updates = state.step * train.n_critic
    return dict(zip(COST_KEYS, (float(state.step), float(critic_updates), float(critic_updates * train.batch_size),
                                train_seconds)))


def evaluate(state: TrainState, recipe: Recipe, evaluator: Evaluator, callbacks: Sequence[TrainCallback],
             result: TrainResult) -> None:
    start = time.perf_counter()
    metrics = evaluator(sampling_generator(state))
    metrics["eval_seconds"] = time.perf_counter() - start
    metrics.update(cost_at(state, result.train_seconds))
    result.eval_seconds += metrics["eval_seconds"]
    result.evaluations += 1
    result.final_metrics = metrics
    result.history.append((state.step, metrics))
    if recipe.schedule.steps_on == EVALUATION and state.sched_G is not None:
        monitored = metrics[state.cfg.objective]
        state.sched_G.step(monitored)
        state.sched_D.step(monitored)
    for cb in callbacks:
        cb.on_eval(state.step, metrics)  # may raise (pruning)


def sample_count(dataset: Dataset) -> int:
    return SCATTER_POINTS if dataset.kind == "points" else GRID_IMAGES


def sampling_generator(state: TrainState) -> nn.Module:
    """The generator evaluations, sample grids and final samples use: G, or a hook's (the EMA's average)."""
    return evaluation_generator(state.G, state.hooks)


def final_samples(state: TrainState) -> Tensor:
    """The generator's samples on the evaluation noise (the samples the final metrics saw)."""
    eval_cfg = state.cfg.eval
    z = fixed_noise(eval_cfg.num_samples, state.cfg.model.z_dim, eval_cfg.seed, state.device)
    return generate(sampling_generator(state), z)
