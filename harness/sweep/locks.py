"""A short critical section shared by every process of a sweep, through the storage it uses.

Study creation, queueing the budget and claiming a queued trial must each happen once, even
when several processes (or machines) start at the same instant. PostgreSQL provides that with
an advisory lock; a SQLite store lives on one machine, where a lock file beside it does the job.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
from collections.abc import Iterator
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


@contextmanager
def storage_lock(url: str, experiment: str, timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S) -> Iterator[None]:
    path = sqlite_path(url)
    if path is not None:
        with file_lock(path.with_name(path.name + ".lock")):
            yield
        return
    with advisory_lock(url, lock_key(experiment), timeout_s):
        yield


@contextmanager
def reading_lock(url: str, experiment: str, timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S) -> Iterator[None]:
    """The init lock for a read before anything is written: PostgreSQL's advisory lock (which leaves
    nothing behind), and no lock file beside a SQLite store, which a refused command must not create."""
    if sqlite_path(url) is not None:
        yield
        return
    with advisory_lock(url, lock_key(experiment), timeout_s):
        yield


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@functools.lru_cache(maxsize=4)
def lock_engine(url: str, timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S):  # noqa: ANN201 - sqlalchemy.Engine, lazily
    """An engine without a pool; a PostgreSQL connection gives up after `timeout_s` (libpq's default waits forever)."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    connect_args = {} if sqlite_path(url) is not None else {"connect_timeout": timeout_s}
    return sqlalchemy.create_engine(sqlalchemy_url(url), poolclass=NullPool, connect_args=connect_args)


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
        connection.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        yield
    except BaseException as exc:
        connection_cm.__exit__(type(exc), exc, exc.__traceback__)
        raise
    else:
        connection_cm.__exit__(None, None, None)
