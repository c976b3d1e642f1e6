"""Helpers for the end-to-end sweep tests: tiny configs, the real CLI, and reading the stores back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import deep_merge

REPO = Path(__file__).resolve().parent.parent

TINY_SWEEP: dict[str, Any] = {
    "name": "e2e",
    "seed": 0,
    "data": {"name": "ring8"},
    "model": {"width": 32, "depth": 2},
    "train": {"steps": 40, "batch_size": 64, "log_every": 10, "eval_every": 20, "sample_every": 20,
              "device": "cpu", "lr": 1e-3},
    "eval": {"num_samples": 300},
    "sweep": {"trials_per_variant": 3, "seeds": 2, "heartbeat_seconds": 1, "grace_seconds": 3,
              "storage": "sqlite:///runs/optuna.db", "report": False,
              "space": {"lambda_gp": {"low": 0.1, "high": 100.0, "log": True}, "n_critic": {"choices": [1, 2, 5]}}},
    "tracking": {"uri": "sqlite:///runs/mlflow.db"},
    "variants": ["vanilla", "wgan_gp"],
}


def write_config(folder: Path, **sections: Any) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(deep_merge(TINY_SWEEP, sections)))
    return path


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("MLFLOW_TRACKING_URI", None)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


def sweep_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "harness.sweep", str(config), *args]


def run_sweep_cli(folder: Path, config: Path, *args: str, timeout: float = 300,
                  stdout: Path | None = None) -> subprocess.CompletedProcess:
    """The CLI to its end; with `stdout`, its standard output goes to that file (as under nohup or a
    scheduler) and is read back into the result's `stdout`."""
    if stdout is None:
        return subprocess.run(sweep_command(config, *args), cwd=folder, env=cli_env(), capture_output=True,
                              text=True, timeout=timeout)
    with open(stdout, "w", encoding="utf-8") as out:
        done = subprocess.run(sweep_command(config, *args), cwd=folder, env=cli_env(), stdout=out,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)
    done.stdout = stdout.read_text(encoding="utf-8")
    return done


def start_sweep_cli(folder: Path, config: Path, *args: str) -> subprocess.Popen:
    """The CLI in its own process group, as a terminal would run it (Ctrl-C reaches the whole group)."""
    return subprocess.Popen(sweep_command(config, *args), cwd=folder, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def studies(folder: Path, storage: str | None = None) -> dict[str, Any]:
    import optuna

    url = storage or f"sqlite:///{folder / 'runs' / 'optuna.db'}"
    return {s.study_name: optuna.load_study(study_name=s.study_name, storage=url)
            for s in optuna.get_all_study_summaries(url)}


def mlflow_runs(folder: Path, experiment: str = "e2e", uri: str | None = None) -> list[Any]:
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(uri or f"sqlite:///{folder / 'runs' / 'mlflow.db'}")
    exp = client.get_experiment_by_name(experiment)
    return list(client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=5000))


def read_only_rows(db: Path, query: str) -> list[tuple] | None:
    """Rows of `query` on a store a sweep is writing, through a short-lived read-only connection (a poller must
    never hold a SQLite lock that stalls the sweep); None while the file is absent, mid-creation or busy."""
    import contextlib
    import sqlite3

    if not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as connection:
            return connection.execute(query).fetchall()
    except sqlite3.Error:
        return None
