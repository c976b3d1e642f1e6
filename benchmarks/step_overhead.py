"""Step overhead: the harness's training step (tracking on, buffered) vs a bare hand-written loop.

For every variant and model: median ms per generator step of `harness.train.trainer.train` with the
sweep's MLflow callback, and of the bare loop in benchmarks/loops.py on identical models, data,
losses and optimizer settings; and their ratio (target <= 1.05 on CPU and on GPU).

    python benchmarks/step_overhead.py [--quick] [--device auto|cpu|cuda] [--steps N] [--repeats R]

The last line is always `worst harness/bare ratio: X.XX`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from tqdm import tqdm

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `harness` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import timing
from benchmarks.harness_runs import (MODEL_CONFIGS, MODEL_LABELS, Tracking, benchmark_config, block_sizes,
                                     open_tracking, run_config, run_interleaved)
from benchmarks.loops import build_bare, harness_data_batches, run_steps
from harness.config.resolve import DEFAULT_VARIANTS, RunConfig
from harness.train.device import seed_everything
from harness.core.errors import cli_entry
from harness.train.step_stats import StepStats
from harness.train.trainer import Recipe, TrainState, build_state, training_step

# A smoke run only: 5-step logging windows (more flushes than the real configs), 5-step blocks, batch 64
# for both models, and one thread, which stays steady when other jobs share the cores (two then stall).
QUICK = {"steps": 5, "repeats": 2, "warmup": 5, "threads": 1,
         "overrides": ["train.log_every=5", "train.batch_size=64"]}
HEADERS = ["model", "variant", "n_critic", "batch", "steps/block", "harness ms/step", "bare ms/step",
           "harness/bare"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--steps", type=int, default=100,
                        help="generator steps per timed block, rounded up to whole train.log_every windows")
    parser.add_argument("--repeats", type=int, default=7, help="timed blocks per side (median reported)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed generator steps per side first")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help="comma-separated")
    parser.add_argument("--models", default=",".join(MODEL_CONFIGS), help="comma-separated: mlp, dcgan")
    parser.add_argument("--threads", type=int, help="torch threads (default: the available cores)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for every model, as in python -m harness.sweep; repeatable")
    parser.add_argument("--verify", action="store_true",
                        help="first check that the bare loop retraces the harness's training from the same seed")
    parser.add_argument("--quick", action="store_true", help=f"tiny smoke-run defaults: {QUICK}")
    args = timing.parse_with_quick(parser, argv, QUICK)
    if min(args.steps, args.repeats, args.warmup) < 1:
        parser.error("--steps, --repeats and --warmup must be >= 1")
    return args


def header(args: argparse.Namespace, device_lines: list[str]) -> list[str]:
    return [
        "# Step overhead: harness training step vs a bare hand-written loop",
        *device_lines,
        "harness = harness.train.trainer.train(cfg, [RunLogger, timer]): the training steps, the per-step scalars kept",
        "  on the device, the per-window flush (one host sync per train.log_every steps) and divergence check, the",
        "  Lipschitz diagnostic at window ends, and the sweep's MLflow RunLogger.on_log (buffered; SQLite store in",
        "  a temporary folder). Excluded: start-up (data, models, MLflow run), evaluation and sample pictures",
        "  (moved past the end, eval.metrics off), the final flush and checkpoint.",
        "bare = benchmarks/loops.py: the same G and D (harness.models.build_models), the same data on the same",
        "  device, loss, penalty, clipping, LR schedule, n_critic, batch size and Adam betas; no logging at all.",
        f"timing: {args.warmup} warm-up steps per side, then {args.repeats} blocks per side of {args.steps} generator",
        "  steps (both rounded up to whole logging windows: steps/block below), harness and bare interleaved",
        "  A B A B; median ms per generator step; harness/bare = median over the rounds of the two blocks' ratio.",
    ]


def measure(model: str, variant: str, args: argparse.Namespace, device_type: str, tracking: Tracking) -> list[object]:
    """One table row: both loops on one variant of one model."""
    cfg = run_config(MODEL_CONFIGS[model], variant, [f"train.device={device_type}", *args.overrides])
    block, warmup = block_sizes(cfg, args.steps, args.warmup)
    cfg = benchmark_config(cfg, warmup + args.repeats * block)

    def make_bare(state: TrainState) -> timing.Block:
        batches = harness_data_batches(state.dataset, cfg.train.batch_size)
        gan = build_bare(cfg, state.dataset.sample_shape, state.device, batches)
        return lambda steps: run_steps(gan, steps)

    harness_s, bare_s = run_interleaved(cfg, tracking, f"{model}/{variant}", make_bare, block, args.repeats)
    harness_ms, bare_ms = timing.median_ms(harness_s, block), timing.median_ms(bare_s, block)
    return [MODEL_LABELS[model], variant, cfg.train.n_critic, cfg.train.batch_size, block, harness_ms, bare_ms,
            timing.paired_ratio(harness_s, bare_s)]


def retraces_harness(cfg: RunConfig, steps: int = 3) -> str:
    """Whether the bare loop ends `steps` generator steps with the harness's weights, from the same seed.

    Only on the Gaussian-mixture toys: there both loops draw their random numbers in the same order
    (an image dataset draws its first permutation before the models are built, the bare loop after).
    """
    if cfg.data.name not in ("ring8", "grid25"):
        return "n/a (image data)"
    state, recipe = build_state(cfg), Recipe.of(cfg)
    stats = StepStats(steps, state.device)
    for _ in range(steps):
        training_step(state, recipe, stats, diagnose=False)
    seed_everything(cfg.seed)  # build_state's seeding, then the same model construction
    gan = build_bare(cfg, state.dataset.sample_shape, state.device,
                     harness_data_batches(state.dataset, cfg.train.batch_size))
    run_steps(gan, steps)
    pairs = [*zip(state.G.parameters(), gan.G.parameters()), *zip(state.D.parameters(), gan.D.parameters())]
    return "yes" if all(torch.allclose(a, b, rtol=1e-5, atol=1e-7) for a, b in pairs) else "NO"


def verify_lines(models: list[str], variants: list[str], args: argparse.Namespace, device_type: str) -> list[str]:
    lines = ["bare loop retraces the harness (3 steps, same seed, weights equal):"]
    overrides = [f"train.device={device_type}", *args.overrides]
    for model in models:
        results = [f"{variant} {retraces_harness(run_config(MODEL_CONFIGS[model], variant, overrides))}"
                   for variant in variants]
        lines.append(f"  {MODEL_LABELS[model]}: " + ", ".join(results))
    return lines


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    variants = timing.parse_list(args.variants, DEFAULT_VARIANTS, "--variants")
    models = timing.parse_list(args.models, list(MODEL_CONFIGS), "--models")
    threads = timing.set_threads(args.threads)
    device = timing.pick_device(args.device)
    print("\n".join(header(args, timing.environment_lines(device, threads))), flush=True)
    if args.verify:
        print("\n".join(verify_lines(models, variants, args, device.type)), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        tracking = open_tracking(Path(tmp))
        pairs = [(model, variant) for model in models for variant in variants]
        for model, variant in tqdm(pairs, desc="rows", unit="row", file=sys.stderr, disable=None):
            rows.append(measure(model, variant, args, device.type, tracking))
    timing.print_results(HEADERS, rows, f"worst harness/bare ratio: {max(row[-1] for row in rows):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
