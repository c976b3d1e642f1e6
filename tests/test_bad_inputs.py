"""Issue 21's regression table: every bad input is one line on stderr, the documented exit code, no
traceback, and writes nothing, in an empty folder and in one that holds a settled sweep's stores.

The rows are in tests/bad_input_rows.py; tests/bad_input_support.py runs them (in-process, except the
few where a real process matters) and snapshots the file tree and every store's row counts.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.bad_input_rows import ISSUE_ROWS, ROWS
from tests.bad_input_support import (BASE, Row, Services, command_line, pg_rows, run_as_process, run_in_process,
                                     sqlite_row_counts, tree, write_config)
from tests.conftest import deep_merge

WHERE = ("empty folder", "pre-existing store")


@pytest.fixture(scope="session")
def services():
    started = Services()
    yield started
    started.close()


@pytest.fixture(scope="session")
def settled_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runs/ of a settled sweep of BASE: the store a bad input must leave exactly as it was."""
    import yaml

    from harness.sweep.__main__ import main

    folder = tmp_path_factory.mktemp("settled")
    config = folder / "sweep.yaml"
    config.write_text(yaml.safe_dump(deep_merge(BASE, {"sweep": {"trials_per_variant": 0}})))  # one run: a seed
    previous = Path.cwd()
    os.chdir(folder)
    try:
        assert main([str(config)]) == 0
    finally:
        os.chdir(previous)
    counts = sqlite_row_counts(folder)
    # a parent, a trial and the experiment's real-data run
    assert counts["runs/optuna.db:trials"] == 1 and counts["runs/mlflow.db:runs"] == 3
    return folder / "runs"


def prepare(row: Row, where: str, tmp_path: Path, services: Services, settled_store: Path) -> tuple[Path, list[str]]:
    for need in row.needs:
        services.require(need)
    folder = tmp_path / "work"
    folder.mkdir()
    if where == "pre-existing store":
        shutil.copytree(settled_store, folder / "runs", symlinks=True)
    config = folder / "sweep.yaml"
    write_config(config, row, lambda text: services.text(text, folder, config))
    if row.setup:
        row.setup(folder)
    return folder, command_line(row, services, folder, config)


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_a_bad_input_is_one_line_and_writes_nothing(row: Row, where: str, tmp_path: Path, services: Services,
                                                     settled_store: Path, capfd: pytest.CaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    folder, argv = prepare(row, where, tmp_path, services, settled_store)
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend(str(folder))  # the row's plugins, as `python -m` from this folder finds them
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for key, value in row.env.items():
        monkeypatch.setenv(key, value)
    files, counts, database = tree(folder), sqlite_row_counts(folder), pg_rows(services, argv)

    code, err = run_as_process(row, argv, folder) if row.process else run_in_process(row, argv, folder, capfd)

    assert "Traceback" not in err and "Exception in thread" not in err, err
    assert code == row.code, err
    assert err.count("\n") == 1 and err.startswith("error: " if row.code else "warning: "), err
    assert row.expect in err, err
    assert tree(folder) == files, "the command changed the folder"
    assert sqlite_row_counts(folder) == counts and pg_rows(services, argv) == database


def test_the_table_covers_every_case_of_the_issue_and_then_some() -> None:
    names = Counter(row.name for row in ROWS)
    assert [name for name, count in names.items() if count > 1] == []
    assert len(ROWS) >= 250
    issue = [row.name for row in ISSUE_ROWS]
    assert len(issue) >= 40 and all(name.startswith("issue: ") for name in issue)
    for section in ("data.", "model.", "train.", "eval.", "sweep.", "tracking.", "plugins", "variants", "--storage",
                    "--tracking-uri", "$MLFLOW_TRACKING_URI", "--workers", "folder:", "space:", "gan-ablate",
                    "train:", "report:"):
        assert sum(row.name.startswith(section) for row in ROWS) >= 3, section


def test_a_hang_is_cut_by_the_connect_timeout(services: Services, tmp_path: Path, capfd, monkeypatch,
                                               settled_store: Path) -> None:
    """A PostgreSQL that accepts TCP and never answers: the check gives up after connect_timeout_seconds."""
    (row,) = [r for r in ISSUE_ROWS if r.name == "issue: storage on a port that never answers"]
    folder, argv = prepare(row, WHERE[0], tmp_path, services, settled_store)
    monkeypatch.chdir(folder)
    started = time.monotonic()
    code, err = run_in_process(row, argv, folder, capfd)
    assert code == 2 and "timeout expired" in err
    assert 1.5 < time.monotonic() - started < 15  # libpq's 2 s, not forever
