"""The write side of MLflow: the start-up check of the tracking store, a resume checkpoint that is gone, parent
runs and their summaries as MLflow's runs table groups and sorts them, and a run's last picture on its page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harness.core.errors import UserError
from harness.stores import keys
from harness.tracking.write import (RunLogger, check_reachable, client, download_checkpoint, ensure_parent_run,
                                    log_summary, tracking_retry)
from harness.train.visualize import image_grid


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


@pytest.fixture
def experiment(tmp_path: Path) -> tuple[str, str]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return uri, client(uri).create_experiment("ui", artifact_location=(tmp_path / "artifacts").as_uri())


def test_a_parent_run_never_carries_the_variant_tag_and_an_older_one_loses_it(experiment: tuple[str, str]) -> None:
    """MLflow's runs table adds the parent of every run a search finds: with the variant's tag, Group by
    `harness.variant` counted it among the variant's seeds (2 seeds read 3)."""
    uri, exp = experiment
    older = client(uri).create_run(exp, run_name="wgan_gp", tags={  # as sweeps wrote it before
        "harness.study": "ui/wgan_gp", "harness.role": "study", "harness.variant": "wgan_gp"}).info.run_id
    assert ensure_parent_run(uri, exp, "ui/wgan_gp", "wgan_gp", {}) == older
    assert "harness.variant" not in client(uri).get_run(older).data.tags
    parent = ensure_parent_run(uri, exp, "ui/vanilla", "vanilla", {keys.OBJECTIVE: "w1"})
    run = client(uri).get_run(parent)
    assert run.info.run_name == "vanilla" and run.data.tags["harness.role"] == "study"
    assert "harness.variant" not in run.data.tags and run.data.tags["harness.objective"] == "w1"
    kept = ensure_parent_run(uri, exp, "ui/lsgan", "lsgan", {keys.VARIANT: "lsgan"})  # a caller's own choice
    assert ensure_parent_run(uri, exp, "ui/lsgan", "lsgan", {keys.VARIANT: "lsgan"}) == kept
    assert client(uri).get_run(kept).data.tags["harness.variant"] == "lsgan"


def test_the_summary_goes_on_the_parent_and_on_each_confirmation_run_it_is_over(experiment: tuple[str, str]) -> None:
    """So that the README's search for confirmation runs can be sorted, grouped and charted by it."""
    uri, exp = experiment
    parent, seed1, seed2, other = (client(uri).create_run(exp).info.run_id for _ in range(4))
    log_summary(uri, parent, {"summary/w1_mean": 0.5, "summary/w1_seeds": 2}, {keys.RANK: "1"}, [seed1, seed2])
    for run_id in (parent, seed1, seed2):
        assert client(uri).get_run(run_id).data.metrics == {"summary/w1_mean": 0.5, "summary/w1_seeds": 2}
    assert client(uri).get_run(parent).data.tags["harness.rank"] == "1"
    assert "harness.rank" not in client(uri).get_run(seed1).data.tags and client(uri).get_run(other).data.metrics == {}


def test_a_run_that_ends_shows_its_last_picture_in_its_description(experiment: tuple[str, str], tmp_path: Path) -> None:
    """MLflow's `samples` card prints the run's ~25 params above the picture; the description (the top of the
    run's Overview) shows it under the run's identity only, small enough for MLflow's 100 px fold."""
    from PIL import Image

    uri, exp = experiment
    logger = RunLogger(uri, exp, "parent", "confirm s1 · wgan_gp", {}, {"train.lr": 0.1, "seed": 1})
    images = torch.zeros(64, 1, 8, 8)
    logger.on_samples(20, image_grid(images) // 2, images)
    logger.on_samples(40, image_grid(images), images)  # the last one is shown
    logger.finish("FINISHED")
    run = client(uri).get_run(logger.run_id)
    url = f"get-artifact?path={{}}&run_uuid={logger.run_id}"
    assert run.data.tags["mlflow.note.content"] == (
        rf"**confirm s1 · wgan\_gp** · samples at step 40 "
        f"[![samples at step 40]({url.format('samples_preview.png')})]({url.format('samples.png')})")
    (tmp_path / "dl").mkdir()
    folder = Path(client(uri).download_artifacts(logger.run_id, "", str(tmp_path / "dl")))
    assert (np.asarray(Image.open(folder / "samples.png")) == image_grid(images)).all()
    assert np.asarray(Image.open(folder / "samples_preview.png")).shape == (76, 580, 3)  # 2 x 16 digits at 4x

    reopened = RunLogger.reopen(uri, logger.run_id, "resume/a.pt", 40)  # a resumed trial: its name is read back
    reopened.on_samples(60, image_grid(images), None)
    reopened.finish("FINISHED")
    assert client(uri).get_run(logger.run_id).data.tags["mlflow.note.content"].startswith(
        r"**confirm s1 · wgan\_gp** · samples at step 60 ")
