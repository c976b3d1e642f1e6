"""Study budgets as queues of WAITING trials, and the confirmation queue."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from harness.config.resolve import parse_experiment
from harness.sweep.studies import (confirm_queue_stale, fill_confirm_queue, fill_search_queue, make_storage,
                                   missing_confirm_seeds, open_studies, slot_trials)
from tests.conftest import TINY, deep_merge, tiny_experiment

SPACE = {"lambda_gp": {"low": 0.1, "high": 100.0, "log": True}, "n_critic": {"choices": [1, 5]}}


@pytest.fixture()
def storage_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'optuna.db'}"


def queued(study: optuna.Study) -> list[dict]:
    return [t.system_attrs["fixed_params"] for t in study.get_trials(states=(TrialState.WAITING,))]


def test_budget_is_defaults_first_then_blank_slots_and_tops_up_on_resume(storage_url: str) -> None:
    exp = tiny_experiment(variants=["wgan_gp"], sweep={"trials_per_variant": 3, "space": SPACE})
    studies = open_studies(exp, make_storage(storage_url, exp), "wgan_gp")
    assert fill_search_queue(exp, studies) == 3
    assert queued(studies.search) == [{"lambda_gp": 10.0, "n_critic": 5}, {}, {}]
    fill_search_queue(exp, studies)  # idempotent
    assert len(studies.search.trials) == 3
    bigger = dataclasses.replace(exp, sweep=dataclasses.replace(exp.sweep, trials_per_variant=5))
    assert fill_search_queue(bigger, studies) == 5
    assert queued(studies.search) == [{"lambda_gp": 10.0, "n_critic": 5}, {}, {}, {}, {}]


def test_a_variant_without_applicable_knobs_runs_its_defaults_once(storage_url: str) -> None:
    exp = tiny_experiment(variants=["wgan_gp", "wgan_clip"], sweep={"trials_per_variant": 4,
                                                                   "space": {"lambda_gp": SPACE["lambda_gp"]}})
    studies = open_studies(exp, make_storage(storage_url, exp), "wgan_clip")
    assert fill_search_queue(exp, studies) == 1 and queued(studies.search) == [{}]


def test_grid_queues_every_point_plus_the_defaults(storage_url: str) -> None:
    exp = tiny_experiment(variants=["wgan_gp"], sweep={"sampler": "grid", "trials_per_variant": None, "space": {
        "n_critic": {"choices": [1, 5]}, "lambda_gp": {"choices": [1.0, 100.0, 10.0]}}})
    studies = open_studies(exp, make_storage(storage_url, exp), "wgan_gp")
    assert fill_search_queue(exp, studies) == 6  # (10, 5) is a grid point, so no extra defaults trial
    assert queued(studies.search)[0] == {"lambda_gp": 1.0, "n_critic": 1}
    assert {"lambda_gp": 10.0, "n_critic": 5} in queued(studies.search)


def complete(study: optuna.Study, value: float) -> optuna.trial.FrozenTrial:
    trial = study.ask()
    trial.suggest_float("lambda_gp", 0.1, 100.0, log=True)
    return study.tell(trial, value)


def test_failed_trials_that_were_requeued_do_not_take_a_slot(storage_url: str) -> None:
    exp = tiny_experiment(variants=["wgan_gp"], sweep={"trials_per_variant": 2, "space": SPACE})
    studies = open_studies(exp, make_storage(storage_url, exp), "wgan_gp")
    dead = studies.search.tell(studies.search.ask(), state=TrialState.FAIL)
    optuna.storages.RetryHeartbeatStaleTrialCallback()(studies.search, dead)
    trials = studies.search.get_trials()
    assert [t.number for t in slot_trials(trials)] == [1]


def test_confirmation_queue_follows_the_current_best(storage_url: str) -> None:
    exp = tiny_experiment(seed=10, variants=["wgan_gp"], sweep={"trials_per_variant": 2, "seeds": 3, "space": SPACE})
    studies = open_studies(exp, make_storage(storage_url, exp), "wgan_gp")
    assert missing_confirm_seeds(exp, studies) == (None, [])
    fill_confirm_queue(exp, studies)
    assert "skipped" in studies.confirm.user_attrs
    first = complete(studies.search, 0.5)
    best, seeds = missing_confirm_seeds(exp, studies)
    assert best.number == first.number and seeds == [11, 12, 13]
    fill_confirm_queue(exp, studies)
    assert missing_confirm_seeds(exp, studies)[1] == []
    waiting = studies.confirm.get_trials(states=(TrialState.WAITING,))
    assert [t.user_attrs["seed"] for t in waiting] == [11, 12, 13]
    assert all(t.system_attrs["fixed_params"] == first.params for t in waiting)
    better = complete(studies.search, 0.1)  # a resumed, bigger search found a better trial
    assert missing_confirm_seeds(exp, studies) == (studies.search.best_trial, [11, 12, 13])
    assert studies.search.best_trial.number == better.number


def test_without_search_the_seeds_run_the_cells_own_values_and_the_queue_settles(storage_url: str) -> None:
    """`trials_per_variant: 0`: no search slot, budget 0, one confirmation seed each with no params and no
    source trial; once queued the queue is not stale (the worker would otherwise refill it forever)."""
    exp = tiny_experiment(seed=10, variants=["wgan_gp"], sweep={"trials_per_variant": 0, "seeds": 2, "space": SPACE})
    studies = open_studies(exp, make_storage(storage_url, exp), "wgan_gp")
    assert fill_search_queue(exp, studies) == 0 and studies.search.get_trials() == []
    assert studies.search.user_attrs["budget"] == 0
    assert missing_confirm_seeds(exp, studies) == (None, [11, 12]) and confirm_queue_stale(exp, studies)
    fill_confirm_queue(exp, studies)
    waiting = studies.confirm.get_trials(states=(TrialState.WAITING,))
    assert [t.user_attrs["seed"] for t in waiting] == [11, 12]
    assert all(t.system_attrs["fixed_params"] == {} and "source_trial" not in t.user_attrs for t in waiting)
    assert "skipped" not in studies.confirm.user_attrs and not confirm_queue_stale(exp, studies)
    fill_confirm_queue(exp, studies)  # idempotent
    assert len(studies.confirm.get_trials()) == 2


def test_a_searched_study_without_a_result_is_stale_until_it_says_skipped(storage_url: str) -> None:
    exp = tiny_experiment(variants=["wgan_gp"], sweep={"trials_per_variant": 1, "seeds": 2})
    studies = open_studies(exp, make_storage(storage_url, exp), "wgan_gp")
    assert confirm_queue_stale(exp, studies)
    fill_confirm_queue(exp, studies)
    assert studies.confirm.user_attrs["skipped"] == "no search trial completed"
    assert not confirm_queue_stale(exp, studies)


def test_a_cells_studies_know_its_levels(storage_url: str) -> None:
    exp = parse_experiment(deep_merge(TINY, {"factors": {"recipe": {"gp": "wgan_gp"}, "setting": {"A": None, "B": None}}}))
    studies = open_studies(exp, make_storage(storage_url, exp), "gp.B")
    assert studies.search.study_name == "tiny/gp.B" and studies.levels == ("gp", "B")
