"""Whether a store holds what its application keeps there, read without writing a byte.

A store may be empty (its application creates its tables on first use) or hold every table of that
application at the schema version the installed library expects. Anything else is refused before
anything writes into it: Optuna and MLflow would otherwise add their tables to another application's
database, half-create a damaged store, or migrate one written by another version. A table merely named
`studies` or `experiments` proves nothing, so the whole signature is compared: every table, and the row
of each version table.

The signatures themselves come from the installed libraries (Optuna's in `harness.report.load`,
MLflow's in `harness.tracking.read`); this module imports neither, only SQLAlchemy for PostgreSQL.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import ConfigError, first_line
from harness.stores.urls import redact, sqlalchemy_url, sqlite_path

ALEMBIC = "alembic_version"  # every Alembic-managed application keeps one: it tells no owner apart
SHOWN = 4  # table names quoted in a message


@dataclass(frozen=True)
class Version:
    """A table whose one row names the schema's version, the value this library expects there, and the older
    values that the owner's upgrade command migrates from."""

    table: str
    column: str
    expected: str
    older: frozenset[str] = frozenset()


def alembic_version(script: Any) -> Version:
    """The `alembic_version` row of an application whose migrations are `script` (an alembic ScriptDirectory)."""
    head = script.get_current_head()
    return Version(ALEMBIC, "version_num", head, frozenset(r.revision for r in script.walk_revisions()) - {head})


@dataclass(frozen=True)
class Signature:
    """What `owner`'s store holds: every one of `tables` (others may sit beside them), and `versions`."""

    owner: str  # "Optuna", "MLflow"
    tables: frozenset[str]
    versions: tuple[Version, ...]
    upgrade: str  # the owner's command that migrates an older store; "{url}" is the store's URL


@dataclass(frozen=True)
class Contents:
    """The tables of a store, and the values found in the version tables it has."""

    tables: tuple[str, ...]
    versions: dict[Version, tuple[str, ...]]


Query = Callable[[str], list[tuple[Any, ...]]]
TABLES_SQL = {"sqlite": "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
              "postgresql": "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"}


def read_contents(url: str, versions: tuple[Version, ...] = (), timeout_s: int = 10) -> Contents:
    """The store's tables and version rows, read-only: a missing SQLite file reads as empty and is not created.

    Raises sqlite3.Error for a file SQLite cannot read, and the driver's error for a database it cannot reach.
    """
    path = sqlite_path(url)
    if path is None:
        return database_contents(url, versions, timeout_s)
    return sqlite_contents(path, versions) if path.is_file() else Contents((), {})


def sqlite_contents(path: Path, versions: tuple[Version, ...] = ()) -> Contents:
    try:
        return sqlite_read(path, "mode=ro", versions)
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc):
            raise
        # A hot journal left by a writer killed mid-transaction (kill -9 of a sweep): a read-only
        # connection may not roll it back. Read the file as it stands (immutable: no lock, no journal);
        # the sweep's own first connection rolls the journal back, as SQLite always does.
        return sqlite_read(path, "mode=ro&immutable=1", versions)


def sqlite_read(path: Path, options: str, versions: tuple[Version, ...]) -> Contents:
    uri = f"{path.resolve().as_uri()}?{options}"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as connection:
        return contents(lambda sql: connection.execute(sql).fetchall(), "sqlite", versions)


def database_contents(url: str, versions: tuple[Version, ...], timeout_s: int) -> Contents:
    """A PostgreSQL database's contents, in a transaction that is rolled back (libpq would wait forever
    on a server that accepts and never answers: the connect timeout bounds it)."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    engine = sqlalchemy.create_engine(sqlalchemy_url(url), poolclass=NullPool,
                                      connect_args={"connect_timeout": timeout_s})
    try:
        with engine.connect() as connection:
            return contents(lambda sql: list(connection.execute(sqlalchemy.text(sql))), "postgresql", versions)
    finally:
        engine.dispose()


def contents(query: Query, dialect: str, versions: tuple[Version, ...]) -> Contents:
    tables = tuple(name for (name,) in query(TABLES_SQL[dialect]))
    present = [version for version in versions if version.table in tables]
    return Contents(tables, {version: version_values(query, version) for version in present})


def version_values(query: Query, version: Version) -> tuple[str, ...]:
    # Unquoted names: SQLite would read a quoted column that does not exist as a string literal.
    try:
        return tuple(str(value) for (value,) in query(f"SELECT {version.column} FROM {version.table}"))
    except Exception as exc:  # noqa: BLE001 - a table of that name without that column: not the owner's
        return (f"unreadable ({first_line(exc)})",)


def schema_problem(found: Contents, signature: Signature, shown_url: str) -> str | None:
    """Why a store holding `found` is not `signature.owner`'s at this version, or None (empty counts as fine).

    An older version comes first: it lacks the tables that later versions added.
    """
    owner, own = signature.owner, set(found.tables) & signature.tables
    if not found.tables:
        return None  # empty: the application creates its tables
    if not own - {ALEMBIC}:
        return f"is not {owner}'s database: it holds other tables ({quoted(list(found.tables))})"
    mismatched = [(version, found.versions[version]) for version in signature.versions
                  if version in found.versions and found.versions[version] != (version.expected,)]
    if older := [(version, values) for version, values in mismatched if set(values) <= version.older and values]:
        return (f"was written by an older version of {owner} ({version_found(*older[0])}): back it up, then "
                f"upgrade it with `{signature.upgrade.format(url=shown_url)}`")
    if missing := sorted(signature.tables - own):
        return (f"is not a whole {owner} database: it lacks {quoted(missing)} ({len(missing)} of {owner}'s "
                f"{len(signature.tables)} tables): another application's database, or a damaged store")
    if mismatched:
        return (f"was written by another version of {owner} ({version_found(*mismatched[0])}): open it with the "
                f"{owner} that wrote it, or use another store")
    return None


def version_found(version: Version, values: tuple[str, ...]) -> str:
    shown = ", ".join(repr(value) for value in values) or "empty"
    return f"{version.table}.{version.column} is {shown}, this one expects {version.expected!r}"


def quoted(names: list[str]) -> str:
    return ", ".join(names[:SHOWN]) + (", ..." if len(names) > SHOWN else "")


def check_schema(key: str, url: str, signature: Signature, timeout_s: int = 10) -> bool:
    """Raise a one-line ConfigError naming `key` and the store unless it is empty or whole and current;
    return whether it holds the application's tables."""
    shown = redact(url)
    try:
        found = read_contents(url, signature.versions, timeout_s)
    except sqlite3.Error as exc:
        raise ConfigError(key, f"{shown!r}: is not a readable SQLite database ({first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - driver errors of every kind (refused, timed out, no such database)
        raise ConfigError(key, f"{shown!r}: cannot read its tables ({first_line(exc)})") from None
    if problem := schema_problem(found, signature, shown):
        raise ConfigError(key, f"{shown!r}: {problem}")
    return bool(set(found.tables) & signature.tables)
