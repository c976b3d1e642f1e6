"""Generator hooks: the EMA against a float64 closed form, evaluation on the average, a penalty in G's loss."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import harness.train.trainer as trainer
from harness.recipes.generator_hooks import (GENERATOR_HOOKS, GeneratorEMA, GeneratorHook, build_hooks, enabled_hooks,
                                             evaluation_generator, register_generator_hook)
from harness.core.knobs import Knob
from harness.config.knob_space import knob_applies
from harness.train.trainer import TrainCallback, build_state, train
from tests.conftest import tiny_run


def ema_reference(history: list[torch.Tensor], decay: float, start: int) -> torch.Tensor:
    """float64: a copy of G up to step `start`, then avg_t = decay * avg_{t-1} + (1 - decay) * G_t."""
    avg = history[0].double()
    for step, weights in enumerate(history[1:], start=1):
        avg = weights.double() if step <= start else decay * avg + (1 - decay) * weights.double()
    return avg


@pytest.mark.parametrize("start", [0, 2])
def test_the_average_follows_the_closed_form(start: int) -> None:
    torch.manual_seed(0)
    G = nn.Linear(3, 2)
    train_cfg = tiny_run("wgan_gp", train={"g_ema": 0.75, "g_ema_start": start}).train
    ema = GeneratorEMA(G, train_cfg)
    history = [G.weight.detach().clone()]
    for step in range(1, 7):
        with torch.no_grad():
            G.weight.add_(torch.randn_like(G.weight))
        ema.after_generator_step(G, step)
        history.append(G.weight.detach().clone())
    assert torch.allclose(ema.average.weight.double(), ema_reference(history, 0.75, start), atol=1e-6)
    # the classic mistake, decay and 1 - decay swapped, lands elsewhere
    assert not torch.allclose(ema.average.weight.double(), ema_reference(history, 0.25, start), atol=1e-3)
    assert not ema.average.weight.requires_grad and not ema.average.training


def test_buffers_are_copied_not_averaged() -> None:
    G = nn.BatchNorm1d(2)
    ema = GeneratorEMA(G, tiny_run("wgan_gp", train={"g_ema": 0.5}).train)
    G(torch.randn(8, 2) * 3 + 1)  # a training-mode batch moves the running statistics
    ema.after_generator_step(G, 1)
    assert torch.equal(ema.average.running_mean, G.running_mean)
    assert torch.equal(ema.average.num_batches_tracked, G.num_batches_tracked)


def test_the_knob_switches_the_hook_on_and_it_applies_to_every_run() -> None:
    assert enabled_hooks(tiny_run("wgan_gp").train) == []
    on = tiny_run("wgan_gp", train={"g_ema": 0.999})
    assert "ema" in enabled_hooks(on.train) and isinstance(build_hooks(nn.Linear(2, 2), on.train)["ema"], GeneratorEMA)
    for variant in ("vanilla", "wgan_clip", "wgan_gp"):
        assert knob_applies(tiny_run(variant), "g_ema") and knob_applies(tiny_run(variant), "g_ema_start")


class Seen(TrainCallback):
    def __init__(self) -> None:
        self.samples: list[torch.Tensor] = []

    def on_samples(self, step, image, samples):
        self.samples.append(samples)


def test_evaluation_and_sample_grids_use_the_average(monkeypatch: pytest.MonkeyPatch) -> None:
    evaluated: list[nn.Module] = []
    real_call = trainer.Evaluator.__call__

    def spy(self, G):
        evaluated.append(G)
        return real_call(self, G)

    monkeypatch.setattr(trainer.Evaluator, "__call__", spy)
    cfg = tiny_run("wgan_gp", train={"g_ema": 0.5, "steps": 4, "eval_every": 2, "sample_every": 4})
    state = build_state(cfg)
    seen = Seen()
    result = train(cfg, [seen], state)
    average = state.hooks["ema"].average
    assert evaluated and all(G is average for G in evaluated)
    z = trainer.fixed_noise(trainer.sample_count(state.dataset), cfg.model.z_dim, cfg.eval.seed + 1, state.device)
    assert torch.equal(seen.samples[-1], trainer.generate(average, z))
    assert not torch.equal(seen.samples[-1], trainer.generate(state.G, z))
    assert torch.equal(trainer.final_samples(state)[:5], trainer.generate(average, trainer.fixed_noise(
        cfg.eval.num_samples, cfg.model.z_dim, cfg.eval.seed, state.device))[:5])
    assert result.final_metrics[cfg.objective] == trainer.Evaluator(cfg, state.dataset, state.device)(average)[
        cfg.objective]


class Shrink(GeneratorHook):
    """A test regularizer: shrink_weight * sum of squared weights of G, logged as `shrink`."""

    def penalty(self, G, z, fake):
        value = sum(p.square().sum() for p in G.parameters())
        return self.train.shrink_weight * value, {"shrink": value}


@pytest.fixture
def shrink_hook():
    register_generator_hook("test_shrink", enabled=lambda train: train.shrink_weight > 0,
                            knobs=(Knob("shrink_weight", float, 0.0, min=0.0),), diagnostics=("shrink",))(Shrink)
    yield
    GENERATOR_HOOKS.remove("test_shrink")


def test_a_hook_penalty_joins_the_generator_loss_and_is_logged(shrink_hook, monkeypatch) -> None:
    cfg = tiny_run("wgan_gp", train={"shrink_weight": 0.5, "steps": 1, "log_every": 1, "n_critic": 1})
    state = build_state(cfg)
    grads: list[torch.Tensor] = []
    step = state.opt_G.step

    def capture(*args, **kwargs):
        grads.append(next(state.G.parameters()).grad.detach().clone())
        return step(*args, **kwargs)

    state.opt_G.step = capture
    weight_before = next(state.G.parameters()).detach().clone()
    logged: list[dict] = []

    class Log(TrainCallback):
        def on_log(self, s, scalars):
            logged.append(scalars)

    # the loss's own gradient, from a copy of the state: the hook adds 0.5 * 2 * W exactly
    twin = build_state(cfg)
    twin.G.load_state_dict(state.G.state_dict())
    twin.D.load_state_dict(state.D.state_dict())
    twin.hooks = {}
    twin_grads: list[torch.Tensor] = []
    twin_step = twin.opt_G.step
    twin.opt_G.step = lambda *a, **k: (twin_grads.append(next(twin.G.parameters()).grad.detach().clone()),
                                       twin_step(*a, **k))[1]
    recipe = trainer.Recipe.of(cfg)
    torch.manual_seed(1)
    trainer.generator_step(twin, recipe)
    torch.manual_seed(1)
    trainer.generator_step(state, recipe)
    assert torch.allclose(grads[0], twin_grads[0] + 0.5 * 2 * weight_before, atol=1e-6)
    assert "shrink" in recipe.columns
    train(cfg, [Log()], build_state(cfg))
    assert logged and logged[-1]["shrink"] > 0


def test_without_hooks_evaluation_uses_g_itself() -> None:
    G = nn.Linear(2, 2)
    assert evaluation_generator(G, {}) is G
