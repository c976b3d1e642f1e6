"""Reading MLflow: runs, metric histories, artifacts, links; an absent store is a note, not a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness import tracking as runs
from tests.report_support import shared_stores


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    return shared_stores(tmp_path_factory)


def test_runs_are_read_with_their_harness_tags(stores: tuple) -> None:
    exp, _ = stores
    frame = runs.load_runs(exp.tracking.uri, exp.name)
    assert list(frame.columns) == runs.RUN_COLUMNS
    assert (frame.role == "study").sum() == 4 and (frame.role == "trial").sum() == 23
    assert set(frame[frame.role == "trial"].git_commit) == {"0123456789abcdef0123456789abcdef01234567"}
    assert runs.load_runs(exp.tracking.uri, "no-such-experiment").empty


def test_metric_history_and_artifacts_of_one_run(stores: tuple, tmp_path: Path) -> None:
    exp, _ = stores
    frame = runs.load_runs(exp.tracking.uri, exp.name)
    run_id = frame[(frame.variant == "vanilla") & (frame.stage == "confirm")].run_id.iloc[0]
    history = runs.metric_history(exp.tracking.uri, run_id, ["d_loss", "w1"])
    assert history[history.key == "d_loss"].step.tolist() == [10, 20, 30, 40]
    assert history[history.key == "w1"].step.tolist() == [20, 40]
    samples = runs.download_artifact(exp.tracking.uri, run_id, "samples.pt", tmp_path)
    assert torch.load(samples, weights_only=True).shape == (300, 2)
    assert runs.download_artifact(exp.tracking.uri, run_id, "absent.pt", tmp_path) is None


def test_a_missing_database_or_server_is_described_not_created(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert runs.tracking_problem(uri).startswith("no MLflow database at sqlite:///")
    assert not (tmp_path / "mlflow.db").exists()
    problem = runs.tracking_problem("http://user:s3cret@127.0.0.1:1", timeout_s=2)
    assert problem.startswith("cannot reach MLflow at http://user:***@127.0.0.1:1")


def test_links_only_for_a_tracking_server() -> None:
    assert runs.run_url("sqlite:///runs/mlflow.db", "1", "abc") is None
    assert runs.run_url("http://host:5000/", "3", "abc") == "http://host:5000/#/experiments/3/runs/abc"
