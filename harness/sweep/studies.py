"""Optuna storage, one search study and one confirmation study per variant, and their budgets.

The budget of a study is a queue of WAITING trials: the config's defaults first, then empty
slots whose parameters the sampler fills when a worker claims them. Workers only ever pop from
that queue, so concurrent workers (and concurrent copies of the command) share the budget
exactly; a trial whose worker died is re-queued by Optuna's heartbeat callback.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from harness.config.resolve import ExperimentConfig, RunConfig
from harness.core.errors import UserError, first_line
from harness.metrics import METRICS
from harness.stores import keys
from harness.stores.keys import CONFIRM, SEARCH  # noqa: F401  (re-exported: the sweep's modules use them)
from harness.stores.retry import RetryPolicy
from harness.config.samplers import search_budget
from harness.sweep.space import applicable_space, grid_points, knob_value, searched
from harness.stores.urls import redact, sqlalchemy_url, sqlite_path
from harness.stores.quiet_logs import quiet_store_logs
from harness.sweep.locks import postgres_connect_args

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
# Workers claim trials with ask() under the storage lock and run their own heartbeat thread.
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
# A re-queued trial inherits its reported values and reports the steps it trains again: Optuna keeps
# the first value and would warn once per evaluation.
warnings.filterwarnings("ignore", message="The reported value is ignored because this `step=")
optuna.logging.set_verbosity(optuna.logging.WARNING)
quiet_store_logs()

LIVE_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING, TrialState.FAIL)


@dataclass(frozen=True)
class VariantStudies:
    variant: str
    search: optuna.Study
    confirm: optuna.Study
    levels: tuple[str, ...] = ()  # the cell's level names, in factor order


def study_names(exp: ExperimentConfig, variant: str, storage: RDBStorage | None = None) -> tuple[str, str]:
    """(search, confirm) names; with a storage, a confirmation study stored under its legacy name keeps it."""
    search, confirm = keys.study_names(exp.name, variant)
    if storage is None:
        return search, confirm
    legacy = keys.legacy_confirm_name(exp.name, variant)
    return search, keys.confirm_study_name(exp.name, variant, stored_names(storage, (legacy, confirm)))


def stored_names(storage: RDBStorage, names: tuple[str, ...]) -> set[str]:
    """Which of `names` the storage holds a study of."""
    found = set()
    for name in names:
        try:
            storage.get_study_id_from_name(name)
        except KeyError:
            continue
        found.add(name)
    return found


def requeue_callback(exp: ExperimentConfig) -> RetryHeartbeatStaleTrialCallback:
    """Optuna's re-queue of a failed trial; the copy keeps the reported values a resumed run continues."""
    return RetryHeartbeatStaleTrialCallback(exp.sweep.max_retry, inherit_intermediate_values=True)


def transient_storage_error(exc: BaseException) -> bool:
    """A dropped or refused database connection (Optuna wraps SQLAlchemy's errors in StorageInternalError)."""
    import sqlalchemy.exc

    return isinstance(exc, (optuna.exceptions.StorageInternalError, sqlalchemy.exc.OperationalError,
                            sqlalchemy.exc.InterfaceError))


def storage_retry(exp: ExperimentConfig, url: str) -> RetryPolicy:
    return RetryPolicy("the Optuna storage", url, exp.sweep.storage_retries, exp.sweep.storage_retry_seconds,
                       transient_storage_error)


def make_storage(url: str, exp: ExperimentConfig, on_stale: Any = None) -> RDBStorage:
    """RDB storage with heartbeats: a RUNNING trial silent for `grace_seconds` is failed and re-queued."""
    path = sqlite_path(url)
    # SQLite: wait out other writers. PostgreSQL: a connection killed by the server is replaced on checkout,
    # and a server that accepts TCP but never answers fails after the timeout instead of hanging the sweep.
    engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": 120}} if path else {
        "pool_pre_ping": True, "connect_args": postgres_connect_args(exp.sweep.connect_timeout_seconds)}
    try:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        return RDBStorage(sqlalchemy_url(url), engine_kwargs=engine_kwargs, heartbeat_interval=exp.sweep.heartbeat_seconds,
                          grace_period=exp.sweep.grace_seconds,
                          heartbeat_stale_trial_callback=on_stale or requeue_callback(exp))
    except Exception as exc:  # noqa: BLE001 - sqlalchemy/driver errors of every kind
        raise UserError(f"storage: cannot open {redact(url)} ({first_line(exc)})") from None


def direction(run: RunConfig) -> str:
    return METRICS.get(run.objective).direction


def open_studies(exp: ExperimentConfig, storage: RDBStorage, variant: str, sampler: Any = None,
                 pruner: Any = None) -> VariantStudies:
    run = exp.run(variant)
    search_name, confirm_name = study_names(exp, variant, storage)
    studies = [optuna.create_study(study_name=name, storage=storage, direction=direction(run), load_if_exists=True,
                                   sampler=sampler if name == search_name else None, pruner=pruner)
               for name in (search_name, confirm_name)]
    for study in studies:
        if study.metric_names != [run.objective]:  # optuna-dashboard and the report name the objective
            study.set_metric_names([run.objective])
    return VariantStudies(variant, *studies, tuple(level for _, level in exp.variant(variant).levels))


def retried_numbers(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of failed trials that Optuna's heartbeat callback has already re-queued."""
    return {n for t in trials for n in RetryHeartbeatStaleTrialCallback.retry_history(t)}


def slot_trials(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """Trials that occupy a budget slot: everything except failures that were re-queued."""
    retried = retried_numbers(trials)
    return [t for t in trials if t.state in LIVE_STATES and t.number not in retried]


def default_params(exp: ExperimentConfig, run: RunConfig) -> dict[str, Any]:
    """The config's own values of the knobs that apply: the paper's settings, always measured."""
    return {knob: knob_value(run, knob) for knob in applicable_space(exp, run)}


def search_queue(exp: ExperimentConfig, run: RunConfig) -> list[dict[str, Any]]:
    """Fixed params of every search slot; `{}` leaves a slot to the sampler."""
    if not searched(exp):
        return []  # no search: the confirmation seeds run the cell's own values
    space = applicable_space(exp, run)
    defaults = default_params(exp, run)
    if not space:
        return [defaults]  # nothing to search: one run of the defaults is the whole study
    if exp.sweep.sampler == "grid":
        points = grid_points(space)
        return points if defaults in points else [defaults, *points]
    return [defaults] + [{}] * (search_budget(exp) - 1)


def fill_search_queue(exp: ExperimentConfig, studies: VariantStudies) -> int:
    """Queue the missing search slots (all on a fresh study, the shortfall on resume); returns the budget."""
    run = exp.run(studies.variant)
    queue = search_queue(exp, run)
    taken = slot_trials(studies.search.get_trials(deepcopy=False))
    if exp.sweep.sampler == "grid":
        present = [t.system_attrs.get("fixed_params", t.params) for t in taken]
        missing = [p for p in queue if p not in present]
    else:
        missing = queue[len(taken):]  # a fresh study gets the defaults first, a resumed one blank slots
    for params in missing:
        studies.search.enqueue_trial(params, user_attrs={keys.STAGE: SEARCH})
    studies.search.set_user_attr(keys.BUDGET, len(queue))
    return len(queue)


def search_finished(study: optuna.Study) -> bool:
    """No search slot is queued or running any more (failures re-queued by heartbeat count as queued)."""
    return not study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING))


def best_search_trial(study: optuna.Study) -> FrozenTrial | None:
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    return study.best_trial


def confirm_seeds(exp: ExperimentConfig) -> list[int]:
    """Seeds of the confirmation runs: never the search seed, so the winner is re-measured fresh."""
    return [exp.seed + 1 + i for i in range(exp.sweep.seeds)]


def missing_confirm_seeds(exp: ExperimentConfig, studies: VariantStudies) -> tuple[FrozenTrial | None, list[int]]:
    """The search's best trial and the confirmation seeds not yet queued for it; without a search (budget
    0), no trial and the seeds not yet queued for the cell's own values."""
    best = best_search_trial(studies.search)
    if best is None and searched(exp):
        return None, []
    source = None if best is None else best.number
    taken = [t for t in slot_trials(studies.confirm.get_trials(deepcopy=False))
             if t.user_attrs.get(keys.SOURCE_TRIAL) == source]
    used = {t.user_attrs.get(keys.SEED) for t in taken}
    return best, [seed for seed in confirm_seeds(exp) if seed not in used]


def confirm_queue_stale(exp: ExperimentConfig, studies: VariantStudies) -> bool:
    """Whether the confirmation queue must be filled (callers then take the lock and fill it): seeds are
    missing for the current source, or a finished search found nothing and has not said so yet."""
    best, missing = missing_confirm_seeds(exp, studies)
    return bool(missing) or (best is None and searched(exp) and keys.SKIPPED not in studies.confirm.user_attrs)


def fill_confirm_queue(exp: ExperimentConfig, studies: VariantStudies) -> None:
    """Queue one confirmation run per seed for the search's best params, or without a search for the
    cell's own values (callers hold the lock)."""
    best, seeds = missing_confirm_seeds(exp, studies)
    if best is None and not searched(exp):
        for seed in seeds:
            studies.confirm.enqueue_trial({}, user_attrs={keys.STAGE: CONFIRM, keys.SEED: seed})
        return
    if best is None:
        studies.confirm.set_user_attr(keys.SKIPPED, "no search trial completed")
        return
    for seed in seeds:
        studies.confirm.enqueue_trial(best.params, user_attrs={keys.STAGE: CONFIRM, keys.SEED: seed,
                                                              keys.SOURCE_TRIAL: best.number})
    studies.confirm.set_user_attr(keys.SOURCE_TRIAL, best.number)
