"""Faults mid-sweep: a real `mlflow server` stopped, PostgreSQL backends killed and a PostgreSQL server stopped,
runs/ turning read-only, a worker SIGKILLed, a resume checkpoint emptied or deleted.

The sweep must say what it waits for in one line per attempt (the root cause, never a traceback), give up
after `tracking.retries` / `sweep.storage_retries` with one line naming the URL, re-queue the trial, and
finish exactly on the rerun; a fault that the other workers absorb ends in exit 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from harness.stores.keys import study_names
from harness.sweep.studies import slot_trials
from tests.services import (admin_connection, fresh_database, mlflow_server, pg_url, postgres_skip_reason,
                            stop_group)
from tests.sweep_support import (cli_env, mlflow_runs, read_only_rows, run_sweep_cli, start_sweep_cli, sweep_command,
                                 write_config)
from tests.test_sweep_resume import CONFIRM_STUDY, STEPS, resume_config
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


HARNESS_LINES = ("waiting for ", "warning: ", "error: ")  # what the harness itself writes to stderr


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
    query = "SELECT count(*) FROM runs WHERE status = 'RUNNING' AND name LIKE '% · wgan_gp'"  # stores.keys.run_name
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
        # Optuna's and SQLAlchemy's own warnings (raw SQL, pool resets) are the harness's one line per retry
        assert [line for line in err.splitlines() if not line.startswith(HARNESS_LINES)] == [], err
        rerun = run_sweep_cli(tmp_path, config, "--storage", storage)
        assert rerun.returncode == 0, rerun.stderr
        assert_exact(storage, f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}", tmp_path)


# --- a resume checkpoint that is empty or gone ------------------------------------------------------------------

def committed_checkpoint(folder: Path) -> tuple[str, str] | None:
    """(run id, artifact path) of the last committed resume checkpoint."""
    rows = read_only_rows(folder / "runs" / "mlflow.db",
                          "SELECT run_uuid, value FROM tags WHERE key = 'harness.checkpoint'")
    return rows[0] if rows else None


def killed_after_a_checkpoint(folder: Path, config: Path) -> tuple[str, str]:
    sweep = start_sweep_cli(folder, config)
    found = wait_for(lambda: committed_checkpoint(folder) or sweep.poll() is not None, what="a committed checkpoint")
    os.killpg(sweep.pid, signal.SIGKILL)
    sweep.wait()
    assert found is not True, "the sweep ended before it committed a checkpoint"
    return committed_checkpoint(folder)


@pytest.mark.parametrize("damage", ["empty", "deleted"])
def test_a_resume_checkpoint_that_is_empty_or_gone_restarts_the_trial_with_one_warning(tmp_path: Path,
                                                                                       damage: str) -> None:
    config = resume_config(tmp_path)
    run_id, slot = killed_after_a_checkpoint(tmp_path, config)
    (artifact,) = (tmp_path / "runs" / "mlartifacts").rglob(f"{run_id}/artifacts/{slot}")
    if damage == "empty":
        artifact.write_bytes(b"")
    else:
        artifact.unlink()

    rerun = run_sweep_cli(tmp_path, config)
    assert rerun.returncode == 0, rerun.stderr
    assert "Traceback" not in rerun.stderr
    reason = "is empty (0 bytes)" if damage == "empty" else "is missing"
    assert [line for line in rerun.stderr.splitlines() if line.startswith("warning:")] == [
        f"warning: not resuming run {run_id}: artifact {slot} {reason}; the trial starts afresh"]
    dead, retry = optuna.load_study(study_name=CONFIRM_STUDY, storage=f"sqlite:///{tmp_path / 'runs' / 'optuna.db'}"
                                    ).trials
    assert dead.state == TrialState.FAIL and retry.state == TrialState.COMPLETE
    assert retry.user_attrs["steps_done"] == STEPS and "from its checkpoint" not in rerun.stderr  # from step 0
    statuses = {r.info.run_id: r.info.status for r in mlflow_runs(tmp_path)
                if r.data.tags.get("harness.role") == "trial"}
    assert statuses == {run_id: "KILLED", retry.user_attrs["mlflow_run_id"]: "FINISHED"}  # the budget is exact


# --- a worker killed while the other finishes the budget ------------------------------------------------------

def running_worker_pid(db: Path) -> int | None:
    """The process id of a worker with a RUNNING trial (the trial's `worker` attribute, host:pid)."""
    rows = read_only_rows(db, "SELECT a.value_json FROM trial_user_attributes a JOIN trials t ON a.trial_id = "
                              "t.trial_id WHERE t.state = 'RUNNING' AND a.key = 'worker'")
    return int(json.loads(rows[0][0]).rpartition(":")[2]) if rows else None


def test_a_worker_killed_while_the_other_finishes_the_budget_exits_0_and_finished(tmp_path: Path) -> None:
    from tests.test_sweep_cli import assert_exact_budget

    config = write_config(tmp_path, variants=["wgan_gp"], sweep={"trials_per_variant": 3, "seeds": 1},
                          train={"steps": 300, "eval_every": 100, "sample_every": 300, "n_critic": 1})
    sweep = start_sweep_cli(tmp_path, config, "--workers", "2")
    victim = wait_for(lambda: running_worker_pid(tmp_path / "runs" / "optuna.db"), what="a worker with a trial")
    assert victim != sweep.pid
    os.kill(victim, signal.SIGKILL)
    _, err = sweep.communicate(timeout=600)
    assert sweep.returncode == 0, err
    assert "exited with -9; the other workers finished the whole budget" in err and "Traceback" not in err
    assert_exact_budget(tmp_path, budget=3, seeds=1, variants=("wgan_gp",))
    parents = [r.info.status for r in mlflow_runs(tmp_path) if r.data.tags.get("harness.role") == "study"]
    assert parents == ["FINISHED"]


# --- runs/ turning read-only mid-sweep, for a user who is not root --------------------------------------------

def unprivileged(command: list[str], folder: Path) -> list[str]:
    """`command` as a user whom file permissions bind. As root: as `nobody`, in a mount namespace of its own where
    the interpreter's folders (e.g. under root's private home) are made visible to it. Skips when that is impossible."""
    if os.geteuid() != 0:
        return command
    if shutil.which("unshare") is None or shutil.which("runuser") is None:
        pytest.skip("RUNNING AS ROOT without unshare/runuser: the read-only runs/ test needs an unprivileged user")
    base = Path(sys.base_prefix).resolve()
    blocked = next((p for p in reversed(base.parents) if not p.stat().st_mode & 0o001), None)
    script = ""
    if blocked is not None:  # a private home: lay a traversable tmpfs over it and put the interpreter back
        stash = folder / ".interpreter"
        stash.mkdir()
        script = (f"mount --bind {base} {stash} && mount -t tmpfs -o mode=0755 tmpfs {blocked} && "
                  f"mkdir -p {base} && mount --bind {stash} {base} && ")
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in {**cli_env(), "HOME": str(folder)}.items()
                   if k in ("PYTHONPATH", "OMP_NUM_THREADS", "HOME", "PATH"))
    inner = f"{script}exec runuser -u nobody -- env {env} {' '.join(shlex.quote(c) for c in command)}"
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"NO MOUNT NAMESPACE ({probe.stderr.decode().strip()}): the read-only runs/ test is SKIPPED")
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", inner]


def test_runs_turning_read_only_mid_sweep_is_a_few_lines_then_the_rerun_finishes() -> None:
    folder = Path(tempfile.mkdtemp(prefix="harness-readonly-"))  # not under pytest's private tmp: nobody enters it
    try:
        folder.chmod(0o777)
        config = write_config(folder, **FAULT_SWEEP)
        (folder / "runs").mkdir()
        if os.geteuid() == 0:
            shutil.chown(folder / "runs", "nobody")
        command = unprivileged(sweep_command(config), folder)
        sweep = subprocess.Popen(command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 start_new_session=True)
        wait_for(lambda: running_trial_in(folder / "runs" / "optuna.db"), what="a running trial")
        (folder / "runs").chmod(0o555)
        for db in (folder / "runs").glob("*.db"):
            db.chmod(0o444)
        _, err = sweep.communicate(timeout=300)
        assert sweep.returncode == 2, err
        lines = err.splitlines()
        assert len(lines) <= 8 and "Traceback" not in err and "Exception in thread" not in err, err
        assert all(line.startswith(("waiting for ", "warning: ", "error: ")) for line in lines), err
        assert "readonly database" in lines[-1] and "autoflush" not in err, err  # the root cause, not the wrapper
        (folder / "runs").chmod(0o755)
        for db in (folder / "runs").glob("*.db"):
            db.chmod(0o644)
        rerun = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        assert_exact(f"sqlite:///{folder / 'runs' / 'optuna.db'}", f"sqlite:///{folder / 'runs' / 'mlflow.db'}",
                     folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- a PostgreSQL server stopped mid-sweep ----------------------------------------------------------------------

def test_a_postgresql_stopped_mid_trial_is_a_few_lines_then_the_rerun_finishes(tmp_path: Path) -> None:
    from tests.services import password_postgres, password_postgres_skip_reason, pg_ctl

    reason = password_postgres_skip_reason()
    if reason:
        pytest.skip(reason)
    config = write_config(tmp_path, **FAULT_SWEEP)
    with password_postgres() as server:
        storage = pg_url("postgres", user=server.user, port=server.port)
        env = {**cli_env(), "PGPASSWORD": server.password}
        sweep = subprocess.Popen(sweep_command(config, "--storage", storage), cwd=tmp_path, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        wait_for(lambda: running_child_run(tmp_path / "runs" / "mlflow.db"), what="a running trial")
        pg_ctl(server, "stop", "-m", "fast")
        started = time.monotonic()
        _, err = sweep.communicate(timeout=300)
        assert sweep.returncode == 2, err
        assert time.monotonic() - started < 120
        lines = err.splitlines()
        assert len(lines) <= 8 and "Traceback" not in err and "Exception in thread" not in err, err
        assert lines[-1].startswith(f"error: lost the Optuna storage at {storage} after 3 attempts"), err
        pg_ctl(server, "start")
        rerun = subprocess.run(sweep_command(config, "--storage", storage), cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        storage_with_password = pg_url("postgres", user=server.user, port=server.port, password=server.password)
        assert_exact(storage_with_password, f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}", tmp_path)
