"""Preflight: every check before anything is written, and on success only the stores' folders exist."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness.core.errors import ConfigError, UserError
from harness.sweep.preflight import check_sqlite_store, check_stores, preflight
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


def test_another_applications_database_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with sqlite3.connect(tmp_path / "mlflow.db") as connection:
        connection.execute("CREATE TABLE experiments (id INTEGER)")
    exp = tiny_experiment(variants=["wgan_gp"])
    with pytest.raises(ConfigError, match=r"^sweep.storage: 'sqlite:///mlflow.db': is not Optuna's database: it "
                                          r"holds other tables \(experiments\)"):
        check_stores(exp, "sqlite:///mlflow.db", "sqlite:///tracking.db")
    with pytest.raises(ConfigError, match=r"^tracking.uri: 'sqlite:///mlflow.db': is not a whole MLflow database: "
                                          r"it lacks alembic_version, assessments"):
        check_stores(exp, "sqlite:///optuna.db", "sqlite:///mlflow.db")
    (tmp_path / "empty.db").write_bytes(b"")
    check_stores(exp, "sqlite:///empty.db", "sqlite:///absent.db")  # an empty file is an empty database
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db", "mlflow.db"]


def test_a_store_file_this_user_may_not_write_is_refused(tmp_path: Path, monkeypatch) -> None:
    """Tests run as root, whom a chmod 444 does not stop (a read-only mount does: tests/test_store_boundary.py);
    here access(2) answers as it would for another user."""
    (tmp_path / "optuna.db").write_bytes(b"")
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    check_sqlite_store("sweep.storage", url)
    monkeypatch.setattr("os.access", lambda path, mode: Path(path).name != "optuna.db")
    with pytest.raises(ConfigError, match=r"^sweep.storage: 'sqlite:///.*optuna.db': is read-only "
                                          r"\(Permission denied\)$"):
        check_sqlite_store("sweep.storage", url)
