"""The training loop: every variant x architecture trains; the recipe's parts act where they must."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch

import harness.train.trainer as trainer
from harness.recipes.constraints import CONSTRAINTS, LipschitzConstraint
from harness.recipes.losses import wasserstein_critic
from harness.train.trainer import Diverged, Recipe, TrainCallback, build_state, train, training_step
from harness.train.step_stats import COLUMNS, StepStats
from tests.conftest import ARCHITECTURES, AXIS_VARIANTS, VARIANTS, tiny_run

# Every preset, and every entry of every recipe axis with the others fixed: derived from the registries.
RECIPES = (*VARIANTS, *AXIS_VARIANTS)


class Recorder(TrainCallback):
    def __init__(self) -> None:
        self.logs: list[tuple[int, dict]] = []
        self.evals: list[tuple[int, dict]] = []
        self.samples: list[int] = []

    def on_log(self, step, scalars):
        self.logs.append((step, scalars))

    def on_eval(self, step, metrics):
        self.evals.append((step, metrics))

    def on_samples(self, step, image, samples):
        assert image.dtype.name == "uint8" and image.ndim == 3 and image.shape[2] == 3
        self.samples.append(step)


def params_of(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def test_the_parametrized_cases_cover_every_architecture() -> None:
    from harness.models import ARCHS

    assert {tiny_run("wgan_gp", case).model.arch for case in ARCHITECTURES} == set(ARCHS.names())


@pytest.mark.parametrize("case", ARCHITECTURES)
@pytest.mark.parametrize("variant", RECIPES)
def test_every_variant_trains_on_every_architecture(variant: str, case: str, monkeypatch) -> None:
    cfg = tiny_run(variant, case)
    state = build_state(cfg)
    G0, D0 = params_of(state.G), params_of(state.D)
    critic_steps = []
    original = trainer.critic_step

    def checked_critic_step(state, recipe, diagnose):
        out = original(state, recipe, diagnose)
        critic_steps.append(max(p.abs().max().item() for p in state.D.parameters()))
        return out

    monkeypatch.setattr(trainer, "critic_step", checked_critic_step)
    recorder = Recorder()
    result = train(cfg, [recorder], state)

    assert result.steps == cfg.train.steps
    assert len(critic_steps) == cfg.train.steps * cfg.train.n_critic
    assert [s for s, _ in recorder.logs] == [3, 6] and recorder.samples == [0, 6]  # step 0: the untrained G
    for _, scalars in recorder.logs:
        assert math.isfinite(scalars["d_loss"]) and math.isfinite(scalars["g_loss"])
        assert math.isfinite(scalars["grad_norm_mean"])  # the Lipschitz diagnostic, for every variant
        declared = Recipe.of(cfg).constraint.diagnostics  # each logged under its own name
        assert all(math.isfinite(scalars[name]) for name in declared), (declared, scalars)
        assert set(scalars) <= {*COLUMNS, *declared, "lr_G", "lr_D", "seconds_per_step"}
    assert any(not torch.equal(a, b) for a, b in zip(G0, state.G.parameters())), "G did not change"
    assert any(not torch.equal(a, b) for a, b in zip(D0, state.D.parameters())), "D did not change"
    if cfg.train.constraint == "clip":
        assert max(critic_steps) <= cfg.train.clip_value + 1e-12, "a critic parameter left the clip box"
    assert set(result.final_metrics) >= {cfg.objective, "eval_seconds"}


def test_every_evaluation_records_what_the_run_has_spent() -> None:
    cfg = tiny_run("wgan_gp", train={"steps": 6, "eval_every": 3, "n_critic": 2, "batch_size": 8})
    result = train(cfg)
    assert [step for step, _ in result.history] == [3, 6]
    for step, metrics in result.history:
        assert metrics["cost_generator_steps"] == step
        assert metrics["cost_critic_updates"] == step * 2
        assert metrics["cost_images_seen"] == step * 2 * 8
    first, last = (m["cost_train_seconds"] for _, m in result.history)
    assert 0 < first < last == result.train_seconds  # pure training time: evaluation is not in it


@pytest.mark.parametrize("scheduler", ["none", "linear", "cosine"])
def test_learning_rate_follows_the_schedule(scheduler: str) -> None:
    cfg = tiny_run("wgan_gp", train={"steps": 10, "log_every": 1, "lr": 2e-4},
                   variants=[{"preset": "wgan_gp", "train": {"scheduler": scheduler}}])
    recorder = Recorder()
    train(cfg, [recorder])
    for step, scalars in recorder.logs:
        expected = {"none": 2e-4, "linear": 2e-4 * (1 - step / 10),
                    "cosine": 2e-4 * (1 + math.cos(math.pi * step / 10)) / 2}[scheduler]
        assert scalars["lr_G"] == pytest.approx(expected, abs=1e-12), step
        assert scalars["lr_D"] == pytest.approx(expected, abs=1e-12), step
    assert recorder.logs[-1][1]["lr_G"] == pytest.approx(0.0, abs=1e-12) or scheduler == "none"


def test_plateau_schedule_steps_on_the_objective_at_evaluations(monkeypatch) -> None:
    class Flat:
        """An objective that never improves: the plateau schedule must cut the LR."""

        def __init__(self, cfg, dataset, device):
            self.objective = cfg.objective

        info: dict = {}


        def prepare(self):
            pass

        def __call__(self, G):
            return {self.objective: 1.0}

    monkeypatch.setattr(trainer, "Evaluator", Flat)
    cfg = tiny_run("wgan_gp", train={"plateau_patience": 1, "plateau_factor": 0.5, "steps": 4, "eval_every": 1,
                                     "lr": 1e-3}, variants=[{"preset": "wgan_gp", "train": {"scheduler": "plateau"}}])
    state = build_state(cfg)
    train(cfg, [], state)
    # evaluations 1..4: best set, then bad epochs 1, 2 (> patience: cut, reset), 1
    assert state.opt_G.param_groups[0]["lr"] == pytest.approx(5e-4)
    assert state.opt_D.param_groups[0]["lr"] == pytest.approx(5e-4)


def test_each_critic_step_draws_a_fresh_real_batch(monkeypatch) -> None:
    cfg = tiny_run("wgan_gp", train={"n_critic": 3, "steps": 2})
    state = build_state(cfg)
    batches = []
    original = state.dataset.sample

    def spy(n):
        batch = original(n)
        if n == cfg.train.batch_size:  # not the evaluation's (seeded, separate) reference draw
            batches.append(batch)
        return batch

    monkeypatch.setattr(state.dataset, "sample", spy)
    train(cfg, [], state)
    assert len(batches) == 2 * 3
    assert all(not torch.equal(a, b) for i, a in enumerate(batches) for b in batches[i + 1:])


# --- the critic loss is d_loss + lambda_gp * penalty, exactly ------------------------------------


def reference_critic_gradients(D: torch.nn.Module, real, fake, x_hat, lambda_gp: float) -> list[torch.Tensor]:
    """float64, independent of the harness: torch.func for the per-sample input gradients."""
    from torch.func import functional_call, grad, vmap

    D64 = copy.deepcopy(D).double()
    params = {k: v.detach().requires_grad_(True) for k, v in D64.named_parameters()}

    def score(p, x):
        return functional_call(D64, p, (x[None],)).squeeze()

    d_loss = wasserstein_critic(functional_call(D64, params, (real.double(),)),
                                functional_call(D64, params, (fake.double(),)))
    input_grads = vmap(grad(score, argnums=1), in_dims=(None, 0))(params, x_hat.double())
    total = d_loss + lambda_gp * ((input_grads.norm(dim=1) - 1) ** 2).mean()
    return list(torch.autograd.grad(total, list(params.values())))


def critic_gradients_match_reference(cfg) -> bool:
    state = build_state(cfg)
    inputs: list[torch.Tensor] = []
    state.D.register_forward_pre_hook(lambda module, args: inputs.append(args[0].detach().clone()))
    D_before = copy.deepcopy(state.D)
    captured: list[torch.Tensor] = []
    step = state.opt_D.step

    def spy(*args, **kwargs):
        captured.extend(p.grad.detach().clone() for p in state.D.parameters())
        return step(*args, **kwargs)

    state.opt_D.step = spy
    trainer.critic_step(state, Recipe.of(cfg), diagnose=False)
    real, fake, x_hat = inputs[:3]  # D(real), D(fake), then D(x_hat) inside the penalty
    expected = reference_critic_gradients(D_before, real, fake, x_hat, cfg.train.lambda_gp)
    return all(torch.allclose(g.double(), e, rtol=1e-4, atol=1e-6) for g, e in zip(captured, expected))


def test_critic_gradient_is_that_of_loss_plus_scaled_penalty() -> None:
    assert critic_gradients_match_reference(tiny_run("wgan_gp", train={"lambda_gp": 7.0}))


@pytest.mark.parametrize("bug", ["penalty subtracted", "penalty not added"])
def test_penalty_sign_and_presence_bugs_are_caught(bug: str, monkeypatch) -> None:
    gp = CONSTRAINTS.get("gp")

    def subtracted(D, real, fake, train):
        term, diagnostics = gp.penalty(D, real, fake, train)
        return -term, diagnostics

    def dropped(D, real, fake, train):
        return None, gp.penalty(D, real, fake, train)[1]

    mutant = dataclasses.replace(gp, penalty=subtracted if bug == "penalty subtracted" else dropped)
    monkeypatch.setitem(CONSTRAINTS._entries, "gp", mutant)
    assert not critic_gradients_match_reference(tiny_run("wgan_gp", train={"lambda_gp": 7.0}))


# --- clipping happens after the optimizer step --------------------------------------------------


def largest_critic_weight_after_steps(cfg, clip_first: bool) -> float:
    state = build_state(cfg)
    recipe = Recipe.of(cfg)
    if clip_first:  # the classic bug: clamp, then let the optimizer step push weights out again
        step = state.opt_D.step

        def clamp_then_step(*args, **kwargs):
            CONSTRAINTS.get("clip").after_critic_step(state.D, cfg.train)
            return step(*args, **kwargs)

        state.opt_D.step = clamp_then_step
        recipe = dataclasses.replace(recipe, constraint=LipschitzConstraint())
    largest = 0.0
    for _ in range(5):
        trainer.critic_step(state, recipe, diagnose=False)
        largest = max(largest, max(p.abs().max().item() for p in state.D.parameters()))
    return largest


def test_clipping_bounds_the_critic_after_every_step_and_catches_clip_first() -> None:
    cfg = tiny_run("wgan_clip", train={"lr": 0.05, "clip_value": 0.01})
    assert largest_critic_weight_after_steps(cfg, clip_first=False) <= 0.01
    assert largest_critic_weight_after_steps(cfg, clip_first=True) > 0.01


# --- speed-relevant invariants --------------------------------------------------------------------


@pytest.mark.parametrize("case", ARCHITECTURES)
@pytest.mark.parametrize("variant", RECIPES)
def test_training_step_never_reads_a_device_value(variant: str, case: str) -> None:
    """On the meta device tensors have no data: any .item(), float(), bool() or copy to the host
    inside a step would raise, so passing proves the step never waits for the device."""
    cfg = tiny_run(variant, case)
    device = torch.device("meta")
    state = build_state(cfg, device)
    stats = StepStats(4, device, Recipe.of(cfg).columns)
    for i in range(3):
        training_step(state, Recipe.of(cfg), stats, diagnose=i == 2)
    assert state.step == 3 and stats.rows == 3


def test_generator_step_leaves_critic_gradients_untouched() -> None:
    cfg = tiny_run("wgan_gp")
    state = build_state(cfg)
    recipe = Recipe.of(cfg)
    trainer.critic_step(state, recipe, diagnose=False)
    before = [p.grad.clone() for p in state.D.parameters()]
    trainer.generator_step(state, recipe)
    assert all(torch.equal(b, p.grad) for b, p in zip(before, state.D.parameters()))
    assert all(p.requires_grad for p in state.D.parameters())
    assert all(p.grad is not None for p in state.G.parameters())


def test_non_finite_loss_stops_training_at_its_step(monkeypatch) -> None:
    cfg = tiny_run("wgan_gp", train={"steps": 20, "log_every": 10, "eval_every": 20, "n_critic": 1})
    state = build_state(cfg)
    calls = {"n": 0}
    original = state.dataset.sample

    def poisoned(n):
        batch = original(n)
        if n != cfg.train.batch_size:
            return batch
        calls["n"] += 1
        return batch * math.nan if calls["n"] == 7 else batch

    monkeypatch.setattr(state.dataset, "sample", poisoned)
    with pytest.raises(Diverged, match="diverged at step 7") as info:
        train(cfg, [], state)
    assert info.value.step == 7 and state.step == 10  # noticed at the end of the 10-step window


def test_runs_are_reproducible_on_cpu() -> None:
    cfg = tiny_run("wgan_gp_sched", "dcgan-digits8")
    first = build_state(cfg)
    train(cfg, [], first)
    second = build_state(cfg)
    train(cfg, [], second)
    assert all(torch.equal(a, b) for a, b in zip(first.G.parameters(), second.G.parameters()))


def test_timings_split_training_from_evaluation() -> None:
    result = train(tiny_run("wgan_gp"), [])
    assert result.train_seconds > 0 and result.eval_seconds > 0 and result.evaluations == 1
