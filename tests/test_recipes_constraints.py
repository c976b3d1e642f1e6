"""Constraint entries: each penalty scaled by its own knob and logged under its own name; lists combine."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.recipes.constraints import CONSTRAINTS, LipschitzConstraint, combined, register_constraint
from harness.core.errors import ConfigError
from harness.core.knobs import KNOBS, Knob
from tests.conftest import tiny_run
from tests.test_recipes_losses import Linear

W = torch.tensor([1.2, -1.6])  # ||w|| = 2: every gradient penalty is (2 - 1)^2 = 1 or 2^2 = 4


def term_and_diagnostics(name: str, **knobs: float) -> tuple[torch.Tensor | None, dict]:
    train = tiny_run("wgan_gp", train=knobs).train
    torch.manual_seed(0)
    return CONSTRAINTS.get(name).penalty(Linear(W), torch.randn(16, 2), torch.randn(16, 2), train)


@pytest.mark.parametrize("name, knobs, term, diagnostic", [
    ("gp", {"lambda_gp": 3.0}, 3.0 * 1.0, ("gp", 1.0)),
    ("gp_one_sided", {"lambda_gp": 3.0}, 3.0 * 1.0, ("lp", 1.0)),
    ("dragan", {"lambda_gp": 3.0}, 3.0 * 1.0, ("dragan", 1.0)),
    ("r1", {"r1_gamma": 3.0}, 3.0 / 2 * 4.0, ("r1", 4.0)),  # gamma/2 * E||grad||^2, not gamma * ...
])
def test_each_penalty_is_scaled_by_its_knob_and_logged_unscaled(name, knobs, term, diagnostic) -> None:
    value, diagnostics = term_and_diagnostics(name, **knobs)
    assert value.item() == pytest.approx(term, rel=1e-5)
    assert set(diagnostics) == {diagnostic[0]} == set(CONSTRAINTS.get(name).diagnostics)
    assert diagnostics[diagnostic[0]].item() == pytest.approx(diagnostic[1], rel=1e-5)


def test_every_constraint_returns_exactly_the_diagnostics_it_declares() -> None:
    """Derived from the registry: what the loop logs is what the entry declares."""
    from tests.test_recipes_losses import small_mlp
    from harness.train.trainer import Recipe

    for name in CONSTRAINTS:
        cfg = tiny_run("wgan_gp", variants=[{"preset": "wgan_gp", "train": {"constraint": name}}])
        D = small_mlp()
        CONSTRAINTS.get(name).prepare(D, cfg.train)
        _, diagnostics = Recipe.of(cfg).constraint.penalty(D, torch.randn(8, 2), torch.randn(8, 2), cfg.train)
        assert set(diagnostics) == set(CONSTRAINTS.get(name).diagnostics), name


def test_a_list_sums_penalties_and_keeps_every_diagnostic() -> None:
    train = tiny_run("wgan_gp", train={"lambda_gp": 2.0, "r1_gamma": 4.0}).train
    both = combined(("gp", "r1"))
    torch.manual_seed(0)
    term, diagnostics = both.penalty(Linear(W), torch.randn(16, 2), torch.randn(16, 2), train)
    assert term.item() == pytest.approx(2.0 * 1.0 + 4.0 / 2 * 4.0, rel=1e-5)
    assert set(diagnostics) == {"gp", "r1"} and both.diagnostics == ("gp", "r1")
    assert not both.allows_batch_norm and {k.name for k in both.knobs} == {"lambda_gp", "r1_gamma"}


def test_a_list_runs_every_action_and_preparation_in_order() -> None:
    calls = []
    a = LipschitzConstraint(after_critic_step=lambda D, t: calls.append("a"), prepare=lambda D, t: calls.append("pa"))
    b = LipschitzConstraint(after_critic_step=lambda D, t: calls.append("b"), prepare=lambda D, t: calls.append("pb"))
    CONSTRAINTS.add("test_a", a)
    CONSTRAINTS.add("test_b", b)
    try:
        both = combined(("test_a", "test_b"))
        both.prepare(nn.Linear(1, 1), None)
        both.after_critic_step(nn.Linear(1, 1), None)
        assert calls == ["pa", "pb", "a", "b"]
    finally:
        CONSTRAINTS.remove("test_a"), CONSTRAINTS.remove("test_b")


@pytest.mark.parametrize("names, message", [
    (["none", "gp"], "train.constraint[0]: 'none' cannot be combined with others; allowed in a list: "),
    (["spectral_norm", "clip"], "train.constraint[1]: 'clip' cannot be combined with others"),
    (["gp", "gp"], "train.constraint[1]: 'gp' appears twice"),
    (["gp", "rone"], "train.constraint[1]: 'rone' is not one of: "),
])
def test_bad_lists_are_config_errors_naming_the_item(names: list, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        tiny_run("wgan_gp", variants=[{"preset": "wgan_gp", "train": {"constraint": names}}])
    assert message in str(info.value)


def test_a_list_with_a_penalty_refuses_a_batch_norm_critic() -> None:
    with pytest.raises(ConfigError, match="model.critic_norm: 'batch' is not allowed"):
        tiny_run("wgan_gp", "dcgan-digits8", model={"critic_norm": "batch"},
                 variants=[{"preset": "sngan", "train": {"constraint": ["spectral_norm", "r1"]}}])


def test_register_constraint_takes_a_function_or_a_class_and_declares_knobs() -> None:
    knob = Knob("test_weight", float, 1.0, min=0)

    @register_constraint("test_fn", knobs=(knob,), diagnostics=("test_term",))
    def penalty(D, real, fake, train):
        """A test penalty."""
        return train.test_weight * D(real).mean(), {"test_term": D(real).mean()}

    @register_constraint("test_cls")
    class Clamp:
        """A test action."""

        @staticmethod
        def after_critic_step(D, train):
            return None

    try:
        assert CONSTRAINTS.get("test_fn").penalty is penalty and KNOBS["test_weight"] == knob
        assert CONSTRAINTS.get("test_fn").doc == "A test penalty."
        assert CONSTRAINTS.get("test_cls").after_critic_step is Clamp.after_critic_step
        assert tiny_run("wgan_gp", train={"test_weight": 2.5}).train.test_weight == 2.5
    finally:
        CONSTRAINTS.remove("test_fn"), CONSTRAINTS.remove("test_cls")
    assert "test_weight" not in KNOBS
