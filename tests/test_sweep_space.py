"""Search-space validation and where each knob applies."""

from __future__ import annotations

import pytest

from harness.config.resolve import resolve_run
from harness.core.errors import ConfigError
from harness.core.schema import KnobSpace
from harness.sweep.space import grid_points, knob_applies, suggest
from tests.conftest import tiny_experiment

SPACE = {"lambda_gp": {"low": 0.1, "high": 100.0, "log": True}, "clip_value": {"low": 0.005, "high": 0.05},
         "n_critic": {"choices": [1, 5]}, "scheduler": {"choices": ["linear", "cosine", "plateau"]},
         "plateau_patience": {"choices": [1, 2]}}


def test_knobs_apply_only_where_they_mean_something() -> None:
    exp = tiny_experiment(data={"name": "ring8"}, sweep={"space": SPACE}, variants=[
        "vanilla", "wgan_clip", "wgan_gp", "wgan_gp_sched",
        {"preset": "wgan_gp_sched", "name": "gp_plateau", "train": {"scheduler": "plateau"}}])
    applies = {v.name: sorted(k for k in SPACE if knob_applies(resolve_run(exp, v.name), k)) for v in exp.variants}
    assert applies == {
        "vanilla": ["n_critic"],
        "wgan_clip": ["clip_value", "n_critic"],
        "wgan_gp": ["lambda_gp", "n_critic"],
        "wgan_gp_sched": ["lambda_gp", "n_critic", "scheduler"],
        "gp_plateau": ["lambda_gp", "n_critic", "plateau_patience", "scheduler"],
    }


ERRORS = {
    "inverted": ({"beta1": {"low": 0.9, "high": 0.1}}, "sweep.space.beta1: low 0.9 must be below high 0.1"),
    "empty range": ({"beta1": {"low": 0.5, "high": 0.5}}, "must be below high"),
    "log needs positive": ({"beta1": {"low": 0.0, "high": 0.5, "log": True}}, "sweep.space.beta1.low: 0.0: a log range"),
    "out of the key's range": ({"beta2": {"low": 0.9, "high": 1.5}}, "sweep.space.beta2.high: 1.5 is out of range"),
    "int knob with floats": ({"n_critic": {"low": 1.5, "high": 4}}, "sweep.space.n_critic.low: 1.5 is a float"),
    "not a knob": ({"loss": {"choices": ["bce"]}}, "sweep.space.loss: not a knob"),
    "typo": ({"lamda_gp": {"low": 1, "high": 2}}, "did you mean 'lambda_gp'?"),
    "both forms": ({"n_critic": {"choices": [1], "low": 1, "high": 2}}, "either choices or low/high"),
    "bad choice": ({"scheduler": {"choices": ["linear", "exponential"]}},
                   "sweep.space.scheduler.choices[1]: 'exponential' is not one of"),
    "default outside": ({"lambda_gp": {"low": 20.0, "high": 100.0}}, "excludes 10.0, the value variant 'wgan_gp'"),
    "default not a choice": ({"n_critic": {"choices": [2, 3]}}, "lacks 5, the value variant 'wgan_gp' uses"),
}


def test_a_knob_no_planned_cell_reads_is_a_notice_not_an_error() -> None:
    """The file's space stays whole when `--only` or `variants:` leaves none of a knob's readers."""
    exp = tiny_experiment(sweep={"space": {"clip_value": {"low": 0.005, "high": 0.05}}}, variants=["wgan_gp"])
    assert exp.notices == ("notice: sweep.space.clip_value applies to none of the planned cells (wgan_gp); it is "
                           "not searched",)
    assert tiny_experiment(sweep={"space": {"clip_value": {"low": 0.005, "high": 0.05}}},
                           variants=["wgan_clip"]).notices == ()


@pytest.mark.parametrize("case", list(ERRORS))
def test_space_errors_name_the_key_and_the_problem(case: str) -> None:
    space, message = ERRORS[case]
    with pytest.raises(ConfigError) as info:
        tiny_experiment(sweep={"space": space}, variants=["wgan_gp"])
    assert message in str(info.value)


def test_sampler_budget_rules() -> None:
    from harness.sweep.studies import search_budget

    assert search_budget(tiny_experiment(sweep={"trials_per_variant": None})) == 10
    with pytest.raises(ConfigError, match="leave it out with sampler 'grid'"):
        tiny_experiment(sweep={"sampler": "grid", "space": {"n_critic": {"choices": [1, 5]}}})
    with pytest.raises(ConfigError, match="sampler 'grid' needs choices, or low/high with a step"):
        tiny_experiment(sweep={"sampler": "grid", "trials_per_variant": None,
                               "space": {"beta1": {"low": 0.1, "high": 0.5}}})


def test_grid_is_the_full_factorial_in_a_fixed_order() -> None:
    exp = tiny_experiment(variants=["wgan_gp"], sweep={"sampler": "grid", "trials_per_variant": None, "space": {
        "n_critic": {"choices": [1, 5]}, "lambda_gp": {"low": 5.0, "high": 15.0, "step": 5.0}}})
    points = grid_points(exp.sweep.space)
    assert points == [{"lambda_gp": lam, "n_critic": n} for lam in (5.0, 10.0, 15.0) for n in (1, 5)]


def test_knobs_of_the_new_recipes_and_of_a_constraint_list_apply_where_declared() -> None:
    space = {"lambda_gp": {"low": 0.1, "high": 100.0, "log": True}, "r1_gamma": {"low": 0.1, "high": 100.0},
             "sn_power_iterations": {"choices": [1, 2]}}
    exp = tiny_experiment(sweep={"space": space}, variants=[
        "sngan", "wgan_lp", "r1", {"preset": "sngan", "name": "sn_r1", "train": {"constraint": ["spectral_norm", "r1"]}},
        {"preset": "wgan_gp", "name": "dragan", "train": {"constraint": "dragan"}}])
    applies = {v.name: sorted(k for k in space if knob_applies(resolve_run(exp, v.name), k)) for v in exp.variants}
    assert applies == {"sngan": ["sn_power_iterations"], "wgan_lp": ["lambda_gp"], "r1": ["r1_gamma"],
                       "sn_r1": ["r1_gamma", "sn_power_iterations"], "dragan": ["lambda_gp"]}


def test_a_knob_space_is_checked_against_the_declared_range() -> None:
    with pytest.raises(ConfigError, match=r"^sweep.space.sn_power_iterations.choices\[1\]: 0 is out of range; "
                                          r"allowed: >= 1 and <= 100"):
        tiny_experiment(sweep={"space": {"sn_power_iterations": {"choices": [1, 0]}}}, variants=["sngan"])


def test_suggest_asks_for_each_knob_with_its_type_and_scale() -> None:
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    space = {"n_critic": KnobSpace(choices=(1, 5)), "lambda_gp": KnobSpace(low=1.0, high=50.0, log=True),
             "batch_size": KnobSpace(low=32, high=128, step=32)}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial({"n_critic": 5, "lambda_gp": 7.5, "batch_size": 64})  # queued values come back as given
    trial = study.ask()
    assert suggest(trial, space) == {"batch_size": 64, "lambda_gp": 7.5, "n_critic": 5}
    assert trial.distributions == {"batch_size": IntDistribution(32, 128, step=32),
                                   "lambda_gp": FloatDistribution(1.0, 50.0, log=True),
                                   "n_critic": CategoricalDistribution((1, 5))}
