"""A sweep worker: claim a queued trial, run it, repeat until every study is settled.

Workers coordinate only through the Optuna storage: the queue of WAITING trials is the budget,
a claim is an atomic WAITING -> RUNNING transition, heartbeats expose dead workers.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from multiprocessing.connection import wait
from typing import Any

import optuna
import torch
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback, fail_stale_trials
from optuna.trial import FrozenTrial, TrialState

from harness.config.resolve import load_plugins
from harness.core.errors import EXIT_BUG, EXIT_USER_ERROR, ServiceLost, UserError, first_line, thread_crashes
from harness.core.signals import exit_code, install_stop_handlers
from harness.stores.scheduler import task_label
from harness.sweep.context import SweepContext
from harness.sweep.interrupts import deferred_interrupt
from harness.sweep.locks import storage_lock
from harness.sweep.objective import abandon_trial, finish_trial, start_trial
from harness.config.samplers import build_pruner, build_sampler
from harness.stores.retry import call_with_retries, one_line
from harness.stores.urls import redact
from harness.sweep.studies import (CONFIRM, SEARCH, VariantStudies, fill_confirm_queue, make_storage,
                                   confirm_queue_stale, open_studies, search_finished, storage_retry,
                                   transient_storage_error)
from harness.tracking.write import mark_run_killed
from harness.stores import keys


class StaleTrialHandler:
    """Heartbeat callback: close the dead trial's MLflow run, then re-queue the trial (Optuna's retry)."""

    def __init__(self, tracking_uri: str, max_retry: int) -> None:
        self.tracking_uri = tracking_uri
        self.retry = RetryHeartbeatStaleTrialCallback(max_retry, inherit_intermediate_values=True)

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        run_id = trial.user_attrs.get(keys.MLFLOW_RUN_ID)
        if run_id:
            mark_run_killed(self.tracking_uri, run_id, "no heartbeat: worker died")
        self.retry(study, trial)


def worker_storage(ctx: SweepContext) -> RDBStorage:
    return make_storage(ctx.storage_url, ctx.exp, StaleTrialHandler(ctx.tracking_uri, ctx.exp.sweep.max_retry))


def worker_studies(ctx: SweepContext, storage: RDBStorage) -> list[VariantStudies]:
    studies = []
    for i, spec in enumerate(ctx.exp.variants):
        run = ctx.exp.run(spec.name)
        sampler = build_sampler(ctx.exp, ctx.sampler_seed + 1000 * i)
        studies.append(open_studies(ctx.exp, storage, spec.name, sampler, build_pruner(ctx.exp, run)))
    return studies


def pop_waiting(ctx: SweepContext, storage: RDBStorage, study: optuna.Study) -> tuple[optuna.Trial, int] | None:
    """Claim the oldest WAITING trial; never creates one (that would exceed the budget).

    `Study.ask()` pops a WAITING trial when there is one and creates a new trial otherwise.
    Every claimer holds the storage lock around the check and the ask, so the queue cannot
    empty in between and `ask()` always pops.
    """
    waiting = (TrialState.WAITING,)
    if not study.get_trials(deepcopy=False, states=waiting):
        return None
    with storage_lock(ctx.storage_url, ctx.exp.name, ctx.exp.sweep.connect_timeout_seconds):
        if not study.get_trials(deepcopy=False, states=waiting):
            return None
        trial = study.ask()
        trial_id = storage.get_trial_id_from_study_id_trial_number(
            storage.get_study_id_from_name(study.study_name), trial.number)
        storage.record_heartbeat(trial_id)  # a RUNNING trial without a heartbeat row never goes stale
        trial.set_user_attr(keys.WORKER, f"{socket.gethostname()}:{os.getpid()}")
        if (task := task_label(os.environ)) is not None:  # a Slurm array task: progress lines name it
            trial.set_user_attr(keys.SCHEDULER_TASK, task)
    return trial, trial_id


def claim_next(ctx: SweepContext, storage: RDBStorage, all_studies: list[VariantStudies]) -> tuple[Any, ...] | None:
    """The next trial to run, search before confirmation within a variant, variants in config order."""
    for studies in all_studies:
        fail_stale_trials(studies.search)
        fail_stale_trials(studies.confirm)
        claimed = pop_waiting(ctx, storage, studies.search)
        if claimed:
            return (studies, *claimed, SEARCH)
        if not search_finished(studies.search):
            continue
        if confirm_queue_stale(ctx.exp, studies):
            with storage_lock(ctx.storage_url, ctx.exp.name, ctx.exp.sweep.connect_timeout_seconds):
                fill_confirm_queue(ctx.exp, studies)
        claimed = pop_waiting(ctx, storage, studies.confirm)
        if claimed:
            return (studies, *claimed, CONFIRM)
    return None


def settled(ctx: SweepContext, all_studies: list[VariantStudies]) -> bool:
    """Nothing queued or running anywhere, and every confirmation queue matches its search's best."""
    for studies in all_studies:
        if not search_finished(studies.search) or not search_finished(studies.confirm):
            return False
        if confirm_queue_stale(ctx.exp, studies):
            return False
    return True


def run_worker(ctx: SweepContext) -> None:
    """The worker loop; also the entry point of spawned worker processes."""
    storage = worker_storage(ctx)
    all_studies = worker_studies(ctx, storage)
    retry = storage_retry(ctx.exp, ctx.storage_url)  # a dropped database connection between trials
    while True:
        job = None
        try:  # a claimed trial and its MLflow run come into being together: Ctrl-C waits for both
            with deferred_interrupt():
                claimed = call_with_retries(retry, claim_next, ctx, storage, all_studies)
                job = start_trial(ctx, storage, *claimed) if claimed is not None else None
        except KeyboardInterrupt:
            if job is not None:
                abandon_trial(ctx, job)
            raise
        except Exception as exc:
            if not transient_storage_error(exc):
                raise
            # The database went away between the claim and the trial's first writes, which are not
            # repeatable (an MLflow run is made): the claimed trial goes back by its heartbeat.
            raise ServiceLost(f"lost the Optuna storage at {redact(ctx.storage_url)} while starting a trial "
                              f"({one_line(exc)}); it is re-queued after sweep.grace_seconds: start the database "
                              "and run the same command again to resume") from None
        if job is not None:
            finish_trial(ctx, job)  # Ctrl-C while training re-queues the trial
            continue
        if call_with_retries(retry, settled, ctx, all_studies):
            return
        time.sleep(ctx.poll_seconds)  # another worker is still running the last trials (or died: heartbeat)


def spawned_worker(ctx: SweepContext, threads: int) -> None:
    install_stop_handlers(include_sigint=True)  # Ctrl-C, SIGTERM, SIGHUP: re-queue the running trial, once
    follow_parent()
    torch.set_num_threads(threads)  # N workers on one machine share its cores instead of oversubscribing
    if torch.cuda.is_available():
        torch.cuda.set_device(ctx.worker % torch.cuda.device_count())  # N workers spread over the GPUs
    try:
        with thread_crashes() as crashed:
            load_plugins(ctx.exp.plugins)  # a fresh process: the users' entries register again before any lookup
            run_worker(ctx)
        if crashed:  # a thread of this worker died (its traceback is printed): the sweep must not exit 0
            os._exit(EXIT_BUG)
    except KeyboardInterrupt as exc:
        os._exit(exit_code(exc))  # the running trial was re-queued; skip multiprocessing's traceback
    except UserError as exc:  # a lost service (or a plugin failing only here): one line, the parent reports the code
        print(f"error: {first_line(exc)}", file=sys.stderr, flush=True)
        os._exit(EXIT_USER_ERROR)


def follow_parent() -> None:
    """A worker never outlives its sweep: when the parent process is gone (killed, even by SIGKILL), the
    worker stops itself as SIGTERM would, re-queueing its running trial at once."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="follow-parent").start()
