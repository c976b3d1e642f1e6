"""A trial killed mid-run resumes from its last checkpoint: same MLflow run, same final weights, bit for bit."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest
import torch
from optuna.trial import TrialState

from harness.stores.keys import study_names
from tests.sweep_support import mlflow_runs, run_sweep_cli, start_sweep_cli, studies, write_config

pytestmark = pytest.mark.slow
STEPS, EVERY = 300, 60
CONFIRM_STUDY = study_names("e2e", "wgan_gp")[1]


def resume_config(folder: Path) -> Path:
    """No search, one confirmation seed: the whole sweep is the trial that gets killed."""
    return write_config(folder, variants=["wgan_gp"], sweep={"trials_per_variant": 0, "seeds": 1},
                        train={"steps": STEPS, "log_every": 20, "eval_every": EVERY, "sample_every": STEPS,
                               "checkpoint_every": EVERY, "checkpoint_every_seconds": 0, "n_critic": 1,
                               "batch_size": 32})


def committed_step(folder: Path) -> int | None:
    """The step of the last committed mid-trial checkpoint, read with a short-lived read-only connection."""
    db = folder / "runs" / "mlflow.db"
    if not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as connection:
            rows = connection.execute("SELECT value FROM tags WHERE key = 'harness.checkpoint_step'").fetchall()
    except sqlite3.Error:
        return None
    return int(rows[0][0]) if rows else None


def final_weights(folder: Path, run_id: str) -> dict[str, torch.Tensor]:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{folder / 'runs' / 'mlflow.db'}")
    path = client.download_artifacts(run_id, "checkpoint.pt", str(folder))
    ckpt = torch.load(path, weights_only=True)
    return {**{f"G.{k}": v for k, v in ckpt["G"].items()}, **{f"D.{k}": v for k, v in ckpt["D"].items()}}


def test_sigkill_mid_trial_resumes_from_the_checkpoint_bit_for_bit(tmp_path: Path) -> None:
    killed_dir, straight_dir = tmp_path / "killed", tmp_path / "straight"
    killed_dir.mkdir()
    straight_dir.mkdir()
    sweep = start_sweep_cli(killed_dir, resume_config(killed_dir))
    deadline = time.monotonic() + 300
    while committed_step(killed_dir) is None and time.monotonic() < deadline and sweep.poll() is None:
        time.sleep(0.05)
    os.kill(sweep.pid, signal.SIGKILL)
    sweep.wait()
    saved_step = committed_step(killed_dir)
    assert saved_step is not None and 0 < saved_step < STEPS

    rerun = run_sweep_cli(killed_dir, resume_config(killed_dir))
    assert rerun.returncode == 0, rerun.stderr
    assert f"from its checkpoint at step {saved_step}" in rerun.stderr
    dead, retry = studies(killed_dir)[CONFIRM_STUDY].trials
    assert dead.state == TrialState.FAIL and retry.state == TrialState.COMPLETE
    run_id = retry.user_attrs["mlflow_run_id"]
    assert dead.user_attrs["mlflow_run_id"] == run_id  # the same MLflow run continues
    # The time accounting continued: every evaluation of the whole run is counted, not only the resumed part.
    assert retry.user_attrs["steps_done"] == STEPS and retry.user_attrs["evaluations"] == STEPS // EVERY
    run = next(r for r in mlflow_runs(killed_dir) if r.info.run_id == run_id)
    assert run.info.status == "FINISHED" and run.data.tags["harness.resumed_at_step"] == str(saved_step)
    assert run.data.tags["harness.outcome"] == "complete"

    done = run_sweep_cli(straight_dir, resume_config(straight_dir))
    assert done.returncode == 0, done.stderr
    (reference,) = studies(straight_dir)[CONFIRM_STUDY].trials
    expected = final_weights(straight_dir, reference.user_attrs["mlflow_run_id"])
    resumed = final_weights(killed_dir, run_id)
    assert expected.keys() == resumed.keys()
    assert [k for k in expected if not torch.equal(expected[k], resumed[k])] == []
    assert retry.value == reference.value


def test_curves_of_a_resumed_run_continue_from_the_saved_step(tmp_path: Path) -> None:
    """The report reads one value per step: a step trained again after the resume replaces the earlier one."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    from harness.tracking.write import metric_history

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("curves")).info.run_id
    before = [Metric("d_loss", float(step), 1000 + step, step) for step in (50, 100, 150)]
    after = [Metric("d_loss", -float(step), 5000 + step, step) for step in (150, 200)]  # resumed at 100
    client.log_batch(run_id, metrics=before + after)
    frame = metric_history(uri, run_id, ["d_loss"])
    assert frame.step.tolist() == [50, 100, 150, 200]
    assert frame.value.tolist() == [50.0, 100.0, -150.0, -200.0]
