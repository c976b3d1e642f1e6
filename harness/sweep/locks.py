"""A short critical section shared by every process of a sweep, through the storage it uses.

Study creation, queueing the budget and claiming a queued trial must each happen once, even
when several processes (or machines) start at the same instant. PostgreSQL provides that with
an advisory lock; a SQLite store lives on one machine, where a lock file beside it does the job.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.core.errors import UserError, first_line
from harness.stores.urls import redact, sqlalchemy_url, sqlite_path

def lock_key(experiment: str) -> int:
    """The advisory-lock id of one experiment's sweeps: unrelated sweeps on one server never wait for
    each other. A signed 64-bit integer, as pg_advisory_xact_lock(bigint) takes."""
    digest = hashlib.sha256(f"gan-ablation-harness/{experiment}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


DEFAULT_CONNECT_TIMEOUT_S = 10  # sweep.connect_timeout_seconds's default
# The lock guards steps of a second or less (creating studies, queueing a budget, claiming a trial); one
# held far longer belongs to a process that is stuck or stopped (Ctrl-Z), which waiting will not fix.
LOCK_NOTICE_S = 3.0  # silent for a normal wait, one line for an unusual one
LOCK_LIMIT_S = 300.0  # then give up: exit 2, naming the lock and its holder
LOCK_POLL_S = 0.2


def lock_file(store: Path) -> Path:
    """The lock file beside a SQLite store: `optuna.db.lock`."""
    return store.with_name(store.name + ".lock")


@contextmanager
def storage_lock(url: str, experiment: str, timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S) -> Iterator[None]:
    path = sqlite_path(url)
    if path is not None:
        with file_lock(lock_file(path)):
            yield
        return
    with advisory_lock(url, lock_key(experiment), timeout_s):
        yield


@contextmanager
def reading_lock(url: str, experiment: str, timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S) -> Iterator[None]:
    """The init lock for a read before anything is written: PostgreSQL's advisory lock (which leaves
    nothing behind), or, beside a SQLite store, a shared hold of the lock file a sweep here made, if
    there is one: opened, never created, since a refused command must leave nothing behind."""
    path = sqlite_path(url)
    if path is None:
        with advisory_lock(url, lock_key(experiment), timeout_s):
            yield
        return
    lock = lock_file(path)
    try:
        handle = open(lock, "rb")  # noqa: SIM115 - closed below; a missing file is the common case
    except OSError:  # no lock file: no sweep has made the store's tables here yet
        yield
        return
    with handle:
        wait_for_lock(lambda: try_flock(handle, fcntl.LOCK_SH), f"the lock file {lock}", lambda: holder_of(lock))
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        wait_for_lock(lambda: try_flock(handle), f"the lock file {path}", lambda: holder_of(path))
        try:
            handle.truncate(0)  # who holds it, for the message of a sweep that waits
            handle.write(f"{socket.gethostname()}:{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def try_flock(handle: object, mode: int = fcntl.LOCK_EX) -> bool:
    try:
        fcntl.flock(handle, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def holder_of(path: Path) -> str:
    try:
        text = path.read_text().strip()
    except OSError:
        text = ""
    return f"process {text}" if text else "another process"


def wait_for_lock(acquire: Callable[[], bool], what: str, holder: Callable[[], str]) -> None:
    """Take a lock another sweep may hold: silently for a few seconds, then one line saying what it waits
    for, then a one-line error once `limit_s` has passed (never a silent wait of minutes)."""
    start, limit_s = time.monotonic(), LOCK_LIMIT_S
    announced = False
    while not acquire():
        waited = time.monotonic() - start
        if waited >= limit_s:
            raise UserError(f"{what} is still held by {holder()} after {limit_s:.0f}s; stop that process (or, "
                            "if it is gone, the lock is released with it) and run the same command again")
        if not announced and waited >= LOCK_NOTICE_S:
            print(f"waiting for {what}, held by {holder()} (giving up after {limit_s:.0f}s)",
                  file=sys.stderr, flush=True)
            announced = True
        time.sleep(LOCK_POLL_S)


@functools.lru_cache(maxsize=4)
def lock_engine(url: str, timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S):  # noqa: ANN201 - sqlalchemy.Engine, lazily
    """An engine without a pool; a PostgreSQL connection gives up after `timeout_s` (libpq's default waits forever)."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    connect_args = {} if sqlite_path(url) is not None else postgres_connect_args(timeout_s)
    return sqlalchemy.create_engine(sqlalchemy_url(url), poolclass=NullPool, connect_args=connect_args)


def postgres_connect_args(timeout_s: int) -> dict[str, int]:
    """libpq's bounds on a PostgreSQL connection: connecting gives up after `timeout_s` (its default waits
    forever), and an established connection whose server or network went silent is declared dead after
    about `timeout_s` too (TCP keepalive probes while waiting for an answer, and a limit on unacknowledged
    sends) instead of waiting for the kernel's two hours. A server that is alive but slow is not cut."""
    return {"connect_timeout": timeout_s, "keepalives": 1, "keepalives_idle": max(1, timeout_s // 2),
            "keepalives_interval": max(1, timeout_s // 6), "keepalives_count": 3,
            "tcp_user_timeout": timeout_s * 1000}


@contextmanager
def advisory_lock(url: str, key: int, timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S) -> Iterator[None]:
    """pg_advisory_xact_lock: held until this transaction ends, released even if the process dies."""
    import sqlalchemy

    try:
        connection_cm = lock_engine(url, timeout_s).begin()
        connection = connection_cm.__enter__()
    except Exception as exc:  # noqa: BLE001 - driver missing, refused, bad password, ...
        raise UserError(f"storage: cannot connect to {redact(url)} ({first_line(exc)})") from None
    try:
        try_lock = sqlalchemy.text("SELECT pg_try_advisory_xact_lock(:key)")
        wait_for_lock(lambda: bool(connection.execute(try_lock, {"key": key}).scalar()),
                      f"the sweep's lock in {redact(url)}", lambda: advisory_holder(connection, key))
        yield
    except BaseException as exc:
        connection_cm.__exit__(type(exc), exc, exc.__traceback__)
        raise
    else:
        connection_cm.__exit__(None, None, None)


def advisory_holder(connection: object, key: int) -> str:
    """The backend that holds the advisory lock, as pg_locks and pg_stat_activity tell it."""
    import sqlalchemy

    query = sqlalchemy.text(
        "SELECT a.pid, a.client_addr, a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND (l.classid::bigint << 32 | l.objid::bigint) = :key")
    try:
        row = connection.execute(query, {"key": key}).first()
    except Exception:  # noqa: BLE001 - only the message's detail is lost
        row = None
    return f"PostgreSQL backend {row[0]} (client {row[1] or 'local'})" if row else "another sweep"
