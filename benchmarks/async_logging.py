"""Tracking cost per training step against a real `mlflow server` over HTTP: synchronous vs asynchronous writes.

The sweep's RunLogger hands metric batches and sample grids to MLflow's asynchronous logging
(issue 13); before, every flush waited for the server. Both writers log the same windows (the
scalars of a `train.log_every` window, a sample grid every few windows) to one server, block by
block, interleaved; the table shows the training thread's median ms per step spent in tracking
and the paired ratio async/sync. Training itself is identical for both and left out.

    python benchmarks/async_logging.py [--quick] [--windows N] [--repeats R] [--log-every K]

The last line is always `async/sync per-step tracking cost: X.XX`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make `benchmarks`, `harness` and `tests` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import timing
from harness.tracking import write as tracking
from harness.core.errors import cli_entry
from harness.tracking.write import RunLogger, ensure_experiment, ensure_parent_run
from tests.services import mlflow_server  # the same real server the tests start

QUICK = {"windows": 4, "repeats": 2, "log_every": 25}
SCALARS = ("d_loss", "g_loss", "wasserstein", "gp", "grad_norm_mean", "grad_norm_max", "lr_G", "lr_D",
           "seconds_per_step")
SAMPLES_EVERY_WINDOWS = 4
HEADERS = ["writer", "windows/block", "steps/window", "tracking ms/step", "async/sync"]


class SyncRunLogger(RunLogger):
    """The writer before issue 13: every flush and every sample grid waits for the server."""

    def flush(self) -> None:
        for i in range(0, len(self.buffer), tracking.MAX_METRICS_PER_BATCH):
            self.call(self.client.log_batch, self.run_id, metrics=self.buffer[i : i + tracking.MAX_METRICS_PER_BATCH])
        self.buffer = []
        self.last_flush = time.monotonic()

    def on_samples(self, step: int, image: np.ndarray, samples: object) -> None:
        self.client.log_image(self.run_id, image, key="samples", step=step)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=20, help="logging windows per timed block")
    parser.add_argument("--repeats", type=int, default=7, help="timed blocks per writer (median reported)")
    parser.add_argument("--log-every", type=int, default=25, help="generator steps per window (train.log_every)")
    parser.add_argument("--quick", action="store_true", help=f"tiny smoke-run defaults: {QUICK}")
    return timing.parse_with_quick(parser, argv, QUICK)


def block(logger: RunLogger, first_step: int, windows: int, log_every: int, image: np.ndarray) -> float:
    """Seconds the training thread spends in the logger over `windows` windows (every window flushes)."""
    start = time.perf_counter()
    for w in range(windows):
        step = first_step + (w + 1) * log_every
        logger.on_log(step, {key: float(step) for key in SCALARS})
        logger.flush()  # as with a slow server: FLUSH_SECONDS passes between two windows
        if (w + 1) % SAMPLES_EVERY_WINDOWS == 0:
            logger.on_samples(step, image, None)
    return time.perf_counter() - start


def measure(uri: str, args: argparse.Namespace) -> dict[str, list[float]]:
    experiment_id = ensure_experiment(uri, "benchmarks")
    parent = ensure_parent_run(uri, experiment_id, "benchmarks/async", "benchmark", {"variant": "benchmark"})
    loggers = {name: cls(uri, experiment_id, parent, name, {"role": "trial"}, {}) for name, cls in
               (("sync", SyncRunLogger), ("async", RunLogger))}
    image = np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    seconds: dict[str, list[float]] = {name: [] for name in loggers}
    for r in range(args.repeats + 1):  # round 0 warms both up, untimed
        for name, logger in loggers.items():  # interleaved: A B A B, drift hits both alike
            elapsed = block(logger, r * args.windows * args.log_every, args.windows, args.log_every, image)
            logger.settle()  # outside the timed block: evaluations and checkpoints wait there
            if r:
                seconds[name].append(elapsed)
    for logger in loggers.values():
        logger.finish("FINISHED")
    return seconds


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, mlflow_server(f"sqlite:///{tmp}/server.db", Path(tmp)) as server:
        print(f"mlflow server {server.url} (SQLite backend, served artifacts); CPU: {timing.cpu_model()}")
        seconds = measure(server.url, args)
    steps = args.windows * args.log_every
    ratio = timing.paired_ratio(seconds["async"], seconds["sync"])
    rows = [[name, args.windows, args.log_every, timing.median_ms(seconds[name], steps),
             ratio if name == "async" else 1.0] for name in ("sync", "async")]
    timing.print_results(HEADERS, rows, f"async/sync per-step tracking cost: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
