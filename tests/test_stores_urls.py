"""URL helpers: redaction, driver mapping, relative SQLite paths, precedence and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.tracking.write import client
from harness.stores.urls import (absolute_sqlite, redact, resolve_urls, sqlalchemy_url, sqlite_file_problem,
                                 with_connect_timeout)
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


@pytest.mark.parametrize(("url", "problem"), [
    ("sqlite:///", "names no database file"),
    ("sqlite:///runs/", "names no database file"),
    ("sqlite:///runs/..", "names no database file"),
    ("sqlite:///:memory:", "is not a file that other processes and later runs can open"),
    ("sqlite:///x.db?mode=ro", "has a query string"),
    ("postgresql://u@h:abc/db", "is not a valid URL (Port could not be cast"),
    ("postgresql://u@h:0/db", "has port 0"),
])
def test_a_storage_url_must_name_something_usable(tmp_path: Path, url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_urls(url, None, golden_config(tmp_path))
    assert str(info.value).startswith(f"--storage: {url!r} {problem}")


@pytest.mark.parametrize(("url", "problem"), [
    ("http://", "names no host"), ("https://h:70000", "is not a valid URL (Port out of range"),
    ("http://h:5000/?a=1", "has a query or fragment"),
])
def test_a_tracking_url_must_name_a_server(tmp_path: Path, monkeypatch, url: str, problem: str) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    with pytest.raises(ConfigError) as info:
        resolve_urls(None, None, golden_config(tmp_path))
    assert str(info.value).startswith(f"$MLFLOW_TRACKING_URI: {url!r} {problem}")  # named by where it came from


def test_one_store_for_both_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="--tracking-uri: 'sqlite:///one.db' is also the Optuna storage"):
        resolve_urls(f"sqlite:///{tmp_path / 'one.db'}", "sqlite:///one.db", golden_config(tmp_path))


def test_sqlite_files_are_told_apart_without_opening_them(tmp_path: Path) -> None:
    assert sqlite_file_problem(tmp_path / "absent.db") is None
    (tmp_path / "empty.db").write_bytes(b"")
    assert sqlite_file_problem(tmp_path / "empty.db") is None  # SQLite reads an empty file as an empty database
    assert sqlite_file_problem(tmp_path) == "is a folder, not a SQLite file"
    (tmp_path / "text.db").write_text("hello world, not a database")
    assert sqlite_file_problem(tmp_path / "text.db") == "is not a SQLite database (it starts with b'hello world,')"
    (tmp_path / "link.db").symlink_to(tmp_path / "gone.db")
    assert sqlite_file_problem(tmp_path / "link.db") == "is a broken symlink"


def test_the_connect_timeout_rides_in_a_postgresql_url_only() -> None:
    assert with_connect_timeout("postgresql+psycopg2://u@h/db", 10) == "postgresql+psycopg2://u@h/db?connect_timeout=10"
    assert with_connect_timeout("postgresql://u@h/db?sslmode=require", 3) == (
        "postgresql://u@h/db?sslmode=require&connect_timeout=3")
    assert with_connect_timeout("postgresql://u@h/db?connect_timeout=30", 3).endswith("connect_timeout=30")
    assert with_connect_timeout("sqlite:///x.db", 3) == "sqlite:///x.db"


@pytest.mark.parametrize(("url", "problem"), [
    ("sqlite:///runs/optuna.db ", "ends in whitespace; remove it"),  # would create 'optuna.db '
    ("sqlite:///runs/optuna.db\n", "ends in whitespace; remove it"),
    (" sqlite:///runs/optuna.db", "starts in whitespace; remove it"),
    ("sqlite:///runs/opt\tuna.db", "contains the control character '\\t'; allowed: printable characters only"),
    ("sqlite:///runs/x\x00.db", "contains the control character '\\x00'; allowed: printable characters only"),
    ("postgresql://u@h\x00/db", "contains the control character '\\x00'; allowed: printable characters only"),
    ("postgresql://u@h/db\x1b[2J", "contains the control character '\\x1b'; allowed: printable characters only"),
])
def test_whitespace_at_an_end_or_a_control_character_is_refused(tmp_path: Path, url: str, problem: str) -> None:
    """Issue 26: a trailing space or newline silently named another file; a NUL raised ValueError later."""
    exp = golden_config(tmp_path)
    for storage, tracking, key in ((url, None, "--storage"), (None, url, "--tracking-uri")):
        with pytest.raises(ConfigError) as info:
            resolve_urls(storage, tracking, exp)
        assert str(info.value) == f"{key}: {url!r} {problem}"
