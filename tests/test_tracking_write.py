"""The write side of MLflow: the start-up check of the tracking store, and a resume checkpoint that is gone."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.errors import UserError
from harness.tracking.write import check_reachable, client, download_checkpoint, tracking_retry


@pytest.fixture
def run_id(tmp_path: Path) -> tuple[str, str]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow = client(uri)
    experiment = mlflow.create_experiment("ckpt", artifact_location=(tmp_path / "artifacts").as_uri())
    return uri, mlflow.create_run(experiment).info.run_id


def test_a_missing_or_empty_resume_artifact_is_one_line_naming_it(run_id: tuple[str, str], tmp_path: Path) -> None:
    uri, run = run_id
    retry = tracking_retry(uri, attempts=2, backoff_seconds=0)
    with pytest.raises(UserError, match=r"^artifact resume/checkpoint-a.pt is missing$"):
        download_checkpoint(uri, run, "resume/checkpoint-a.pt", tmp_path / "dl", retry)
    (tmp_path / "checkpoint-a.pt").write_bytes(b"")
    client(uri).log_artifact(run, str(tmp_path / "checkpoint-a.pt"), "resume")
    with pytest.raises(UserError, match=r"^artifact resume/checkpoint-a.pt is empty \(0 bytes\)$"):
        download_checkpoint(uri, run, "resume/checkpoint-a.pt", tmp_path / "dl", retry)
    (tmp_path / "checkpoint-b.pt").write_bytes(b"weights")
    client(uri).log_artifact(run, str(tmp_path / "checkpoint-b.pt"), "resume")
    path = download_checkpoint(uri, run, "resume/checkpoint-b.pt", tmp_path / "dl", retry)
    assert path.read_bytes() == b"weights"


def test_the_reachability_check_creates_nothing(tmp_path: Path) -> None:
    check_reachable(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")  # SQLite: checked by the sweep's preflight
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UserError, match=r"^tracking.uri: cannot connect to postgresql\+psycopg2://postgres@127.0.0.1"):
        check_reachable("postgresql+psycopg2://postgres@127.0.0.1:1/test", timeout_s=2)
