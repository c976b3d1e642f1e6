"""The storage lock: one PostgreSQL advisory-lock key per experiment, so unrelated sweeps never wait on each other."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from harness.core.errors import UserError
from harness.sweep import locks
from harness.sweep.locks import lock_key, reading_lock, storage_lock
from tests.services import PG_HOST, PG_PORT, PG_USER, fresh_database, pg_url, postgres_skip_reason


def test_lock_keys_are_per_experiment_stable_and_fit_a_bigint() -> None:
    assert lock_key("digits-ablation") == lock_key("digits-ablation")
    assert lock_key("digits-ablation") != lock_key("toy-ring8")
    assert all(-(2**63) <= lock_key(name) < 2**63 for name in ("a", "b", "digits-ablation"))


def test_a_read_of_a_sqlite_store_makes_no_lock_file_and_a_write_does(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    with reading_lock(url, "ablation-a"):
        pass
    assert list(tmp_path.iterdir()) == []  # a refused command must leave no optuna.db.lock behind
    with storage_lock(url, "ablation-a"):
        pass
    assert [p.name for p in tmp_path.iterdir()] == ["optuna.db.lock"]


def test_a_sweep_holds_only_its_own_experiments_lock() -> None:
    reason = postgres_skip_reason()
    if reason:
        pytest.skip(reason)
    import psycopg2

    with fresh_database("harness_test_lock") as database:
        other = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=database)  # locks are per database
        try:
            with storage_lock(pg_url(database), "ablation-a"), other.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s), pg_try_advisory_xact_lock(%s)",
                               (lock_key("ablation-b"), lock_key("ablation-a")))
                free_b, free_a = cursor.fetchone()
                other.rollback()
        finally:
            other.close()
    assert free_b is True and free_a is False


# --- issue 26: a held lock is a wait that says so and ends ------------------------------------------------

HOLD_SCRIPT = """
import sys, time
from harness.sweep.locks import storage_lock
with storage_lock(sys.argv[1], "ablation-a"):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def short_lock_limit(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(locks, "LOCK_NOTICE_S", 0.5)
    monkeypatch.setattr(locks, "LOCK_LIMIT_S", 3.0)
    return 3.0


def held_elsewhere(url: str) -> subprocess.Popen:
    """Another process (another sweep, as far as the lock knows) that holds the experiment's lock."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_SCRIPT, url], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_lock_held_by_another_process_is_announced_then_given_up(kind: str, tmp_path, short_lock_limit, capsys,
                                                                   request) -> None:
    if kind == "postgresql" and (reason := postgres_skip_reason()):
        pytest.skip(reason)
    database = request.getfixturevalue("lock_database") if kind == "postgresql" else None
    url = pg_url(database) if database else f"sqlite:///{tmp_path / 'optuna.db'}"
    holder = held_elsewhere(url)
    try:
        started = time.monotonic()
        with pytest.raises(UserError) as refused, storage_lock(url, "ablation-a"):
            pass
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("waiting for ") and "giving up after 3s" in err  # said once
    message = str(refused.value)
    assert "\n" not in message and "still held by" in message and "after 3s" in message
    assert f":{holder.pid}" in message if kind == "sqlite" else "PostgreSQL backend" in message  # who holds it
    assert short_lock_limit <= waited < short_lock_limit + 5
    with storage_lock(url, "ablation-a"):  # the holder is gone: its lock went with it
        pass


@pytest.fixture
def lock_database() -> Iterator[str]:
    with fresh_database("harness_test_lock_wait") as database:
        yield database


def test_a_short_wait_says_nothing(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    with storage_lock(url, "ablation-a"):
        pass
    assert capsys.readouterr().err == ""


def test_a_postgresql_connection_has_bounds_on_connecting_and_on_a_silent_server() -> None:
    if reason := postgres_skip_reason():
        pytest.skip(reason)
    import sqlalchemy

    engine = locks.lock_engine(pg_url("test"), 6)
    with engine.connect() as connection:  # libpq accepts every parameter (a misspelt one refuses to connect)
        assert connection.execute(sqlalchemy.text("SELECT 1")).scalar() == 1
    assert locks.postgres_connect_args(6) == {"connect_timeout": 6, "keepalives": 1, "keepalives_idle": 3,
                                              "keepalives_interval": 1, "keepalives_count": 3,
                                              "tcp_user_timeout": 6000}


def test_the_stores_are_read_under_the_lock_file_of_a_sweep_that_is_making_them(tmp_path: Path) -> None:
    """A sweep starting beside one that is creating its tables waits for it, instead of reading a half-made
    store as a damaged one; with no lock file there, none is made."""
    import fcntl
    import threading

    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    with reading_lock(url, "tiny", 5):
        pass
    assert list(tmp_path.iterdir()) == []
    entered = threading.Event()

    def read_under_the_lock() -> None:
        with reading_lock(url, "tiny", 5):
            entered.set()

    with open(tmp_path / "optuna.db.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # what storage_lock holds while a sweep makes its tables
        reader = threading.Thread(target=read_under_the_lock)
        reader.start()
        assert not entered.wait(0.5)
        fcntl.flock(held, fcntl.LOCK_UN)
        assert entered.wait(5)
        reader.join()
