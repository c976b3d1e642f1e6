"""`gan-ablate launch slurm` on a real one-node Slurm cluster (tests/slurm_cluster.py): real job arrays, a real
time limit, a real scancel. Skipped, loudly, where slurm-wlm and munge are not installed or not root."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from optuna.trial import TrialState

from harness.stores.keys import study_names
from harness.stores.scheduler import SLURM_JOB_ID, SLURM_NODE
from harness.sweep.studies import slot_trials
from tests.services import fresh_database, mlflow_server, pg_url, postgres_skip_reason
from tests.slurm_cluster import SlurmCluster, slurm  # noqa: F401 - the session's cluster, a fixture
from tests.sweep_support import cli_env, mlflow_runs, read_only_rows, studies, write_config

pytestmark = pytest.mark.slow
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
# One variant, each run training for tens of seconds on one core, a checkpoint every 3 s to resume from.
LONG = {"train": {"steps": 24000, "log_every": 250, "eval_every": 6000, "sample_every": 12000,
                  "checkpoint_every_seconds": 3},
        "sweep": {"trials_per_variant": 0, "seeds": 1}, "variants": ["vanilla"]}


def long_config(folder: Path, trials: int = 0, seeds: int = 1) -> Path:
    """LONG, searching vanilla's one knob (n_critic) only: a knob that applies to no variant is an error."""
    config = write_config(folder, **{**LONG, "sweep": {"trials_per_variant": trials, "seeds": seeds}})
    raw = yaml.safe_load(config.read_text())
    del raw["sweep"]["space"]["lambda_gp"]
    config.write_text(yaml.safe_dump(raw))
    return config


def launch_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "harness.launch", "slurm", str(config), "--cpus-per-worker", "1",
            "--poll-seconds", "1", *args]


def launch(cluster: SlurmCluster, folder: Path, config: Path, *args: str, timeout: float = 240) -> Any:
    return subprocess.run(launch_command(config, *args), cwd=folder, env={**cli_env(), **cluster_env(cluster)},
                          capture_output=True, text=True, timeout=timeout)


def cluster_env(cluster: SlurmCluster) -> dict[str, str]:
    return {"SLURM_CONF": str(cluster.conf), "PATH": cluster.env()["PATH"]}


def job_id(stdout: str) -> str:
    found = re.search(r"^submitted Slurm array job (\d+)", stdout, re.MULTILINE)
    assert found, stdout
    return found.group(1)


def task_logs(folder: Path, job: str) -> dict[int, str]:
    logs = sorted((folder / "runs" / "slurm" / "e2e").glob(f"{job}_*.log"))
    return {int(path.stem.partition("_")[2]): path.read_text(errors="replace") for path in logs}


def assert_exact_budget(folder: Path, budget: int, seeds: int, variants: tuple[str, ...],
                        storage: str | None = None, tracking: str | None = None) -> list[Any]:
    """Every study holds exactly its budget of slot trials, all finished, none running or waiting, each with
    exactly one MLflow run: no trial ran twice, none was lost. Returns the trials' runs."""
    found = studies(folder, storage)
    runs = [r for r in mlflow_runs(folder, uri=tracking) if r.data.tags.get("harness.role") == "trial"]
    runs_by_id = Counter(r.info.run_id for r in runs)
    for variant in variants:
        for name, expected in zip(study_names("e2e", variant), (budget, seeds)):
            if expected == 0 and name not in found:  # sweep.seeds: 0 may leave no confirmation study
                continue
            trials = found[name].get_trials(deepcopy=False)
            slots = slot_trials(trials)
            assert len(slots) == expected and len({t.number for t in slots}) == expected, name
            assert all(t.state in FINISHED for t in slots), [t.state for t in slots]
            assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)], name
            assert all(runs_by_id[t.user_attrs["mlflow_run_id"]] == 1 for t in slots)
    return runs


def assert_tagged_with_tasks(runs: list[Any], job: str, node: str) -> None:
    """Each run names the array task and the node it ran on (harness.stores.scheduler, wired in tracking)."""
    tags = {(r.data.tags.get(f"harness.{SLURM_JOB_ID}"), r.data.tags.get(f"harness.{SLURM_NODE}")) for r in runs}
    assert tags <= {(f"{job}_0", node), (f"{job}_1", node)}, tags


def test_two_workers_finish_a_tiny_budget_exactly(slurm: SlurmCluster, tmp_path: Path) -> None:  # noqa: F811
    config = write_config(tmp_path)  # 2 variants x (3 search + 2 confirmation) runs of 40 steps, SQLite stores
    done = launch(slurm, tmp_path, config, "--workers", "2", "--single-node", "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    job = job_id(done.stdout)
    assert f"array {job}: exit 0 (the sweep is settled)" in done.stdout
    logs = task_logs(tmp_path, job)
    assert sorted(logs) == [0, 1]
    for task, log in logs.items():
        assert f"gan-ablate launch: task {task} of array job {job} on {slurm.node}, start 1" in log
        assert "sweep 'e2e' settled" in log, log
    runs = assert_exact_budget(tmp_path, budget=3, seeds=2, variants=("vanilla", "wgan_gp"))
    assert_tagged_with_tasks(runs, job, slurm.node)
    for log in logs.values():  # each progress line names the task that ran the run, whichever task prints it
        lines = re.findall(r"^\[\d+/10\] .*$", log, re.MULTILINE)
        assert len(lines) == 10 and all(re.search(rf" \(slurm {job}_[01] on {slurm.node}\);", line)
                                        for line in lines), lines


def test_the_warning_before_the_time_limit_requeues_the_trial_and_a_second_launch_finishes_exactly(
        slurm: SlurmCluster, tmp_path: Path) -> None:  # noqa: F811
    """--time 1 with --warn-seconds 10. slurmctld looks at time limits every 30 s or so and sends the warning
    at the first look within warn + 30 s of the limit: here 20 to 50 s after the start, while the one run
    (24,000 steps, a minute or so) trains; the limit itself would come at 60 to 90 s."""
    config = long_config(tmp_path)
    first = launch(slurm, tmp_path, config, "--workers", "1", "--single-node", "--wait", "--time", "1",
                   "--warn-seconds", "10")
    assert first.returncode == 143, first.stdout + first.stderr
    job = job_id(first.stdout)
    # FAILED with the sweep's own 143, not TIMEOUT: the warning reached the sweep (B: and exec), before the limit.
    assert f"task 0: FAILED on {slurm.node} (ExitCode 143:0), exit 143" in first.stdout, first.stdout
    assert f"array {job}: exit 143 (budget left: run the same command again to resume)" in first.stdout
    log = task_logs(tmp_path, job)[0]
    assert "confirm s1 · vanilla: interrupted" in log and "stopped by SIGTERM: finished trials are stored" in log, log
    states = [t.state for study in studies(tmp_path).values() for t in study.get_trials(deepcopy=False)]
    assert TrialState.RUNNING not in states and states.count(TrialState.WAITING) == 1, states  # re-queued at once

    second = launch(slurm, tmp_path, config, "--workers", "1", "--single-node", "--wait")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "resuming run" in task_logs(tmp_path, job_id(second.stdout))[0]  # from the trial's checkpoint
    assert_exact_budget(tmp_path, budget=0, seeds=1, variants=("vanilla",))


def running_trials(folder: Path) -> int:
    rows = read_only_rows(folder / "runs" / "optuna.db", "SELECT count(*) FROM trials WHERE state = 'RUNNING'")
    return rows[0][0] if rows else 0


def test_scancel_of_the_whole_array_makes_wait_exit_143_and_leaves_nothing_running(
        slurm: SlurmCluster, tmp_path: Path) -> None:  # noqa: F811
    config = long_config(tmp_path, trials=2, seeds=1)  # two search trials: both tasks train at once
    waiting = subprocess.Popen(launch_command(config, "--workers", "2", "--single-node", "--wait"), cwd=tmp_path,
                               env={**cli_env(), **cluster_env(slurm)}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        job = job_id(waiting.stdout.readline())  # launch prints the job id first, then follows the array
        deadline = time.monotonic() + 120
        while running_trials(tmp_path) < 2 and time.monotonic() < deadline:  # both tasks are training
            time.sleep(1)
        assert running_trials(tmp_path) == 2
        subprocess.run(["scancel", job], env=slurm.env(), check=True, timeout=30)
        out, err = waiting.communicate(timeout=120)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 143, out + err
    assert f"array {job}: exit 143" in out
    assert running_trials(tmp_path) == 0  # each task re-queued its trial before Slurm's KillWait ran out
    for log in task_logs(tmp_path, job).values():
        assert "stopped by SIGTERM" in log


def test_a_job_that_sbatch_refuses_is_one_line_exit_2_and_leaves_nothing(slurm: SlurmCluster,
                                                                         tmp_path: Path) -> None:  # noqa: F811
    config = write_config(tmp_path)
    done = launch(slurm, tmp_path, config, "--workers", "2", "--single-node", "--partition", "nosuch")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("error: sbatch refused the job, nothing was submitted: Batch job submission failed: "
                           "Invalid partition name specified\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.yaml"]


def test_two_workers_on_postgresql_and_an_mlflow_server_finish_exactly(slurm: SlurmCluster,
                                                                       tmp_path: Path) -> None:  # noqa: F811
    """The shape of a real cluster: the stores are services, no --single-node."""
    if reason := postgres_skip_reason():
        pytest.skip(reason)
    small = {"sweep": {"trials_per_variant": 2, "seeds": 1}, "variants": ["wgan_gp"]}
    config = write_config(tmp_path, **small)
    with fresh_database("launch_optuna") as optuna_db, fresh_database("launch_mlflow") as mlflow_db, \
            mlflow_server(pg_url(mlflow_db), tmp_path / "server") as server:
        storage = pg_url(optuna_db)
        done = launch(slurm, tmp_path, config, "--workers", "2", "--storage", storage, "--tracking-uri", server.url,
                      "--wait")
        assert done.returncode == 0, done.stdout + done.stderr
        runs = assert_exact_budget(tmp_path, budget=2, seeds=1, variants=("wgan_gp",), storage=storage,
                                   tracking=server.url)
        assert_tagged_with_tasks(runs, job_id(done.stdout), slurm.node)
