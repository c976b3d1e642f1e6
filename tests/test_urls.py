"""URL helpers: redaction, driver mapping, relative SQLite paths, precedence and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.tracking import client
from harness.urls import absolute_sqlite, redact, resolve_urls, sqlalchemy_url
from tests.report_support import golden_config


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql+psycopg2://optuna:s3cret@db:5432/optuna", "postgresql+psycopg2://optuna:***@db:5432/optuna"),
    ("postgresql://optuna@db/optuna", "postgresql://optuna@db/optuna"),
    ("postgresql://u:p@ss:w@rd@db/x", "postgresql://u:***@db/x"),  # the last @ ends the credentials
    ("sqlite:///runs/optuna.db", "sqlite:///runs/optuna.db"),
])
def test_redact_hides_the_password_only(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_bare_postgresql_gets_the_installed_driver() -> None:
    assert sqlalchemy_url("postgresql://u@h/d") == "postgresql+psycopg2://u@h/d"
    assert sqlalchemy_url("postgresql+psycopg2://u@h/d") == "postgresql+psycopg2://u@h/d"


def test_relative_sqlite_is_made_absolute_against_the_current_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert absolute_sqlite("sqlite:///runs/mlflow.db") == f"sqlite:///{tmp_path.resolve() / 'runs' / 'mlflow.db'}"
    assert absolute_sqlite("sqlite:////abs/mlflow.db") == "sqlite:////abs/mlflow.db"
    assert absolute_sqlite("http://127.0.0.1:5000") == "http://127.0.0.1:5000"


def test_one_relative_uri_in_two_folders_reaches_two_stores(tmp_path: Path, monkeypatch) -> None:
    """The regression: a client cached by the relative URL kept writing to the first folder's file."""
    for name in ("a", "b"):
        (tmp_path / name / "runs").mkdir(parents=True)
        monkeypatch.chdir(tmp_path / name)
        client("sqlite:///runs/mlflow.db").create_experiment(f"exp-{name}")
    for name, other in (("a", "b"), ("b", "a")):
        monkeypatch.chdir(tmp_path / name)
        mlflow_client = client("sqlite:///runs/mlflow.db")
        assert mlflow_client.get_experiment_by_name(f"exp-{name}") is not None
        assert mlflow_client.get_experiment_by_name(f"exp-{other}") is None


def test_flag_beats_environment_beats_yaml(tmp_path: Path, monkeypatch) -> None:
    exp = golden_config(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert resolve_urls(None, None, exp) == (exp.sweep.storage, exp.tracking.uri)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5001")
    assert resolve_urls(None, None, exp)[1] == "http://127.0.0.1:5001"
    assert resolve_urls("sqlite:///x.db", "http://127.0.0.1:5002", exp) == ("sqlite:///x.db", "http://127.0.0.1:5002")


@pytest.mark.parametrize(("storage", "tracking", "message"), [
    ("mysql://db/x", None, "--storage: 'mysql://db/x' is not a supported URL"),
    (None, "file:///tmp/mlruns", "--tracking-uri: 'file:///tmp/mlruns' is not a supported URL (MLflow 3's file store"),
    (None, "http://me:pw@host:5000", "--tracking-uri: 'http://me:***@host:5000' carries credentials"),
])
def test_unsupported_urls_name_the_flag_and_hide_the_password(tmp_path: Path, storage, tracking, message) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_urls(storage, tracking, golden_config(tmp_path))
    assert str(info.value).startswith(message)
