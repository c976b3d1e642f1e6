"""Storage/tracking URL helpers shared by the sweep, tracking and report."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING

from harness.core.errors import ConfigError

if TYPE_CHECKING:
    from harness.core.schema import ExperimentConfig

STORAGE_SCHEMES = ("sqlite:///", "postgresql://", "postgresql+psycopg2://")
TRACKING_SCHEMES = ("sqlite:///", "http://", "https://", "postgresql://", "postgresql+psycopg2://")
SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file
CONNECT_TIMEOUT_PARAM = "connect_timeout"  # libpq's, in whole seconds (it reads 1 as 2)


def redact(url: str) -> str:
    """The URL with any password replaced by ***: used everywhere a URL is printed or logged."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user, colon, _ = creds.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


def sqlalchemy_url(url: str) -> str:
    """The URL with the PostgreSQL driver this project installs: SQLAlchemy 2.1 maps a bare
    `postgresql://` to psycopg 3, which is not a dependency."""
    return "postgresql+psycopg2://" + url.removeprefix("postgresql://") if url.startswith("postgresql://") else url


def with_connect_timeout(url: str, seconds: int) -> str:
    """A PostgreSQL URL that gives up connecting after `seconds` (libpq waits forever by default, so a
    server that accepts TCP and never answers would hang the sweep); other URLs and one that sets its
    own `connect_timeout` unchanged. For MLflow, which builds its own engine from the URL."""
    if not url.startswith("postgresql") or f"{CONNECT_TIMEOUT_PARAM}=" in url.partition("?")[2]:
        return url
    return f"{url}{'&' if '?' in url else '?'}{CONNECT_TIMEOUT_PARAM}={seconds}"


def sqlite_path(url: str) -> Path | None:
    """The file behind a `sqlite:///` URL, or None for other URLs."""
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def absolute_sqlite(url: str) -> str:
    """A relative `sqlite:///runs/x.db` made absolute against the current folder; other URLs unchanged.

    Clients and engines are cached per URL: keyed by a relative path, a cached one would keep writing
    to the file of whatever folder was current when it was made.
    """
    path = sqlite_path(url)
    return f"sqlite:///{path.resolve()}" if path is not None and not path.is_absolute() else url


def check_url(path: str, url: str, schemes: tuple[str, ...]) -> None:
    """The URL's scheme is one of `schemes` and its parts make sense; a ConfigError naming `path` if not."""
    problem = text_problem(url)
    if problem:
        raise ConfigError(path, f"{redact(url)!r} {problem}")
    if not url.startswith(schemes):
        file_store = url.startswith("file:") or "://" not in url  # a folder of mlruns, as MLflow 2 kept them
        hint = " (MLflow 3's file store is in maintenance mode)" if "tracking" in path.lower() and file_store else ""
        raise ConfigError(path, f"{redact(url)!r} is not a supported URL{hint}; allowed: "
                                f"{', '.join(s + '...' for s in schemes)}")
    if url.startswith(("http://", "https://")) and "@" in url.partition("://")[2].partition("/")[0]:
        raise ConfigError(path, f"{redact(url)!r} carries credentials; MLflow reads them from "
                                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD instead")
    problem = sqlite_url_problem(url) if url.startswith("sqlite:///") else network_url_problem(url)
    if problem:
        raise ConfigError(path, f"{redact(url)!r} {problem}")


def text_problem(url: str) -> str | None:
    """Why a URL's characters cannot be meant: whitespace at an end or a control character (a newline, a NUL)
    would silently name another file or database (`sqlite:///runs/optuna.db ` creates 'optuna.db ')."""
    if url != url.strip():
        return f"{'starts' if url[:1].isspace() else 'ends'} in whitespace; remove it"
    bad = next((char for char in url if not char.isprintable()), None)
    if bad is not None:
        return f"contains the control character {bad!r}; allowed: printable characters only"
    return None


def sqlite_url_problem(url: str) -> str | None:
    """Why a `sqlite:///` URL names no usable database file (its folder is checked later, before use)."""
    path = url.removeprefix("sqlite:///")
    allowed = "allowed: sqlite:///path/to/file.db (relative to the current folder) or sqlite:////absolute/file.db"
    if path == ":memory:" or path.startswith("file:"):
        return f"is not a file that other processes and later runs can open; {allowed}"
    if "?" in path:
        return f"has a query string, which the harness does not pass on; {allowed}"
    if not path.strip("/") or path.endswith("/") or Path(path).name in (".", ".."):
        return f"names no database file; {allowed}"
    return None


def network_url_problem(url: str) -> str | None:
    """Why an http(s) or PostgreSQL URL cannot be right: no host (http), a port that is no number, junk."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises ValueError for a port that is no number or out of range
    except ValueError as exc:
        return f"is not a valid URL ({exc}); allowed: scheme://[user@]host[:port]/..."
    if url.startswith(("http://", "https://")):
        if not parts.hostname:
            return "names no host; allowed: http://host:port or https://host[:port]/[path]"
        if parts.query or parts.fragment:
            return "has a query or fragment, which MLflow would append its API paths to; leave it out"
    if port == 0:
        return "has port 0; allowed: 1 to 65535"
    return None


def resolve_urls(storage_flag: str | None, tracking_flag: str | None, exp: "ExperimentConfig") -> tuple[str, str]:
    """Optuna storage and MLflow tracking URLs: flag > $MLFLOW_TRACKING_URI (tracking only) > the YAML."""
    storage = storage_flag if storage_flag is not None else exp.sweep.storage
    env = os.environ.get("MLFLOW_TRACKING_URI")
    tracking = tracking_flag if tracking_flag is not None else env or exp.tracking.uri
    check_url("--storage" if storage_flag is not None else "sweep.storage", storage, STORAGE_SCHEMES)
    tracking_key = "--tracking-uri" if tracking_flag is not None else "$MLFLOW_TRACKING_URI" if env else "tracking.uri"
    check_url(tracking_key, tracking, TRACKING_SCHEMES)
    if absolute_sqlite(storage) == absolute_sqlite(tracking) or (
            storage.startswith("postgresql") and sqlalchemy_url(storage) == sqlalchemy_url(tracking)):
        raise ConfigError(tracking_key, f"{redact(tracking)!r} is also the Optuna storage; Optuna and MLflow each "
                                        "keep their own tables (both named alembic_version among others): give "
                                        "each its own file or database")
    return storage, tracking


def sqlite_file_problem(path: Path) -> str | None:
    """Why an existing file cannot be a SQLite store (a folder, text, ...); None when it is absent or fine.

    Read before anything opens it: SQLite itself would fail deep inside SQLAlchemy ("file is not a
    database"), and on a missing file it would create one.
    """
    if not path.exists():
        return "is a broken symlink" if path.is_symlink() else None
    if not path.is_file():
        return "is a folder, not a SQLite file" if path.is_dir() else "is not a regular file"
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    if head and head != SQLITE_HEADER:
        return f"is not a SQLite database (it starts with {head[:12]!r})"
    return None
