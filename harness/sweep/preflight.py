"""Every check that can fail before a sweep writes anything: device, data, services, store files and
folders, stored recipes, and the evaluation classifier's accuracy.

A sweep that is going to stop with "no CUDA", "no MNIST under data/", "cannot reach MLflow", "cannot
create runs/ under a file" or "the classifier is too weak" must stop before a study, a queued trial, a
parent run, a lock file or even the empty `runs/` folder exists; otherwise the next, corrected run
inherits debris. Only the evaluation classifier's cache (under `eval.cache_dir`) may be written: it is
the yardstick, not a store, and the next run reuses it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from harness.config.resolve import ExperimentConfig, resolve_run
from harness.data import dataset_entry, load_dataset
from harness.train.device import resolve_device
from harness.core.errors import ConfigError, UserError, first_line
from harness.metrics import Evaluator
from harness.sweep.notices import slow_step
from harness.sweep.locks import lock_engine, reading_lock
from harness.sweep.paths import folder_problem, make_folder, sqlite_tables
from harness.sweep.recipe_guard import check_recipes, stored_recipe
from harness.sweep.studies import make_storage, study_names
from harness.tracking.write import check_reachable
from harness.stores.urls import redact, sqlite_file_problem, sqlite_path

# A table each store's own application creates first: a SQLite file with tables but without this one
# belongs to something else (MLflow's database given as the Optuna storage, or the other way round).
OWN_TABLES = {"sweep.storage": ("studies", "Optuna"), "tracking.uri": ("experiments", "MLflow")}


def preflight(exp: ExperimentConfig, storage_url: str, tracking_uri: str) -> None:
    """Raise a one-line UserError for the first problem found; on success the stores' folders exist."""
    check_data(exp)
    check_reachable(tracking_uri, exp.tracking.connect_timeout_seconds)
    check_storage_reachable(storage_url, exp.sweep.connect_timeout_seconds)
    urls = {"sweep.storage": storage_url, "tracking.uri": tracking_uri}
    for key, url in urls.items():
        check_sqlite_store(key, url)
    if problem := folder_problem(exp.eval.cache_dir):
        raise ConfigError("eval.cache_dir", f"{exp.eval.cache_dir!r}: {problem}")
    check_stored_recipes(exp, storage_url)  # it may open (never change) an existing store
    check_classifiers(exp)  # last of the checks: it may train for minutes, and may write eval.cache_dir
    for key, url in urls.items():
        if (path := sqlite_path(url)) is not None:
            make_folder(key, redact(url), path.parent)


def check_data(exp: ExperimentConfig) -> None:
    """The device exists and each distinct dataset loads (never downloads unasked)."""
    seen: set[tuple[str, str]] = set()
    for spec in exp.variants:
        run = resolve_run(exp, spec.name)
        key = (run.train.device, repr(run.data))
        if key not in seen:
            seen.add(key)
            load_dataset(run.data, resolve_device(run.train.device))


def check_sqlite_store(key: str, url: str) -> None:
    """A SQLite store's file is absent or a database of its own application, and its folder can be made."""
    path = sqlite_path(url)
    if path is None:
        return
    problem = sqlite_file_problem(path) or folder_problem(path.parent)
    if problem is None and path.is_file():
        problem = foreign_database(path, *OWN_TABLES[key])
    if problem:
        raise ConfigError(key, f"{redact(url)!r}: {problem}")


def foreign_database(path: Path, table: str, owner: str) -> str | None:
    """Why an existing SQLite file is not `owner`'s store (damaged, or another application's), or None."""
    try:
        tables = sqlite_tables(path)
    except sqlite3.Error as exc:
        return f"is not a readable SQLite database ({first_line(exc)})"
    if tables and table not in tables:
        return f"is not {owner}'s database: it holds other tables ({', '.join(tables[:4])})"
    return None


def check_classifiers(exp: ExperimentConfig) -> None:
    """Train or load each distinct evaluation classifier and check its accuracy, before any store exists.

    Metrics set their yardstick up in `Evaluator.prepare`; one below `eval.classifier_min_accuracy`
    refuses there. Workers then find the cache warm instead of racing to train it.
    """
    seen: set[tuple[str, int | None]] = set()
    for spec in exp.variants:
        run = resolve_run(exp, spec.name)
        key = (repr(run.data), run.data.image_size)
        if key in seen:
            continue
        seen.add(key)
        device = resolve_device(run.train.device)
        labelled = "labels" in dataset_entry(run.data).properties
        with slow_step("training the evaluation classifier" if labelled else "preparing the evaluation metrics"):
            Evaluator(run, load_dataset(run.data, device), device).prepare()


def check_stored_recipes(exp: ExperimentConfig, storage_url: str) -> None:
    """A resumed sweep must run the recipes its studies hold (harness.sweep.recipe_guard)."""
    timeout_s = exp.sweep.connect_timeout_seconds
    if not holds_studies(storage_url, timeout_s):
        return  # a first run: no store (or no Optuna tables) yet, and none is created here
    # Under PostgreSQL's init lock: opening an Optuna storage may create missing tables, and two
    # workers doing that at once on one database collide. A SQLite store gets no lock file here.
    with reading_lock(storage_url, exp.name, timeout_s):
        storage = make_storage(storage_url, exp)
        stored = {spec.name: stored_recipe(storage, study_names(exp, spec.name)[0]) for spec in exp.variants}
    check_recipes(exp, stored, storage_url)


def holds_studies(storage_url: str, timeout_s: int = 10) -> bool:
    """Whether the store already has Optuna's tables (read-only: it creates neither file nor table)."""
    import sqlalchemy

    path = sqlite_path(storage_url)
    if path is not None:
        return path.is_file() and "studies" in sqlite_tables(path)  # SQLite would create a missing file
    return sqlalchemy.inspect(lock_engine(storage_url, timeout_s)).has_table("studies")


def check_storage_reachable(url: str, timeout_s: int) -> None:
    if sqlite_path(url) is not None:
        return
    try:
        with lock_engine(url, timeout_s).connect():
            pass
    except Exception as exc:  # noqa: BLE001 - driver missing, refused, bad password, timed out, ...
        raise UserError(f"sweep.storage: cannot connect to {redact(url)} ({first_line(exc)})") from None
