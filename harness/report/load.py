"""Reading the Optuna storage into DataFrames: one row per trial, one per reported evaluation.

Reading only: the storage is opened without creating tables, and a study that does not exist
yet (a variant the sweep has not reached) is reported as missing, never created.
"""

from __future__ import annotations

import functools
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.distributions import BaseDistribution
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from harness.config.knob_space import searched
from harness.config.resolve import ExperimentConfig
from harness.core.errors import UserError, first_line
from harness.metrics import METRICS
from harness.config.recipe import read_recipe
from harness.stores import keys
from harness.stores.keys import CONFIRM, SEARCH
from harness.stores.schema import ALEMBIC, Signature, Version, alembic_version, check_schema
from harness.stores.urls import redact, sqlalchemy_url, sqlite_path

optuna.logging.set_verbosity(optuna.logging.WARNING)

TRIAL_COLUMNS = ["variant", "stage", "number", "state", "outcome", "value", "seed", "source_trial", "reason",
                 "retried_as", "mlflow_run_id", "start", "complete", "seconds", "device", "worker"]
STEP_COLUMNS = ["variant", "stage", "number", "step", "value"]
# One row per evaluation of a finished trial: the objective and what the run had spent by then.
EVAL_COLUMNS = ["variant", "stage", "number", "step", "value", "generator_steps", "critic_updates", "images_seen",
                "train_seconds"]
PARAM, METRIC = "param.", "metric."  # column prefixes of the knobs and of the final metrics


@dataclass(frozen=True)
class VariantInfo:
    """What the storage says about one variant's pair of studies (None: not created yet)."""

    variant: str
    objective: str
    direction: str
    seeds: int  # confirmation runs the config asks for
    search: optuna.Study | None
    confirm: optuna.Study | None
    distributions: dict[str, BaseDistribution] = field(default_factory=dict)  # the searched knobs

    @property
    def budget(self) -> int | None:
        return keys.int_attr(self.search, keys.BUDGET)

    @property
    def searched(self) -> bool:
        """False where the sweep planned no search (`sweep.trials_per_variant: 0`, stored budget 0): the
        confirmation seeds then ran the cell's own values, and no search trial is missing."""
        return self.budget != 0

    @property
    def levels(self) -> tuple[tuple[str, str], ...]:
        """The cell's (factor, level) pairs in factor order, as stored; (("variant", name),) before designs."""
        return keys.level_pairs(self.search, self.variant)

    @property
    def level_names(self) -> tuple[str, ...]:
        """The cell's level names in factor order: what its MLflow run names show (keys.run_name)."""
        return tuple(level for _, level in self.levels)

    @property
    def level_overrides(self) -> dict[str, dict[str, Any]]:
        """What each of the cell's levels sets, as stored (keys.LEVEL_OVERRIDES); {} before designs."""
        value = None if self.search is None else self.search.user_attrs.get(keys.LEVEL_OVERRIDES)
        return dict(value) if value else {}

    @property
    def parent_run_id(self) -> str | None:
        return keys.text_attr(self.search, keys.MLFLOW_PARENT_RUN_ID)

    @property
    def confirm_skipped(self) -> str | None:
        return keys.text_attr(self.confirm, keys.SKIPPED)


@dataclass(frozen=True)
class StoredSweep:
    """Everything the Optuna storage holds for one experiment, variants in config order."""

    variants: list[VariantInfo]
    trials: pd.DataFrame  # TRIAL_COLUMNS + param.<knob> + metric.<name>
    steps: pd.DataFrame  # STEP_COLUMNS: the objective at each evaluation (intermediate values)
    evals: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=EVAL_COLUMNS))  # EVAL_COLUMNS
    planned_search: bool = True  # the config's plan (sweep.trials_per_variant > 0): read only before any start

    def info(self, variant: str) -> VariantInfo:
        return next(v for v in self.variants if v.variant == variant)

    @property
    def searched(self) -> bool:
        """False where the sweep planned no search: every started cell stored a budget of 0 (docs/report.md,
        "A design without search"); before anything started, what the config plans."""
        started = [info for info in self.variants if info.search is not None]
        return any(info.searched for info in started) if started else self.planned_search


@functools.lru_cache(maxsize=1)
def optuna_signature() -> Signature:
    """The tables and schema version of a store of the installed Optuna (harness.stores.schema compares)."""
    from alembic.script import ScriptDirectory
    from optuna.storages._rdb import models

    migrations = ScriptDirectory(str(Path(models.__file__).with_name("alembic")))
    versions = (alembic_version(migrations), Version("version_info", "schema_version", str(models.SCHEMA_VERSION)))
    return Signature("Optuna", frozenset(models.BaseModel.metadata.tables) | {ALEMBIC}, versions,
                     "optuna storage upgrade --storage {url}")


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """The storage, read as it is: a missing SQLite file or an empty database is an error, not a new empty
    store, and one that is not Optuna's at this version is refused before Optuna opens (and writes into) it."""
    path = sqlite_path(url)
    if (path is not None and not path.is_file()) or not check_schema("sweep.storage", url, optuna_signature()):
        raise UserError(f"sweep.storage: no Optuna results at {redact(url)} (run the sweep first, "
                        "or pass --storage)")
    engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": 60}} if path else {"pool_pre_ping": True}
    try:
        return optuna.storages.RDBStorage(sqlalchemy_url(url), engine_kwargs=engine_kwargs, skip_table_creation=True)
    except Exception as exc:  # noqa: BLE001 - sqlalchemy/driver errors of every kind
        raise UserError(f"sweep.storage: cannot open {redact(url)} ({first_line(exc)})") from None


@dataclass(frozen=True)
class StoredRecord:
    """What a variant's search study recorded of how it ran (None: a study older than the record)."""

    recipe: dict[str, Any] | None  # harness.config.recipe.recipe: the keys that decide results
    sweep: dict[str, Any] | None  # harness.config.recipe.sweep_settings: budget, seeds, sampler, pruner, space


def stored_records(exp: ExperimentConfig, storage_url: str) -> tuple[dict[str, StoredRecord], set[str]]:
    """Each of `exp`'s variants' records, for those with a search study, and every variant the storage
    holds a search study of under `exp`'s name (today's config may list fewer, or others)."""
    storage = open_storage(storage_url)
    try:
        studies = {s.study_name: s.user_attrs for s in storage.get_all_studies()}
    except Exception as exc:  # noqa: BLE001 - e.g. a database that holds no Optuna tables
        raise UserError(f"sweep.storage: cannot read {redact(storage_url)} ({first_line(exc)})") from None
    stored_variants = {name.split("/")[1] for name in studies if name.count("/") == 1
                       and name.startswith(exp.name + "/")}
    records = {}
    for spec in exp.variants:
        attrs = studies.get(keys.study_names(exp.name, spec.name)[0])
        if attrs is not None:
            records[spec.name] = StoredRecord(read_recipe(attrs.get(keys.RECIPE)),
                                              json_attr(attrs, keys.SWEEP_SETTINGS))
    return records, stored_variants


def json_attr(attrs: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = attrs.get(key)
    return None if value is None else json.loads(value)


def load_sweep(exp: ExperimentConfig, storage_url: str) -> StoredSweep:
    """Read every variant's search and confirmation study of `exp` from the storage."""
    storage = open_storage(storage_url)
    try:
        existing = {s.study_name for s in storage.get_all_studies()}
    except Exception as exc:  # noqa: BLE001 - e.g. a database that holds no Optuna tables
        raise UserError(f"sweep.storage: cannot read {redact(storage_url)} ({first_line(exc)})") from None
    infos, trial_rows, step_rows, eval_rows = [], [], [], []
    for spec in exp.variants:
        run = exp.run(spec.name)  # the plan: resolved once by the config's resolver
        names = (keys.study_names(exp.name, spec.name)[0], keys.confirm_study_name(exp.name, spec.name, existing))
        search, confirm = (optuna.load_study(study_name=name, storage=storage) if name in existing else None
                           for name in names)
        trials = {stage: study.get_trials(deepcopy=False) if study else []
                  for stage, study in ((SEARCH, search), (CONFIRM, confirm))}
        # The stored objective names the stored values, even if the config now asks for another one.
        objective = keys.text_attr(search, keys.OBJECTIVE) or run.objective
        infos.append(VariantInfo(spec.name, objective, METRICS.get(objective).direction, exp.sweep.seeds,
                                 search, confirm, searched_distributions(trials[SEARCH])))
        for stage, stage_trials in trials.items():
            successors = successor_numbers(stage_trials)
            trial_rows += [trial_record(spec.name, stage, t, successors.get(t.number), exp.seed) for t in stage_trials]
            step_rows += [(spec.name, stage, t.number, step, value) for t in stage_trials
                          for step, value in sorted(t.intermediate_values.items())]
            eval_rows += [row for t in stage_trials for row in eval_records(spec.name, stage, t)]
    return StoredSweep(infos, trials_frame(trial_rows), pd.DataFrame(step_rows, columns=STEP_COLUMNS),
                       pd.DataFrame(eval_rows, columns=EVAL_COLUMNS, dtype=object).astype(
                           {c: "float64" for c in EVAL_COLUMNS[3:]}).astype({"number": "int64"}),
                       planned_search=searched(exp))


def eval_records(variant: str, stage: str, trial: FrozenTrial) -> list[tuple[Any, ...]]:
    """The trial's stored evaluation history (`eval_history`), one tuple per evaluation; None becomes NaN."""
    history = trial.user_attrs.get(keys.EVAL_HISTORY) or {}
    names = ["step", "value", *("cost_" + c for c in EVAL_COLUMNS[5:])]
    columns = [history.get(name) or [] for name in names]
    count = min(map(len, columns))
    return [(variant, stage, trial.number, *(math.nan if c[i] is None else c[i] for c in columns))
            for i in range(count)]


def searched_distributions(trials: list[FrozenTrial]) -> dict[str, BaseDistribution]:
    found: dict[str, BaseDistribution] = {}
    for trial in trials:
        found.update({k: v for k, v in trial.distributions.items() if k not in found})
    return dict(sorted(found.items()))


def successor_numbers(trials: list[FrozenTrial]) -> dict[int, int]:
    """Failed trial number -> the number of the trial that re-ran it (Optuna's retry callback)."""
    with warnings.catch_warnings():  # flagged experimental since Optuna 3.0; the report must not print that
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        histories = {t.number: RetryHeartbeatStaleTrialCallback.retry_history(t) for t in trials}
    return {history[-1]: number for number, history in histories.items() if history}


def outcome(trial: FrozenTrial, retried_as: int | None) -> str:
    """complete / pruned / diverged / error / interrupted / killed / failed / running / waiting."""
    if trial.state in (TrialState.RUNNING, TrialState.WAITING):
        return trial.state.name.lower()  # a re-queued copy inherits its predecessor's user attrs
    if trial.state == TrialState.COMPLETE:
        return "complete"
    if keys.OUTCOME in trial.user_attrs:
        return str(trial.user_attrs[keys.OUTCOME])
    if trial.state == TrialState.FAIL:
        return "killed" if retried_as is not None else "failed"
    return "pruned"


def trial_record(variant: str, stage: str, trial: FrozenTrial, retried_as: int | None,
                 search_seed: int) -> dict[str, Any]:
    """One row; search trials train with the experiment's seed, confirmation runs with their own."""
    attrs = trial.user_attrs
    seconds = None
    if trial.datetime_start and trial.datetime_complete:
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
    reason = attrs.get(keys.REASON) if trial.state in (TrialState.PRUNED, TrialState.FAIL) else None
    if reason is None and retried_as is not None:
        reason = "worker died (no heartbeat); re-queued"
    record = {"variant": variant, "stage": stage, "number": trial.number, "state": trial.state.name,
              "outcome": outcome(trial, retried_as), "value": trial.value,
              "seed": keys.int_attr(trial, keys.SEED, search_seed),
              "source_trial": attrs.get(keys.SOURCE_TRIAL), "reason": reason, "retried_as": retried_as,
              "mlflow_run_id": attrs.get(keys.MLFLOW_RUN_ID), "start": trial.datetime_start,
              "complete": trial.datetime_complete, "seconds": seconds, "device": attrs.get(keys.DEVICE),
              "worker": attrs.get(keys.WORKER)}
    record.update({PARAM + k: v for k, v in trial.params.items()})
    if trial.state == TrialState.COMPLETE:
        finals = attrs.get("final_metrics") or {}
        record.update({METRIC + k: v for k, v in finals.items() if k in METRICS.names() and math.isfinite(v)})
    return record


def trials_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Fixed base columns, then the knobs and the metrics in sorted order (stable across reads)."""
    extra = sorted({k for row in rows for k in row} - set(TRIAL_COLUMNS))
    frame = pd.DataFrame(rows, columns=TRIAL_COLUMNS + extra)
    for column in (c for c in extra if c.startswith(PARAM)):  # keep ints ints where some trials lack the knob
        frame[column] = pd.Series([row.get(column) for row in rows], dtype=object)
    for column in ("number", "seed", "source_trial", "retried_as"):
        frame[column] = frame[column].astype("Int64")
    for column in ["value", "seconds", *(c for c in extra if c.startswith(METRIC))]:
        frame[column] = frame[column].astype("float64")
    return frame
