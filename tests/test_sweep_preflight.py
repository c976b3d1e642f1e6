"""Preflight: every check before anything is written, and on success only the stores' folders exist."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness.core.errors import ConfigError, UserError
from harness.sweep.preflight import check_sqlite_store, preflight
from tests.conftest import tiny_experiment


def test_a_passing_preflight_creates_the_store_folders_and_nothing_else(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    exp = tiny_experiment(variants=["wgan_gp"], data={"name": "ring8"}, eval={"cache_dir": "cache"})
    preflight(exp, "sqlite:///runs/optuna.db", "sqlite:///tracking/mlflow.db")
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["runs", "tracking"]


def test_the_classifier_is_checked_before_any_store_and_may_fill_its_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    exp = tiny_experiment(variants=["wgan_gp"], eval={"classifier_min_accuracy": 0.9999})  # digits: about 99 %
    with pytest.raises(UserError, match="^eval.classifier_min_accuracy: the evaluation classifier for digits"):
        preflight(exp, "sqlite:///runs/optuna.db", "sqlite:///runs/mlflow.db")
    assert not (tmp_path / "runs").exists()  # the suite's shared classifier cache lives elsewhere


def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "mlflow.db") as connection:
        connection.execute("CREATE TABLE experiments (id INTEGER)")
    with pytest.raises(ConfigError, match=r"^sweep.storage: 'sqlite:///.*mlflow.db': is not Optuna's database: it "
                                          r"holds other tables \(experiments\)"):
        check_sqlite_store("sweep.storage", f"sqlite:///{tmp_path / 'mlflow.db'}")
    check_sqlite_store("tracking.uri", f"sqlite:///{tmp_path / 'mlflow.db'}")  # MLflow's own: fine
    (tmp_path / "empty.db").write_bytes(b"")
    check_sqlite_store("sweep.storage", f"sqlite:///{tmp_path / 'empty.db'}")  # an empty file is an empty database
