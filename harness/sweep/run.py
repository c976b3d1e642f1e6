"""Running a sweep: prepare the stores, run the workers under progress bars, summarize."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import multiprocessing
import os
import signal
import socket
import sys
import time

from harness.config.resolve import ExperimentConfig
from harness.core.errors import EXIT_BUG, EXIT_NOTHING_USABLE, EXIT_UNFINISHED, EXIT_USER_ERROR, ServiceLost
from harness.core.signals import exit_code, signal_name
from harness.sweep.notices import slow_step
from harness.sweep.context import SweepContext
from harness.sweep.preflight import preflight
from harness.sweep.progress import ProgressMonitor
from harness.sweep.setup import finish_parents, prepare_stores, show_real_data
from harness.sweep.status import VariantStatus, variant_status
from harness.sweep.studies import make_storage, open_studies
from harness.sweep.worker import run_worker, settled, spawned_worker, worker_studies


def run_sweep(exp: ExperimentConfig, storage_url: str, tracking_uri: str, workers: int) -> int:
    """Run the sweep; the exit code says how it ended (docs/operations.md, "Exit codes")."""
    start = time.perf_counter()
    preflight(exp, storage_url, tracking_uri)  # before anything is created: a failed check leaves no trace
    with slow_step("preparing the stores (Optuna studies, MLflow experiment and parent runs)"):
        experiment_id = prepare_stores(exp, storage_url, tracking_uri)
    show_real_data(exp, storage_url, tracking_uri, experiment_id)
    ctx = SweepContext(exp, storage_url, tracking_uri, experiment_id, sampler_seed=process_sampler_seed(exp.seed, 0))
    try:
        with ProgressMonitor(exp, storage_url):
            if workers == 1:
                run_worker(ctx)
                crashed = []
            else:
                crashed = run_processes(ctx, workers)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP from a scheduler (harness.core.signals)
        stop_parents(exp, storage_url, tracking_uri)
        how = "interrupted" if signal_name(exc) == "SIGINT" else f"stopped by {signal_name(exc)}"
        print(f"{how}: finished trials are stored and the running ones re-queued; "
              "run the same command again to resume", file=sys.stderr)
        return exit_code(exc)
    except ServiceLost:
        stop_parents(exp, storage_url, tracking_uri)
        raise
    if not sweep_settled(ctx):
        stop_parents(exp, storage_url, tracking_uri)
        return unfinished(crashed)
    if crashed:  # the others re-ran its trial (heartbeat) and finished the budget: nothing is missing
        print(f"warning: {', '.join(f'{name} exited with {code}' for name, code in crashed)}; the other "
              "workers finished the whole budget", file=sys.stderr, flush=True)
    finish_parents(exp, storage_url, tracking_uri)
    statuses = print_summary(exp, storage_url, time.perf_counter() - start)
    if exp.sweep.report:
        write_final_report(exp, storage_url, tracking_uri)
    # A worker that exited 1 hit a bug (a traceback is in the log): the results stand, the exit code says so.
    return EXIT_BUG if any(code == EXIT_BUG for _, code in crashed) else usable_exit_code(statuses)


def stop_parents(exp: ExperimentConfig, storage_url: str, tracking_uri: str) -> None:
    """Parent runs of a sweep that stopped with work left read KILLED, not RUNNING (best effort: the
    tracking store may be the service that is gone; the next run sets them RUNNING again)."""
    try:
        finish_parents(exp, storage_url, tracking_uri, "KILLED")
    except Exception:  # noqa: BLE001 - nothing more to do here; the exit code tells the rest
        pass


def sweep_settled(ctx: SweepContext) -> bool:
    return settled(ctx, worker_studies(ctx, make_storage(ctx.storage_url, ctx.exp)))


def unfinished(crashed: list[tuple[str, int]]) -> int:
    """Exit code and warning of a sweep whose workers stopped with budget left."""
    lost = any(code == EXIT_USER_ERROR for _, code in crashed)
    died = ", ".join(f"{name} exited with {code}" for name, code in crashed) or "the workers stopped"
    print(f"warning: {died} with part of the budget undone; their running trials are re-queued (by heartbeat "
          "after sweep.grace_seconds); run the same command again to finish", file=sys.stderr)
    return EXIT_USER_ERROR if lost else EXIT_UNFINISHED


def usable_exit_code(statuses: list[VariantStatus]) -> int:
    """0 when every variant has a complete run to compare, else EXIT_NOTHING_USABLE naming those without."""
    empty = [s for s in statuses if not s.usable]
    for status in empty:
        s = status.search
        print(f"warning: variant {status.variant} produced nothing usable: no complete "
              f"{'confirmation' if status.confirm.budget else 'search'} run (search: {s.complete} complete, "
              f"{s.pruned} pruned or diverged, {s.failed} failed); see the report's failures table",
              file=sys.stderr)
    return EXIT_NOTHING_USABLE if empty else 0


def process_sampler_seed(config_seed: int, worker: int) -> int:
    """A sampler seed of this worker's own.

    Copies of the sweep on other machines, in other containers (each its own PID 1) or beside this
    one share the studies: with one seed they would propose the same knobs for their blank trials and
    spend the budget twice on one point. Trainings stay seeded by the config; only the choice of the
    next knobs to try differs between runs.
    """
    identity = f"{config_seed}/{socket.gethostname()}/{os.getpid()}/{worker}/{time.time_ns()}"
    return int.from_bytes(hashlib.sha256(identity.encode()).digest()[:4], "big") >> 1


def write_final_report(exp: ExperimentConfig, storage_url: str, tracking_uri: str) -> None:
    from harness.report import write_report  # pandas/seaborn only when a report is asked for

    try:
        with slow_step("writing the report"):
            path = write_report(exp, storage_url, tracking_uri)
        print(f"report: {path}")
    except Exception as exc:  # noqa: BLE001 - the results are stored; a report problem must not fail the sweep
        print(f"warning: no report ({type(exc).__name__}: {exc}); run python -m harness.report CONFIG",
              file=sys.stderr)


def run_processes(ctx: SweepContext, workers: int) -> list[tuple[str, int]]:
    """N worker processes (spawned: CUDA and fork do not mix), sharing the machine's cores."""
    spawn = multiprocessing.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // workers)
    processes = []
    for i in range(workers):
        worker_ctx = dataclasses.replace(ctx, worker=i, sampler_seed=process_sampler_seed(ctx.exp.seed, i))
        processes.append(spawn.Process(target=spawned_worker, args=(worker_ctx, threads), name=f"sweep-worker-{i}"))
    for process in processes:
        process.start()
    try:
        for process in processes:
            process.join()
    except KeyboardInterrupt:
        stop_workers(processes)
        raise
    return [(p.name, p.exitcode) for p in processes if p.exitcode]


WORKER_STOP_SECONDS = 60  # a worker re-queues its trial in well under this; past it, it is stuck


def stop_workers(processes: list) -> None:
    """Stop every worker and wait for it to re-queue its trial. A terminal's Ctrl-C reached them too, but a
    SIGTERM sent to the sweep alone (`kill`, `docker stop`, a scheduler) did not: forward it (a worker acts
    on its first stop request only, so one that already has it is not disturbed). One stuck past the
    deadline is killed; its trial goes back by heartbeat."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):  # it may have ended since
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + WORKER_STOP_SECONDS
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def print_summary(exp: ExperimentConfig, storage_url: str, wall_seconds: float) -> list[VariantStatus]:
    storage = make_storage(storage_url, exp)
    print(f"sweep {exp.name!r} settled in {wall_seconds:.0f}s:")
    statuses = [variant_status(exp, open_studies(exp, storage, spec.name)) for spec in exp.variants]
    for status in statuses:
        print("  " + status.line())
    return statuses
