"""Store folders checked without leaving anything behind; SQLite tables read without writing."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.sweep.paths import NAME_MAX, folder_problem, make_folder, sqlite_tables


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_folder_that_can_be_made_is_probed_and_not_made(tmp_path: Path) -> None:
    assert folder_problem(tmp_path / "runs" / "deeper") is None
    assert folder_problem(tmp_path) is None  # an existing one: written to once, the probe removed
    assert listing(tmp_path) == []


def test_a_folder_under_a_file_or_a_broken_link_or_proc_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("a file")
    assert folder_problem(tmp_path / "plain" / "runs") == (
        f"cannot create the folder '{tmp_path / 'plain' / 'runs'}': '{tmp_path / 'plain'}' is a file, not a folder")
    os.symlink(tmp_path / "gone", tmp_path / "dangling")
    assert "is a broken symlink" in folder_problem(tmp_path / "dangling" / "runs")
    assert folder_problem("/proc/harness/runs").startswith("cannot create the folder '/proc/harness/runs' in '/proc'")
    assert listing(tmp_path) == ["dangling", "plain"]


def test_a_name_too_long_for_the_file_system_is_found_before_mkdir(tmp_path: Path) -> None:
    problem = folder_problem(tmp_path / ("x" * (NAME_MAX + 1)) / "runs")
    assert problem is not None and f"longer than {NAME_MAX} bytes" in problem
    assert listing(tmp_path) == []


def test_make_folder_creates_it_or_says_why_not(tmp_path: Path) -> None:
    make_folder("sweep.storage", "sqlite:///x", tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    (tmp_path / "plain").write_text("x")
    with pytest.raises(ConfigError, match=r"^sweep.storage: 'sqlite:///x': cannot create .*a file is in the way"):
        make_folder("sweep.storage", "sqlite:///x", tmp_path / "plain")


def test_sqlite_tables_are_read_without_writing(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE studies (id INTEGER)")
    before = db.read_bytes()
    assert sqlite_tables(db) == ["studies"]
    assert db.read_bytes() == before and listing(tmp_path) == ["store.db"]
    (tmp_path / "damaged.db").write_bytes(b"SQLite format 3\x00" + b"x" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        sqlite_tables(tmp_path / "damaged.db")


def test_a_hot_journal_left_by_a_killed_writer_still_lists_the_tables(tmp_path: Path) -> None:
    """kill -9 of a sweep mid-transaction leaves a rollback journal that a read-only connection may not
    roll back ("attempt to write a readonly database"); the rerun must still recognise its own store."""
    import subprocess
    import sys

    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE experiments (id INTEGER)")
    killer = ("import os, signal, sqlite3; c = sqlite3.connect(r'%s'); c.execute('PRAGMA cache_size=1');"
              "c.execute('BEGIN');"
              "c.executemany('INSERT INTO experiments VALUES (?)', [(i,) for i in range(20000)]);"
              "c.execute('CREATE TABLE later (x)'); os.kill(os.getpid(), signal.SIGKILL)" % db)
    subprocess.run([sys.executable, "-c", killer], timeout=60)
    assert (tmp_path / "mlflow.db-journal").is_file()  # hot: the killed transaction is still to roll back
    with pytest.raises(sqlite3.OperationalError, match="readonly"):  # what the plain read-only open says
        with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as connection:
            connection.execute("SELECT name FROM sqlite_master").fetchall()
    before = db.read_bytes()
    assert sqlite_tables(db) == ["experiments"] or sqlite_tables(db) == ["experiments", "later"]
    assert db.read_bytes() == before and (tmp_path / "mlflow.db-journal").is_file()  # nothing written
