"""Reading the Optuna storage: trial rows, outcomes, re-queued trials, missing studies."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.config.resolve import parse_experiment
from harness.core.errors import UserError
from harness.report.load import load_sweep
from tests.report_support import golden_raw, shared_stores


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    return shared_stores(tmp_path_factory)


def test_every_trial_is_a_row_with_its_outcome(stores: tuple) -> None:
    exp, _ = stores
    sweep = load_sweep(exp, exp.sweep.storage)
    gp = sweep.trials[(sweep.trials.variant == "wgan_gp") & (sweep.trials.stage == "search")]
    assert gp.outcome.tolist() == ["complete", "diverged", "interrupted", "pruned", "complete"]
    assert gp.reason.iloc[1] == "diverged at step 7 (d_loss is not finite)"
    assert gp.retried_as.iloc[2] == 4  # the killed trial points at its re-run
    clip = sweep.trials[sweep.trials.variant == "wgan_clip"]
    assert clip.outcome.tolist() == ["running", "waiting", "waiting", "waiting"]


def test_knobs_metrics_and_seeds_become_columns(stores: tuple) -> None:
    exp, _ = stores
    trials = load_sweep(exp, exp.sweep.storage).trials
    confirm = trials[(trials.variant == "vanilla") & (trials.stage == "confirm")]
    assert confirm.seed.tolist() == [1, 2, 3] and confirm["param.n_critic"].tolist() == [1, 1, 1]
    assert confirm["metric.w1"].tolist() == confirm.value.tolist()
    assert "metric.eval_seconds" not in trials  # timings are not metrics
    assert trials[trials.stage == "search"].seed.eq(exp.seed).all()


def test_distributions_and_intermediate_values_are_read(stores: tuple) -> None:
    exp, _ = stores
    sweep = load_sweep(exp, exp.sweep.storage)
    assert sweep.info("wgan_gp").distributions["lambda_gp"].log
    assert list(sweep.info("vanilla").distributions) == ["n_critic"]
    steps = sweep.steps[(sweep.steps.variant == "vanilla") & (sweep.steps.stage == "confirm")]
    assert sorted(set(steps.step)) == [20, 40]


def test_a_variant_the_sweep_has_not_reached_is_reported_missing(stores: tuple) -> None:
    exp, folder = stores
    later = parse_experiment({**golden_raw(folder), "variants": ["vanilla", {"name": "later", "preset": "wgan_gp"}]})
    sweep = load_sweep(later, exp.sweep.storage)
    assert sweep.info("later").search is None and sweep.info("later").budget is None
    assert set(sweep.trials.variant) == {"vanilla"}


def test_a_missing_sqlite_file_is_an_error_and_is_not_created(stores: tuple, tmp_path: Path) -> None:
    exp, _ = stores
    with pytest.raises(UserError, match="no Optuna results at sqlite:///"):
        load_sweep(exp, f"sqlite:///{tmp_path / 'absent.db'}")
    assert not (tmp_path / "absent.db").exists()


def test_an_unreachable_server_is_one_line_with_the_password_hidden(stores: tuple) -> None:
    exp, _ = stores
    with pytest.raises(UserError) as info:
        load_sweep(exp, "postgresql://user:s3cret@127.0.0.1:1/optuna")
    assert "s3cret" not in str(info.value) and "user:***@127.0.0.1:1" in str(info.value)


def test_the_stored_objective_names_the_stored_values(stores: tuple) -> None:
    exp, _ = stores
    asks_modes = dataclasses.replace(exp, sweep=dataclasses.replace(exp.sweep, objective="modes"))
    sweep = load_sweep(asks_modes, exp.sweep.storage)
    assert (sweep.info("vanilla").objective, sweep.info("vanilla").direction) == ("w1", "minimize")
    assert sweep.info("wgan_clip").objective == "w1"


def test_eval_records_turn_the_stored_history_into_rows() -> None:
    import math

    from optuna.trial import TrialState, create_trial

    from harness.report.load import eval_records

    trial = create_trial(state=TrialState.COMPLETE, value=1.0, user_attrs={"eval_history": {
        "step": [10.0, 20.0], "value": [3.0, None], "cost_generator_steps": [10.0, 20.0],
        "cost_critic_updates": [50.0, 100.0], "cost_images_seen": [3200.0, 6400.0],
        "cost_train_seconds": [0.5, 1.0]}})
    rows = eval_records("wgan_gp", "confirm", trial)
    assert rows[0] == ("wgan_gp", "confirm", trial.number, 10.0, 3.0, 10.0, 50.0, 3200.0, 0.5)
    assert math.isnan(rows[1][4]) and rows[1][-1] == 1.0
    assert eval_records("wgan_gp", "confirm", create_trial(state=TrialState.COMPLETE, value=1.0)) == []


def test_a_store_without_search_is_read_as_the_cells_seeds(stores: tuple, tmp_path_factory) -> None:
    from tests.report_support import no_search_stores

    exp, _ = stores
    golden = load_sweep(exp, exp.sweep.storage)
    assert golden.searched and all(info.searched for info in golden.variants)
    assert golden.info("vanilla").levels == (("variant", "vanilla"),) and golden.info("vanilla").level_names == (
        "vanilla",)
    design, _ = no_search_stores(tmp_path_factory, 2)
    sweep = load_sweep(design, design.sweep.storage)
    assert not sweep.searched and {info.budget for info in sweep.variants} == {0}
    assert sweep.info("wgan_gp.B").level_names == ("wgan_gp", "B")
    assert (sweep.trials.stage == "confirm").all() and len(sweep.trials) == 4 * 2
    assert sweep.trials.source_trial.isna().all() and len(sweep.evals) == 4 * 2 * 5


def test_before_any_cell_starts_the_plan_says_whether_it_searches(stores: tuple) -> None:
    """Nothing stored of a config's cells yet: whether it searches comes from the config, not a default."""
    exp, folder = stores
    unstarted = {**golden_raw(folder), "name": "not-yet", "variants": ["vanilla"]}
    assert load_sweep(parse_experiment(unstarted), exp.sweep.storage).searched
    plain = {**unstarted, "sweep": {**unstarted["sweep"], "trials_per_variant": 0}}
    assert not load_sweep(parse_experiment(plain), exp.sweep.storage).searched
