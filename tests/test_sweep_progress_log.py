"""Progress in a log: one line per newly finished run, with its objective, its time and the sweep's ETA."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution

from harness.stores import keys
from harness.sweep.progress_log import RunLog, duration, eta_text
from harness.sweep.studies import VariantStudies, make_storage, open_studies
from tests.conftest import tiny_experiment

START = datetime(2026, 1, 1, 12, 0, 0)


def finished(studies: VariantStudies, stage: str, value: float | None, seconds: float, **attrs: object) -> None:
    """A finished trial as a worker leaves it: its state, value, user attributes and times."""
    study = studies.search if stage == keys.SEARCH else studies.confirm
    state = optuna.trial.TrialState.COMPLETE if value is not None else optuna.trial.TrialState.PRUNED
    study.add_trial(optuna.trial.FrozenTrial(
        number=0, state=state, value=value, datetime_start=START, datetime_complete=START + timedelta(seconds=seconds),
        params={"n_critic": 5}, distributions={"n_critic": CategoricalDistribution((1, 5))}, user_attrs=attrs,
        system_attrs={}, intermediate_values={}, trial_id=0))


def test_durations_and_etas_read_like_a_log() -> None:
    assert [duration(s) for s in (0.4, 41, 192, 3725)] == ["0s", "41s", "3m12s", "1h02m"]
    assert eta_text([20.0, 40.0], 6, 1) == "3m00s" and eta_text([20.0, 40.0], 6, 2) == "1m30s"  # 2 at once
    assert eta_text([], 6, 2) == "unknown until a run has completed" and eta_text([9.0], 0, 1) == "0s"


@pytest.mark.parametrize("n", [1, 2, 3, 10])
def test_the_eta_is_the_measured_runs_mean_times_the_runs_left_over_those_running(n: int) -> None:
    """Issue 27: the first ETA (11m17s with 2m47s left) came from the wall time since the sweep started,
    setup included; only what runs took counts."""
    seconds = [30.0 + 10 * i for i in range(n)]  # hand-computed means: 30, 35, 40, 75
    mean = {1: 30, 2: 35, 3: 40, 10: 75}[n]
    assert eta_text(seconds, 4, 2) == duration(mean * 4 / 2)


def test_each_newly_finished_run_is_one_line_and_earlier_ones_a_summary(tmp_path: Path) -> None:
    exp = tiny_experiment(data={"name": "ring8"}, variants=["wgan_gp"], sweep={"trials_per_variant": 3, "seeds": 2})
    studies = open_studies(exp, make_storage(f"sqlite:///{tmp_path / 'o.db'}", exp), "wgan_gp")
    studies.search.set_user_attr(keys.BUDGET, 3)
    studies.search.set_user_attr(keys.OBJECTIVE, "w1")
    finished(studies, keys.SEARCH, 0.5, 4)
    out = io.StringIO()
    log = RunLog(exp, out)
    log.update([studies])
    assert out.getvalue() == "resuming: 1 of 5 runs already finished\n"
    finished(studies, keys.SEARCH, None, 2, outcome="pruned")
    finished(studies, keys.CONFIRM, 0.25, 185, seed=2)
    log.update([studies])
    log.update([studies])  # nothing new: nothing printed
    lines = out.getvalue().splitlines()[1:]
    assert len(lines) == 2
    # One name per run: the MLflow run's (stores.keys.run_name), also in the report
    assert lines[0].startswith("[2/5] search t1 · wgan_gp: pruned in 2s; sweep ") and "elapsed, ETA " in lines[0]
    # The completed runs took 4 s and 185 s; 2 runs are left, none running: 94.5 s x 2 (the pruned 2 s is no
    # run's length)
    assert lines[0].endswith("ETA 3m09s") and lines[1].endswith("ETA 3m09s")
    assert lines[1].startswith("[3/5] confirm s2 · wgan_gp: complete, w1 0.25 in 3m05s; sweep ")
