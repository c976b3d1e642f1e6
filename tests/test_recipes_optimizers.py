"""The optimizer axis: each entry's update against its closed form in float64, and its knobs scoped
to the runs that train with it (logged, recorded and searched only there)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from harness.config.resolve import parse_experiment, resolve_run
from harness.core.errors import ConfigError
from harness.config.knob_space import applicable_space
from harness.core.knobs import owned_by
from harness.recipes.optimizers import OPTIMIZERS, build_optimizer, register_optimizer
from harness.config.recipe import applicable_settings
from harness.core.schema import TrainConfig
from harness.train.trainer import build_state
from tests.conftest import registries_restored, tiny_run

G1, G2 = (0.3, -2.0, 5.0), (-0.7, 1.0, 4.0)  # two steps' gradients, signs and sizes mixed
THETA0 = (1.0, -1.0, 0.5)


def two_steps(train: TrainConfig) -> list[float]:
    """The parameter after two updates with gradients G1 then G2, in float64."""
    theta = nn.Parameter(torch.tensor(THETA0, dtype=torch.float64))
    opt = build_optimizer([theta], train)
    for grad in (G1, G2):
        opt.zero_grad()
        theta.grad = torch.tensor(grad, dtype=torch.float64)
        opt.step()
    return theta.detach().tolist()


def adam_closed_form(lr: float, b1: float, b2: float, eps: float = 1e-8) -> list[float]:
    out = []
    for t0, g1, g2 in zip(THETA0, G1, G2):
        m1, v1 = (1 - b1) * g1, (1 - b2) * g1 ** 2
        t1 = t0 - lr * (m1 / (1 - b1)) / (math.sqrt(v1 / (1 - b2)) + eps)
        m2, v2 = b1 * m1 + (1 - b1) * g2, b2 * v1 + (1 - b2) * g2 ** 2
        out.append(t1 - lr * (m2 / (1 - b1 ** 2)) / (math.sqrt(v2 / (1 - b2 ** 2)) + eps))
    return out


def rmsprop_closed_form(lr: float, alpha: float, eps: float = 1e-8) -> list[float]:
    out = []
    for t0, g1, g2 in zip(THETA0, G1, G2):
        v1 = (1 - alpha) * g1 ** 2
        t1 = t0 - lr * g1 / (math.sqrt(v1) + eps)
        v2 = alpha * v1 + (1 - alpha) * g2 ** 2
        out.append(t1 - lr * g2 / (math.sqrt(v2) + eps))
    return out


def train_with(**values: object) -> TrainConfig:
    return dataclasses.replace(tiny_run("wgan_gp").train, **values)


def with_knobs(train: TrainConfig, **knobs: object) -> TrainConfig:
    return dataclasses.replace(train, knobs={**train.knobs, **knobs})


def test_adam_follows_its_closed_form_with_the_configured_betas() -> None:
    # beta1 != beta2 and both far from torch's defaults: swapped or ignored betas give other numbers
    train = with_knobs(train_with(optimizer="adam", lr=0.1), beta1=0.3, beta2=0.8)
    assert two_steps(train) == pytest.approx(adam_closed_form(0.1, 0.3, 0.8), rel=1e-12)
    assert two_steps(train) != pytest.approx(adam_closed_form(0.1, 0.8, 0.3), rel=1e-6)


def test_rmsprop_follows_its_closed_form_without_momentum() -> None:
    train = with_knobs(train_with(optimizer="rmsprop", lr=0.05), rmsprop_alpha=0.7)
    assert two_steps(train) == pytest.approx(rmsprop_closed_form(0.05, 0.7), rel=1e-12)
    assert two_steps(train) != pytest.approx(rmsprop_closed_form(0.05, 0.99), rel=1e-6)


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_trains_g_and_d_at_the_configured_lr(name: str) -> None:
    cfg = tiny_run("wgan_gp", train={"optimizer": name, "lr": 3e-4})
    state = build_state(cfg)
    for opt, model in ((state.opt_G, state.G), (state.opt_D, state.D)):
        assert [g["lr"] for g in opt.param_groups] == [3e-4]
        assert {id(p) for g in opt.param_groups for p in g["params"]} == {id(p) for p in model.parameters()}


def experiment(*variants: object, **train: object):
    return parse_experiment({"name": "opt", "data": {"name": "ring8"}, "train": {"steps": 4, **train},
                             "sweep": {"space": {"beta1": {"low": 0.0, "high": 0.9},
                                                 "rmsprop_alpha": {"low": 0.9, "high": 0.999}}},
                             "variants": list(variants)})


def test_each_optimizers_knobs_are_logged_recorded_and_searched_only_where_it_trains() -> None:
    exp = experiment("wgan_gp", {"preset": "wgan_clip", "train": {"optimizer": "rmsprop", "lr": 5e-5}})
    adam, rmsprop = resolve_run(exp, "wgan_gp"), resolve_run(exp, "wgan_clip")
    assert {"train.beta1", "train.beta2"} <= set(applicable_settings(adam))
    assert "train.rmsprop_alpha" not in applicable_settings(adam)
    assert "train.rmsprop_alpha" in applicable_settings(rmsprop)
    assert not {"train.beta1", "train.beta2"} & set(applicable_settings(rmsprop))
    assert set(applicable_space(exp, adam)) == {"beta1"}
    assert set(applicable_space(exp, rmsprop)) == {"rmsprop_alpha"}
    assert owned_by("beta1") == [("optimizer", "adam")]


def test_a_variant_setting_adams_betas_under_rmsprop_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"variants\[0\]\.train\.beta1.*not read by variant 'wgan_clip'"):
        experiment({"preset": "wgan_clip", "train": {"optimizer": "rmsprop", "beta1": 0.0}})


def test_the_shipped_cifar10_protocol_trains_wgan_as_published_and_the_rest_with_adam() -> None:
    from pathlib import Path

    from harness.config.resolve import load_experiment

    exp = load_experiment(Path(__file__).resolve().parent.parent / "experiments" / "cifar10.yaml")
    runs = {spec.name: resolve_run(exp, spec.name).train for spec in exp.variants}
    assert (runs["wgan_clip"].optimizer, runs["wgan_clip"].lr, runs["wgan_clip"].clip_value) == ("rmsprop", 5e-5, 0.01)
    assert all(train.optimizer == "adam" and train.beta1 in (0.0, 0.5) for name, train in runs.items()
               if name != "wgan_clip")


def test_an_unknown_optimizer_is_one_line_naming_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"train\.optimizer.*'sgd'.*adam.*rmsprop"):
        experiment("wgan_gp", optimizer="sgd")


def test_a_registered_optimizer_is_selectable_and_its_knob_scoped() -> None:
    from harness.core.knobs import Knob

    with registries_restored():
        @register_optimizer("sgd_momentum", knobs=(Knob("sgd_momentum", float, 0.9, min=0, max=1),))
        def build(parameters, train):
            return torch.optim.SGD(parameters, lr=train.lr, momentum=train.sgd_momentum)

        cfg = tiny_run("wgan_gp", train={"optimizer": "sgd_momentum", "sgd_momentum": 0.5})
        state = build_state(cfg)
        assert isinstance(state.opt_D, torch.optim.SGD) and state.opt_D.param_groups[0]["momentum"] == 0.5
        assert "train.sgd_momentum" in applicable_settings(cfg)
        assert "train.beta1" not in applicable_settings(cfg)
    assert "sgd_momentum" not in OPTIMIZERS
