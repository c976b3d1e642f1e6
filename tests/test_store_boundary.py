"""Issue 26, trust at the edges: a store that does not hold its application's schema, a store that cannot
be written, a tracking service that does not answer as MLflow and a bad MLFLOW_* setting are each one line
(exit 2) from `python -m harness.sweep` and from `python -m harness.report`, and nothing is written: the
working folder (stores included) and a PostgreSQL store stay byte for byte as they were.

The commands run in-process as tests/bad_input_support runs them, on a copy of a settled sweep's runs/;
the read-only rows run as processes in a mount namespace of their own (a read-only bind mount stops even
root, which a chmod does not).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import harness.tracking.write  # noqa: F401 - its MLFLOW_* defaults are set before a test changes the variables
from tests.bad_input_support import Row, run_in_process, tree, unshare_skip_reason, write_config
from tests.services import database_rows, fresh_database, pg_url, postgres_skip_reason
from tests.sweep_support import cli_env
from tests.test_bad_inputs import settled_store  # noqa: F401 - the fixture: runs/ of a settled sweep of BASE

COMMANDS = ("sweep", "report")
STORAGE, TRACKING = "sweep.storage: 'sqlite:///runs/optuna.db': ", "tracking.uri: 'sqlite:///runs/mlflow.db': "


@pytest.fixture
def work(tmp_path: Path, settled_store: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    """A working folder with a copy of the settled sweep's runs/ and its config, as the current folder."""
    folder = tmp_path / "work"
    shutil.copytree(settled_store, folder / "runs", symlinks=True)
    write_config(folder / "sweep.yaml", Row("store boundary", ""), lambda text: text)
    monkeypatch.chdir(folder)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return folder


def run(command: str, folder: Path, capfd: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    return run_in_process(Row(command, "", command=command), [str(folder / "sweep.yaml"), *args], folder, capfd)


def assert_one_line(code: int, err: str, *expect: str) -> None:
    assert "Traceback" not in err and "Exception in thread" not in err, err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    assert all(part in err for part in expect), err


def assert_refused(command: str, folder: Path, capfd: pytest.CaptureFixture, expect: str | tuple[str, ...],
                   *args: str) -> None:
    """The command exits 2 with one line holding `expect`, and the folder (stores included) is unchanged."""
    before = tree(folder)
    assert_one_line(*run(command, folder, capfd, *args), *((expect,) if isinstance(expect, str) else expect))
    assert tree(folder) == before, "the command changed the folder"


def sqlite_execute(path: Path, *statements: str) -> None:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        for statement in statements:
            connection.execute(statement)
        connection.commit()


def foreign_sqlite(path: Path, *tables: str) -> None:
    """Another application's database in place of `path`, holding `tables` with a row each."""
    path.unlink()
    sqlite_execute(path, *(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, title TEXT)" for table in tables),
                   *(f"INSERT INTO {table} (title) VALUES ('theirs')" for table in tables))


# --- another application's database, part of the tables, another schema version -------------------------

FOREIGN = {  # a store of someone else's that happens to share a table name with the application
    "optuna.db": (("studies", "students"), STORAGE + "is not a whole Optuna database"),
    "mlflow.db": (("experiments", "runs", "metrics"), TRACKING + "is not a whole MLflow database"),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("store", FOREIGN)
def test_a_foreign_database_sharing_a_table_name_is_refused(store: str, command: str, work: Path, capfd) -> None:
    tables, expect = FOREIGN[store]
    foreign_sqlite(work / "runs" / store, *tables)
    assert_refused(command, work, capfd, expect)


PARTIAL = {  # a store that lost one of its application's tables
    "optuna.db": ("DROP TABLE trial_heartbeats", STORAGE + "is not a whole Optuna database: it lacks "
                                                           "trial_heartbeats"),
    "mlflow.db": ("DROP TABLE latest_metrics", TRACKING + "is not a whole MLflow database: it lacks latest_metrics"),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("store", PARTIAL)
def test_a_store_with_part_of_its_tables_is_refused(store: str, command: str, work: Path, capfd) -> None:
    statement, expect = PARTIAL[store]
    sqlite_execute(work / "runs" / store, statement)
    assert_refused(command, work, capfd, expect)


OLDER = "was written by an older version of {} (alembic_version.version_num is {}, this one expects "
OTHER = "was written by another version of {} ({} is {}, this one expects "
VERSIONS = {  # a store written by another version of its application
    "optuna alembic": ("optuna.db", "UPDATE alembic_version SET version_num = 'v3.0.0.d'",
                       STORAGE + OLDER.format("Optuna", "'v3.0.0.d'"), "`optuna storage upgrade --storage "),
    "optuna version_info": ("optuna.db", "UPDATE version_info SET schema_version = 11",
                            STORAGE + OTHER.format("Optuna", "version_info.schema_version", "'11'"), "'12'"),
    "mlflow alembic": ("mlflow.db", "UPDATE alembic_version SET version_num = '0584bdc529eb'",
                       TRACKING + OLDER.format("MLflow", "'0584bdc529eb'"), "`mlflow db upgrade sqlite:///runs/"),
    "mlflow unknown revision": ("mlflow.db", "UPDATE alembic_version SET version_num = 'ffffffffffff'",
                                TRACKING + OTHER.format("MLflow", "alembic_version.version_num", "'ffffffffffff'"),
                                "open it with the MLflow that wrote it"),
    "mlflow no revision": ("mlflow.db", "DELETE FROM alembic_version",
                           TRACKING + OTHER.format("MLflow", "alembic_version.version_num", "empty"),
                           "open it with the MLflow that wrote it, or use another store"),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", VERSIONS)
def test_a_store_of_another_schema_version_is_refused(case: str, command: str, work: Path, capfd) -> None:
    store, statement, *expect = VERSIONS[case]
    sqlite_execute(work / "runs" / store, statement)
    assert_refused(command, work, capfd, tuple(expect))


# --- the same on PostgreSQL ------------------------------------------------------------------------------

def pg_execute(database: str, *statements: str) -> list[tuple]:
    """Run `statements` on the database; the last one's rows."""
    import psycopg2

    with contextlib.closing(psycopg2.connect(pg_url(database, driver="postgresql"), connect_timeout=5)) as connection:
        connection.autocommit = True
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
            return cursor.fetchall() if cursor.description else []


def pg_state(database: str) -> tuple[list[tuple], list[tuple[str, str]]]:
    """The database's tables and every row of them."""
    tables = pg_execute(database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    with database_rows(database) as rows:
        return tables, sorted(rows)


@pytest.fixture
def database() -> Iterator[str]:
    if reason := postgres_skip_reason():
        pytest.skip(reason)
    with fresh_database("harness_test_boundary") as name:
        yield name


def optuna_tables_but(database: str, dropped: str) -> None:
    import optuna

    storage = optuna.storages.RDBStorage(pg_url(database))
    storage.engine.dispose()
    pg_execute(database, f"DROP TABLE {dropped}")


PG_CASES = {  # flag, what the database holds, the start of the line
    "storage: a foreign studies table": ("--storage", lambda db: pg_execute(
        db, "CREATE TABLE studies (id SERIAL PRIMARY KEY, title TEXT)", "INSERT INTO studies (title) VALUES ('x')"),
        "is not a whole Optuna database"),
    "storage: Optuna's tables but one": ("--storage", lambda db: optuna_tables_but(db, "trial_values"),
                                         "is not a whole Optuna database: it lacks trial_values"),
    "tracking: foreign experiments and runs": ("--tracking-uri", lambda db: pg_execute(
        db, "CREATE TABLE experiments (id SERIAL PRIMARY KEY, title TEXT)", "CREATE TABLE runs (id INTEGER)"),
        "is not a whole MLflow database"),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", PG_CASES)
def test_a_postgresql_store_that_is_not_the_applications_is_refused(case: str, command: str, database: str,
                                                                     work: Path, capfd) -> None:
    flag, setup, expect = PG_CASES[case]
    setup(database)
    url = pg_url(database)
    before = pg_state(database)
    assert_refused(command, work, capfd, f"{'sweep.storage' if flag == '--storage' else 'tracking.uri'}: "
                                         f"'{url}': {expect}", flag, url)
    assert pg_state(database) == before


# --- a store that cannot be written, and an artifacts folder that is a file -------------------------------

RO_SCRIPT = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
READ_ONLY = {  # what is bind-mounted read-only, and the line
    "optuna.db": ("runs/optuna.db", STORAGE + "is read-only (Read-only file system)"),
    "mlflow.db": ("runs/mlflow.db", TRACKING + "is read-only (Read-only file system)"),
    "runs/": ("runs", "the folder 'runs' is not writable (Read-only file system)"),
}


def run_read_only(folder: Path, target: str, *argv: str) -> subprocess.CompletedProcess:
    """`python -m <argv>` in `folder` with `target` bind-mounted read-only, in a mount namespace of its own."""
    command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", RO_SCRIPT, "sh", str(folder / target),
               sys.executable, "-m", *argv]
    return subprocess.run(command, cwd=folder, env=cli_env(), capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("target", READ_ONLY)
def test_a_read_only_store_is_refused_by_the_sweep(target: str, work: Path) -> None:
    if reason := unshare_skip_reason():
        pytest.skip(reason)
    path, expect = READ_ONLY[target]
    before = tree(work)
    done = run_read_only(work, path, "harness.sweep", "sweep.yaml")
    assert_one_line(done.returncode, done.stderr, expect)
    assert tree(work) == before


def test_the_report_reads_a_read_only_store(work: Path, tmp_path: Path) -> None:
    """The report only reads: stores on a read-only mount are fine, and the report goes where --out says."""
    if reason := unshare_skip_reason():
        pytest.skip(reason)
    done = run_read_only(work, "runs", "harness.report", "sweep.yaml", "--out", str(tmp_path / "report"))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert (tmp_path / "report" / "report.md").is_file()


def test_an_artifacts_folder_that_is_a_file_is_refused(work: Path, capfd) -> None:
    shutil.rmtree(work / "runs" / "mlartifacts")
    (work / "runs" / "mlartifacts").write_text("not a folder\n")
    assert_refused("sweep", work, capfd, (TRACKING + "for its artifacts, cannot create the folder ",
                                          "mlartifacts' is a file, not a folder"))


# --- a tracking service that does not answer as MLflow ---------------------------------------------------

Answer = Callable[[socket.socket, threading.Event], None]


@contextlib.contextmanager
def tcp_server(answer: Answer) -> Iterator[str]:
    """http://127.0.0.1:<port> of a server that reads each request and lets `answer` reply (or not)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def handle(connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            connection.settimeout(2)
            connection.recv(1 << 16)
            answer(connection, stop)

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                threading.Thread(target=handle, args=(listener.accept()[0],), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        time.sleep(0.3)
        listener.close()


def empty_json(connection: socket.socket, stop: threading.Event) -> None:
    """200 {} to everything: JSON, but not MLflow's."""
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                       b"Connection: close\r\n\r\n{}")


def garbage(connection: socket.socket, stop: threading.Event) -> None:
    """Bytes that are not HTTP, then the connection closes."""
    connection.sendall(b"\x00\x17\x03garbage, not HTTP\r\n\r\n")


def trickle(connection: socket.socket, stop: threading.Event) -> None:
    """Headers, then a byte every half second for 12 s: every read gets something, the body never ends."""
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(24):
        if stop.wait(0.5):
            return
        connection.sendall(b" ")


SERVERS = {"200 {} to everything": (empty_json, "is it an MLflow tracking server"),
           "bytes that are not HTTP": (garbage, "is it an MLflow tracking server")}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("server", SERVERS)
def test_a_tracking_server_that_is_not_mlflow_is_refused(server: str, command: str, work: Path, capfd) -> None:
    answer, expect = SERVERS[server]
    with tcp_server(answer) as url:
        assert_refused(command, work, capfd, (f"tracking.uri: {url} ", expect), "--tracking-uri", url)


@pytest.mark.timeout(60)
def test_a_server_that_never_finishes_its_answer_is_cut_at_the_connect_timeout(work: Path, capfd) -> None:
    with tcp_server(trickle) as url:
        started = time.monotonic()
        code, err = run("sweep", work, capfd, "--tracking-uri", url, "--set", "tracking.connect_timeout_seconds=2")
        elapsed = time.monotonic() - started
    assert elapsed < 6, (elapsed, err)  # not the 12 s the body trickles for
    assert_one_line(code, err, f"tracking.uri: cannot reach MLflow at {url} (timed out")


# --- MLflow's own settings ---------------------------------------------------------------------------------

ENVIRONMENT = {  # variable, value, the line
    "retries not a number": ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "abc", "$MLFLOW_HTTP_REQUEST_MAX_RETRIES: 'abc' "),
    "timeout negative": ("MLFLOW_HTTP_REQUEST_TIMEOUT", "-1", "$MLFLOW_HTTP_REQUEST_TIMEOUT: '-1' "),
    "timeout not a number": ("MLFLOW_HTTP_REQUEST_TIMEOUT", "abc", "$MLFLOW_HTTP_REQUEST_TIMEOUT: 'abc' "),
    "retries over MLflow's limit": ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "99", "$MLFLOW_HTTP_REQUEST_MAX_RETRIES: '99' "),
    "a boolean that is not one": ("MLFLOW_ENABLE_ASYNC_LOGGING", "maybe", "$MLFLOW_ENABLE_ASYNC_LOGGING: 'maybe' "),
    "tracking URI garbage": ("MLFLOW_TRACKING_URI", "\x01garbage", "$MLFLOW_TRACKING_URI: "),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", ENVIRONMENT)
def test_a_bad_mlflow_setting_is_one_line_naming_it(case: str, command: str, work: Path, capfd,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    name, value, expect = ENVIRONMENT[case]
    monkeypatch.setenv(name, value)
    assert_refused(command, work, capfd, expect)
