"""Storage/tracking URL helpers shared by the sweep, tracking and report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.schema import ExperimentConfig

STORAGE_SCHEMES = ("sqlite:///", "postgresql://", "postgresql+psycopg2://")
TRACKING_SCHEMES = ("sqlite:///", "http://", "https://", "postgresql://", "postgresql+psycopg2://")


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
    if not url.startswith(schemes):
        hint = " (MLflow 3's file store is in maintenance mode)" if "tracking" in path else ""
        raise ConfigError(path, f"{redact(url)!r} is not a supported URL{hint}; allowed: "
                                f"{', '.join(s + '...' for s in schemes)}")
    if url.startswith(("http://", "https://")) and "@" in url.partition("://")[2].partition("/")[0]:
        raise ConfigError(path, f"{redact(url)!r} carries credentials; MLflow reads them from "
                                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD instead")


def resolve_urls(storage_flag: str | None, tracking_flag: str | None, exp: "ExperimentConfig") -> tuple[str, str]:
    """Optuna storage and MLflow tracking URLs: flag > $MLFLOW_TRACKING_URI (tracking only) > the YAML."""
    storage = storage_flag or exp.sweep.storage
    tracking = tracking_flag or os.environ.get("MLFLOW_TRACKING_URI") or exp.tracking.uri
    check_url("--storage" if storage_flag else "sweep.storage", storage, STORAGE_SCHEMES)
    check_url("--tracking-uri" if tracking_flag else "tracking.uri", tracking, TRACKING_SCHEMES)
    return storage, tracking
