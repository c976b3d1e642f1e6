"""Progress in a log: one line per newly finished run, with its objective, its time and the sweep's ETA."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

import optuna
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
    assert eta_text(60.0, 3, 6) == "2m00s" and eta_text(60.0, 0, 6) == "unknown yet" and eta_text(9.0, 3, 0) == "0s"


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
    assert lines[0].startswith("[2/5] wgan_gp search t1: pruned in 2s; sweep ") and "elapsed, ETA " in lines[0]
    assert lines[1].startswith("[3/5] wgan_gp confirm seed 2: complete, w1 0.25 in 3m05s; sweep ")
