"""Services that go away mid-trial: a real `mlflow server` stopped, real PostgreSQL backends killed.

The sweep must say what it waits for, give up after `tracking.retries` / `sweep.storage_retries`
with one line naming the URL, re-queue the trial, and finish exactly on the rerun.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from harness.store_keys import study_names
from harness.sweep.studies import slot_trials
from tests.services import (admin_connection, fresh_database, mlflow_server, pg_url, postgres_skip_reason,
                            stop_group)
from tests.sweep_support import mlflow_runs, run_sweep_cli, start_sweep_cli, write_config
from tests.test_sweep_cli import wait_for

pytestmark = pytest.mark.slow
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# One search trial and one confirmation run, long enough to be caught mid-way, with small retry budgets.
FAULT_SWEEP: dict[str, Any] = {
    "variants": ["wgan_gp"],
    "train": {"steps": 400, "log_every": 20, "eval_every": 40, "sample_every": 400, "n_critic": 1, "batch_size": 32},
    "sweep": {"trials_per_variant": 1, "seeds": 1, "storage_retries": 3, "storage_retry_seconds": 0.5},
    "tracking": {"retries": 3, "retry_seconds": 0.5},
}


def running_trial_in(db: Path) -> bool:
    """A search trial RUNNING with its MLflow run, read from the Optuna SQLite file read-only."""
    if not db.exists():
        return False
    query = ("SELECT count(*) FROM trials t JOIN trial_user_attributes a ON a.trial_id = t.trial_id "
             "WHERE t.state = 'RUNNING' AND a.key = 'mlflow_run_id'")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as connection:
            return connection.execute(query).fetchone()[0] > 0
    except sqlite3.Error:
        return False


def assert_exact(storage: str, tracking: str, folder: Path) -> None:
    """Search and confirmation hold exactly one finished slot each, each with one FINISHED MLflow run."""
    statuses = {r.info.run_id: r.info.status for r in mlflow_runs(folder, uri=tracking)}
    for name in study_names("e2e", "wgan_gp"):
        slots = slot_trials(optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False))
        assert len(slots) == 1 and slots[0].state in FINISHED, (name, [t.state for t in slots])
        assert statuses[slots[0].user_attrs["mlflow_run_id"]] == "FINISHED"
    assert "RUNNING" not in statuses.values()


def test_a_tracking_server_stopped_mid_trial_is_retried_visibly_then_the_rerun_finishes(tmp_path: Path) -> None:
    backend = f"sqlite:///{tmp_path / 'server.db'}"
    config = write_config(tmp_path, **FAULT_SWEEP)
    with mlflow_server(backend, tmp_path) as server:
        sweep = start_sweep_cli(tmp_path, config, "--tracking-uri", server.url)
        wait_for(lambda: running_trial_in(tmp_path / "runs" / "optuna.db"), what="a running trial")
        stop_group(server.process)
        started = time.monotonic()
        _, err = sweep.communicate(timeout=180)
    assert sweep.returncode == 2, err
    assert time.monotonic() - started < 120  # bounded: 3 attempts, 0.5 s then 1 s apart, plus the trial's step
    assert f"waiting for the tracking server at {server.url} (attempt 2 of 3" in err
    assert f"waiting for the tracking server at {server.url} (attempt 3 of 3" in err
    assert err.count("(attempt 2 of 3") == 1  # one round of retries: giving up does not start another
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: lost the tracking server at {server.url} after 3 attempts"), err
    storage = f"sqlite:///{tmp_path / 'runs' / 'optuna.db'}"
    trials = optuna.load_study(study_name="e2e/wgan_gp", storage=storage).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]  # re-queued, not left RUNNING

    with mlflow_server(backend, tmp_path) as server:
        rerun = run_sweep_cli(tmp_path, config, "--tracking-uri", server.url)
        assert rerun.returncode == 0, rerun.stderr
        assert_exact(storage, server.url, tmp_path)


def kill_backends(database: str) -> int:
    """pg_terminate_backend on every connection to `database` but this one; how many were killed."""
    connection = admin_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = %s AND pid <> pg_backend_pid()", (database,))
            return int(cursor.fetchone()[0])
    finally:
        connection.close()


def running_child_run(db: Path) -> bool:
    """A trial's MLflow run is RUNNING (the Optuna storage is in PostgreSQL; MLflow is local)."""
    if not db.exists():
        return False
    query = "SELECT count(*) FROM runs WHERE status = 'RUNNING' AND name LIKE '% · wgan_gp'"  # store_keys.run_name
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as connection:
            return connection.execute(query).fetchone()[0] > 0
    except sqlite3.Error:
        return False


def test_postgresql_connections_killed_mid_trial_lose_nothing(tmp_path: Path) -> None:
    reason = postgres_skip_reason()
    if reason:
        pytest.skip(reason)
    config = write_config(tmp_path, **FAULT_SWEEP)
    with fresh_database("harness_test_kill") as database:
        storage = pg_url(database)
        sweep = start_sweep_cli(tmp_path, config, "--storage", storage)
        wait_for(lambda: running_child_run(tmp_path / "runs" / "mlflow.db"), what="a running trial")
        killed = 0
        for _ in range(5):  # the heartbeat thread, reports and the claim loop all lose their connections
            killed += kill_backends(database)
            time.sleep(0.3)
        _, err = sweep.communicate(timeout=300)
        assert killed > 0
        assert sweep.returncode in (0, 2), err  # recovered, or gave up with one line after the retries
        assert "Traceback" not in err
        rerun = run_sweep_cli(tmp_path, config, "--storage", storage)
        assert rerun.returncode == 0, rerun.stderr
        assert_exact(storage, f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}", tmp_path)
