"""Every check that can fail before a sweep writes anything: device, data, services and MLFLOW_* settings,
store files and folders, the stores' tables and schema versions, stored recipes, and the evaluation
classifier's accuracy.

A sweep that is going to stop with "no CUDA", "no MNIST under data/", "cannot reach MLflow", "cannot
create runs/ under a file" or "the classifier is too weak" must stop before a study, a queued trial, a
parent run, a lock file or even the empty `runs/` folder exists; otherwise the next, corrected run
inherits debris. Only the evaluation classifier's cache (under `eval.cache_dir`) may be written: it is
the yardstick, not a store, and the next run reuses it.
"""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path

from harness.config.resolve import ExperimentConfig
from harness.data import dataset_entry, load_dataset
from harness.train.device import resolve_device
from harness.core.errors import ConfigError, UserError, first_line
from harness.metrics import Evaluator
from harness.sweep.notices import slow_step
from harness.sweep.locks import lock_engine, lock_file, reading_lock
from harness.sweep.paths import folder_problem, make_folder, read_only_problem
from harness.stores import keys
from harness.sweep.recipe_guard import check_recipes, recipe_attr, search_mode_mismatch, stored_attrs
from harness.sweep.studies import make_storage, study_names
from harness.tracking.write import artifact_location, check_reachable, mlflow_signature
from harness.stores.schema import check_schema
from harness.stores.urls import redact, sqlite_file_problem, sqlite_path


def preflight(exp: ExperimentConfig, storage_url: str, tracking_uri: str, dry_run: bool = False) -> None:
    """Raise a one-line UserError for the first problem found; on success the stores' folders exist.

    A dry run makes the same checks and writes nothing: it skips the evaluation classifier (training it
    takes minutes and fills eval.cache_dir) and the stores' folders (`DRY_RUN_SKIPS` says so to the user)."""
    check_data(exp)
    check_reachable(tracking_uri, exp.tracking.connect_timeout_seconds)  # and the MLFLOW_* settings
    check_storage_reachable(storage_url, exp.sweep.connect_timeout_seconds)
    urls = {"sweep.storage": storage_url, "tracking.uri": tracking_uri}
    for key, url in urls.items():
        check_sqlite_store(key, url)
    check_artifact_folder(tracking_uri, exp.name)
    if problem := folder_problem(exp.eval.cache_dir):
        raise ConfigError("eval.cache_dir", f"{exp.eval.cache_dir!r}: {problem}")
    check_stores(exp, storage_url, tracking_uri)  # it may open (never change) an existing store
    if dry_run:
        return
    check_classifiers(exp)  # last of the checks: it may train for minutes, and may write eval.cache_dir
    for key, url in urls.items():
        if (path := sqlite_path(url)) is not None:
            make_folder(key, redact(url), path.parent)


DRY_RUN_SKIPS = ("checked: data, device, services, store files and schemas, stored recipes; left to the real run: "
                 "the evaluation classifier's accuracy (it trains, or loads from eval.cache_dir, first thing)")


def check_data(exp: ExperimentConfig) -> None:
    """The device exists and each distinct dataset loads (never downloads unasked)."""
    seen: set[tuple[str, str]] = set()
    for spec in exp.variants:
        run = exp.run(spec.name)
        key = (run.train.device, repr(run.data))
        if key not in seen:
            seen.add(key)
            load_dataset(run.data, resolve_device(run.train.device))


def check_sqlite_store(key: str, url: str) -> None:
    """A SQLite store's file is absent or one this user may write, and its folder can be made and written.
    (Its tables are checked by `check_stores`.)"""
    path = sqlite_path(url)
    if path is None:
        return
    if problem := sqlite_file_problem(path) or folder_problem(path.parent) or read_only_problem(path):
        raise ConfigError(key, f"{redact(url)!r}: {problem}")


def check_artifact_folder(tracking_uri: str, experiment: str) -> None:
    """A local store's artifacts go to a folder beside it (harness.tracking.write.artifact_location), which
    MLflow makes only when a trial logs its first artifact: a file in the way would fail there, mid-sweep."""
    location = artifact_location(tracking_uri, experiment)
    if location is None:
        return  # a server decides where artifacts go
    folder = Path(urllib.request.url2pathname(urllib.parse.urlsplit(location).path))
    if problem := folder_problem(folder):
        raise ConfigError("tracking.uri", f"{redact(tracking_uri)!r}: for its artifacts, {problem}")


def check_classifiers(exp: ExperimentConfig) -> None:
    """Train or load each distinct evaluation classifier and check its accuracy, before any store exists.

    Metrics set their yardstick up in `Evaluator.prepare`; one below `eval.classifier_min_accuracy`
    refuses there. Workers then find the cache warm instead of racing to train it.
    """
    seen: set[tuple[str, int | None]] = set()
    for spec in exp.variants:
        run = exp.run(spec.name)
        key = (repr(run.data), run.data.image_size)
        if key in seen:
            continue
        seen.add(key)
        device = resolve_device(run.train.device)
        labelled = "labels" in dataset_entry(run.data).properties
        with slow_step("training the evaluation classifier" if labelled else "preparing the evaluation metrics"):
            Evaluator(run, load_dataset(run.data, device), device).prepare()


def check_stores(exp: ExperimentConfig, storage_url: str, tracking_uri: str | None) -> None:
    """Each store is empty or holds its application's tables at this version (harness.stores.schema), and a
    resumed sweep runs the recipes its studies hold (harness.sweep.recipe_guard); `None` skips the tracking store.

    Read under the sweep's init lock: a sweep starting beside this one may be creating the tables right now,
    and a half-made store must not read as a damaged one.
    """
    try:
        stored = read_stores(exp, storage_url, tracking_uri)
    except ConfigError:
        if not lock_file_appeared(storage_url):
            raise
        # A sweep beside this one made its SQLite lock file (and began its tables) after this one looked for
        # the file, so that read was not under the lock: read again, now waiting for it.
        stored = read_stores(exp, storage_url, tracking_uri)
    check_recipes(exp, stored, storage_url)


def read_stores(exp: ExperimentConfig, storage_url: str, tracking_uri: str | None) -> dict[str, str | None]:
    """Check both stores' schemas under the init lock; the stored recipe of each variant (None: none yet)."""
    from harness.report.load import optuna_signature  # pandas: only once the checks before have passed

    timeout_s = exp.sweep.connect_timeout_seconds
    with reading_lock(storage_url, exp.name, timeout_s):
        if tracking_uri is not None and not tracking_uri.startswith(("http://", "https://")):
            check_schema("tracking.uri", tracking_uri, mlflow_signature(), exp.tracking.connect_timeout_seconds)
        if not check_schema("sweep.storage", storage_url, optuna_signature(), timeout_s):
            return {}  # a first run: no store (or no tables) yet, and none is created here
        storage = make_storage(storage_url, exp)
        attrs = {spec.name: stored_attrs(storage, study_names(exp, spec.name)[0]) for spec in exp.variants}
    for variant, found in attrs.items():
        if (error := search_mode_mismatch(exp, variant, found.get(keys.BUDGET), storage_url)) is not None:
            raise error
    return {variant: recipe_attr(found) for variant, found in attrs.items()}


def lock_file_appeared(url: str) -> bool:
    path = sqlite_path(url)
    return path is not None and lock_file(path).exists()


def check_stored_recipes(exp: ExperimentConfig, storage_url: str) -> None:
    """A resumed sweep must run the recipes its studies hold (the storage's half of `check_stores`)."""
    check_stores(exp, storage_url, None)


def check_storage_reachable(url: str, timeout_s: int) -> None:
    if sqlite_path(url) is not None:
        return
    try:
        with lock_engine(url, timeout_s).connect():
            pass
    except Exception as exc:  # noqa: BLE001 - driver missing, refused, bad password, timed out, ...
        raise UserError(f"sweep.storage: cannot connect to {redact(url)} ({first_line(exc)})") from None
