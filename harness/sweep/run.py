"""Running a sweep: prepare the stores, run the workers under progress bars, summarize."""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import os
import socket
import sys
import time

from harness.config import ExperimentConfig
from harness.sweep.context import SweepContext
from harness.sweep.progress import ProgressMonitor
from harness.sweep.setup import finish_parents, prepare_metrics, prepare_stores
from harness.sweep.status import variant_status
from harness.sweep.studies import make_storage, open_studies
from harness.sweep.worker import run_worker, spawned_worker
from harness.tracking import check_reachable


def run_sweep(exp: ExperimentConfig, storage_url: str, tracking_uri: str, workers: int) -> int:
    start = time.perf_counter()
    check_reachable(tracking_uri)  # before anything is created: a typo'd server URL leaves no trace
    experiment_id = prepare_stores(exp, storage_url, tracking_uri)
    prepare_metrics(exp)
    ctx = SweepContext(exp, storage_url, tracking_uri, experiment_id, sampler_seed=process_sampler_seed(exp.seed, 0))
    try:
        with ProgressMonitor(exp, storage_url):
            if workers == 1:
                run_worker(ctx)
            else:
                run_processes(ctx, workers)
    except KeyboardInterrupt:
        print("interrupted: finished trials are stored and the running ones re-queued; "
              "run the same command again to resume", file=sys.stderr)
        return 130
    finish_parents(exp, storage_url, tracking_uri)
    print_summary(exp, storage_url, time.perf_counter() - start)
    if exp.sweep.report:
        write_final_report(exp, storage_url, tracking_uri)
    return 0


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
        print(f"report: {write_report(exp, storage_url, tracking_uri)}")
    except Exception as exc:  # noqa: BLE001 - the results are stored; a report problem must not fail the sweep
        print(f"warning: no report ({type(exc).__name__}: {exc}); run python -m harness.report CONFIG",
              file=sys.stderr)


def run_processes(ctx: SweepContext, workers: int) -> None:
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
        for process in processes:
            process.join(timeout=60)  # they received the same Ctrl-C and re-queue their trials
        raise
    crashed = [f"{p.name} exit {p.exitcode}" for p in processes if p.exitcode]
    if crashed:
        print(f"warning: {', '.join(crashed)}; their trials are re-queued by heartbeat on the next run",
              file=sys.stderr)


def print_summary(exp: ExperimentConfig, storage_url: str, wall_seconds: float) -> None:
    storage = make_storage(storage_url, exp)
    print(f"sweep {exp.name!r} settled in {wall_seconds:.0f}s:")
    for spec in exp.variants:
        print("  " + variant_status(exp, open_studies(exp, storage, spec.name)).line())
