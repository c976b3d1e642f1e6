"""Running the real harness — `harness.train.trainer.train` with the sweep's MLflow callback — against
another training loop, block by block inside one `train` call.

`BlockTimer` is a TrainCallback: at every block boundary (an `on_log`, i.e. right after the
window's one host sync) it reads the harness's clock, then runs one block of the other loop on a
clock of its own. So harness and other loop alternate A B A B ... while the harness runs its own,
unmodified code path: boundary checks, per-step scalars kept on the device, per-window flush and
divergence check, the Lipschitz diagnostic, learning-rate reads and the tracking callback.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks import timing
from harness.config.resolve import RunConfig, config_hash, load_experiment, resolve_run
from harness.train.device import resolve_device
from harness.core.strict import flatten, to_plain
from harness.tracking.write import RunLogger, ensure_experiment, ensure_parent_run
from harness.train.trainer import TrainCallback, TrainState, train

# The two models of issue 7: the toy MLP on the 8-Gaussian ring, the DCGAN on 8x8 digits.
MODEL_CONFIGS = {"mlp": "experiments/toy.yaml", "dcgan": "experiments/ablation.yaml"}
MODEL_LABELS = {"mlp": "mlp (ring8)", "dcgan": "dcgan (digits 8x8)"}

OtherBlock = Callable[[int], None]  # runs the other loop for n generator steps


def run_config(config: str | Path, variant: str, overrides: list[str]) -> RunConfig:
    """A variant's resolved run config, read and validated exactly as the sweep reads it."""
    path = Path(config) if Path(config).is_absolute() else timing.REPO / config
    return resolve_run(load_experiment(path, overrides), variant)


def benchmark_config(cfg: RunConfig, total_steps: int) -> RunConfig:
    """The run cut to the benchmark's length, with evaluation, sample pictures and checkpoints
    pushed to its last step, which the timer never lets it reach."""
    train_cfg = dataclasses.replace(cfg.train, steps=total_steps, eval_every=total_steps,
                                    sample_every=total_steps, checkpoint_every=0)
    # No metrics: Evaluator.prepare() would otherwise train the metric classifier before step 1.
    return dataclasses.replace(cfg, train=train_cfg, eval=dataclasses.replace(cfg.eval, metrics=()))


@dataclass(frozen=True)
class Tracking:
    """A throw-away MLflow store with one parent run, as the sweep prepares before its trials."""

    uri: str
    experiment_id: str
    parent_run_id: str


def open_tracking(folder: Path, experiment: str = "benchmarks") -> Tracking:
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    experiment_id = ensure_experiment(uri, experiment)
    parent = ensure_parent_run(uri, experiment_id, f"{experiment}/bench", "benchmark", {"variant": "benchmark"})
    return Tracking(uri, experiment_id, parent)


def tracking_logger(tracking: Tracking, cfg: RunConfig, run_name: str) -> RunLogger:
    """The sweep's tracking callback, built as harness.sweep.objective.start_logger builds it
    (same tags and params), minus the Optuna trial that function needs."""
    tags = {"variant": cfg.variant, "stage": "benchmark", "role": "trial", "seed": cfg.seed,
            "config_hash": config_hash(cfg), "device": str(cfg.train.device)}
    return RunLogger(tracking.uri, tracking.experiment_id, tracking.parent_run_id, run_name, tags,
                     flatten(to_plain(cfg)))


class BenchmarkDone(Exception):
    """Raised by the timer after its last block: stops `train` before its final evaluation."""


class BlockTimer(TrainCallback):
    """Times `train` between block boundaries and runs the other loop's block at each boundary.

    Pass it last among the callbacks: the tracking callback's `on_log` then counts as harness time.
    """

    def __init__(self, make_other: Callable[[TrainState], OtherBlock], warmup_steps: int, block_steps: int,
                 repeats: int, device: torch.device) -> None:
        self.make_other, self.device = make_other, device
        self.warmup_steps, self.block_steps, self.repeats = warmup_steps, block_steps, repeats
        self.harness_seconds: list[float] = []
        self.other_seconds: list[float] = []
        self.next_boundary = warmup_steps
        self.block_start = 0.0
        self.other: OtherBlock | None = None

    def on_start(self, state: TrainState, eval_info: dict[str, float]) -> None:
        self.other = self.make_other(state)  # built on the harness's own data tensor and device

    def on_log(self, step: int, scalars: dict[str, float]) -> None:
        if step < self.next_boundary:
            return  # a window end inside a block: the harness's normal per-window work, timed
        timing.sync(self.device)
        elapsed = time.perf_counter() - self.block_start
        if step == self.warmup_steps:
            self.other(self.warmup_steps)  # the other loop's warm-up, untimed
        else:
            self.harness_seconds.append(elapsed)
            self.other_seconds.append(timing.time_block(lambda: self.other(self.block_steps), self.device))
        if len(self.harness_seconds) == self.repeats:
            raise BenchmarkDone
        self.next_boundary = step + self.block_steps
        self.block_start = time.perf_counter()


def run_interleaved(cfg: RunConfig, tracking: Tracking, run_name: str, make_other: Callable[[TrainState], OtherBlock],
                    block_steps: int, repeats: int, state: TrainState | None = None) -> tuple[list[float], list[float]]:
    """(harness seconds per block, other loop's seconds per block) from one `train(cfg, ...)` call.

    `cfg` comes from `benchmark_config`, so `cfg.train.steps` = warm-up + repeats * block_steps.
    """
    warmup_steps = cfg.train.steps - repeats * block_steps
    device = state.device if state is not None else resolve_device(cfg.train.device)
    timer = BlockTimer(make_other, warmup_steps, block_steps, repeats, device)
    logger = tracking_logger(tracking, cfg, run_name)
    try:
        train(cfg, [logger, timer], state)
    except BenchmarkDone:
        pass
    finally:
        logger.finish("FINISHED")  # writes the buffered metrics: outside every timed block
    if len(timer.harness_seconds) < repeats:
        raise RuntimeError(f"{run_name}: training ended after {len(timer.harness_seconds)} of {repeats} blocks")
    return timer.harness_seconds, timer.other_seconds


def block_sizes(cfg: RunConfig, steps: int, warmup: int) -> tuple[int, int]:
    """(block, warm-up) in generator steps, rounded up to whole logging windows: a block boundary
    must be a window end, where the harness calls its callbacks."""
    return timing.round_up(steps, cfg.train.log_every), timing.round_up(warmup, cfg.train.log_every)
