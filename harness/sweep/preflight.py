"""Every check that can fail before a sweep writes anything: device, data, services, paths, recipes.

A sweep that is going to stop with "no CUDA", "no MNIST under data/", "cannot reach MLflow" or
"cannot create runs/ under a file" must stop before the study, a queued trial or a parent run
exists; otherwise the next, corrected run inherits debris.
"""

from __future__ import annotations

from pathlib import Path

from harness.config import ExperimentConfig, resolve_run
from harness.data import load_dataset
from harness.device import resolve_device
from harness.errors import ConfigError, UserError, first_line
from harness.sweep.locks import lock_engine, storage_lock
from harness.sweep.recipe_guard import check_recipes, stored_recipe
from harness.sweep.studies import make_storage, study_names
from harness.tracking import check_reachable
from harness.urls import redact, sqlite_path


def preflight(exp: ExperimentConfig, storage_url: str, tracking_uri: str) -> None:
    """Raise a one-line UserError for the first problem found; on success only empty folders exist."""
    seen: set[tuple[str, str]] = set()
    for spec in exp.variants:
        run = resolve_run(exp, spec.name)
        key = (run.train.device, repr(run.data))
        if key in seen:
            continue
        seen.add(key)
        load_dataset(run.data, resolve_device(run.train.device))  # data present (never downloads unasked)
    check_reachable(tracking_uri)
    check_storage_reachable(storage_url)
    for key, url in (("sweep.storage", storage_url), ("tracking.uri", tracking_uri)):
        path = sqlite_path(url)
        if path is not None:
            make_folder(key, redact(url), path.parent)
    make_folder("eval.cache_dir", exp.eval.cache_dir, Path(exp.eval.cache_dir))
    check_stored_recipes(exp, storage_url)  # last: it may open (never change) an existing store


def check_stored_recipes(exp: ExperimentConfig, storage_url: str) -> None:
    """A resumed sweep must run the recipes its studies hold (harness.sweep.recipe_guard)."""
    if not holds_studies(storage_url):
        return  # a first run: no store (or no Optuna tables) yet, and none is created here
    # Under the sweep's init lock: opening an Optuna storage may create missing tables, and two
    # workers doing that at once on one PostgreSQL database collide.
    with storage_lock(storage_url, exp.name):
        storage = make_storage(storage_url, exp)
        stored = {spec.name: stored_recipe(storage, study_names(exp, spec.name)[0]) for spec in exp.variants}
    check_recipes(exp, stored, storage_url)


def holds_studies(storage_url: str) -> bool:
    """Whether the store already has Optuna's tables (read-only: it creates neither file nor table)."""
    import sqlalchemy

    path = sqlite_path(storage_url)
    if path is not None and not path.is_file():
        return False  # SQLite would create the file on connect
    return sqlalchemy.inspect(lock_engine(storage_url)).has_table("studies")


def check_storage_reachable(url: str) -> None:
    if sqlite_path(url) is not None:
        return
    try:
        with lock_engine(url).connect():
            pass
    except Exception as exc:  # noqa: BLE001 - driver missing, refused, bad password, ...
        raise UserError(f"storage: cannot connect to {redact(url)} ({first_line(exc)})") from None


def make_folder(key: str, shown: str, folder: Path) -> None:
    """Create the folder a store lives in; /proc, a read-only disk or a regular file in the way is one line."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if isinstance(exc, FileExistsError):
            reason = "a file is in the way"
        raise ConfigError(key, f"{shown!r}: cannot create the folder {str(folder)!r} ({reason})") from None
    probe = folder / ".harness-write-test"
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ConfigError(key, f"{shown!r}: the folder {str(folder)!r} is not writable ({exc.strerror})") from None
