"""The price of the gradient penalty: ms per critic step of wgan_gp vs wgan_clip on the same model.

Both the harness's own critic step (`harness.train.trainer.critic_step`, which also keeps the step's
scores on the device for logging) and the bare hand-written critic step of benchmarks/loops.py are timed,
for the toy MLP and the DCGAN; the four contenders of a model run interleaved.

    python benchmarks/gp_price.py [--quick] [--device auto|cpu|cuda] [--steps N] [--repeats R]
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `harness` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import timing
from benchmarks.harness_runs import MODEL_CONFIGS, MODEL_LABELS, run_config
from benchmarks.loops import bare_critic_step, build_bare, harness_data_batches
from harness.core.errors import cli_entry
from harness.train.trainer import Recipe, build_state, critic_step

QUICK = {"steps": 5, "repeats": 3, "threads": 1}  # a smoke run; one thread stays steady on shared cores
HEADERS = ["model", "path", "batch", "wgan_clip ms/critic step", "wgan_gp ms/critic step", "gp/clip"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--steps", type=int, default=100, help="critic steps per timed block")
    parser.add_argument("--repeats", type=int, default=7, help="timed blocks per contender (median reported)")
    parser.add_argument("--models", default=",".join(MODEL_CONFIGS), help="comma-separated: mlp, dcgan")
    parser.add_argument("--threads", type=int, help="torch threads (default: the available cores)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for every model, as in python -m harness.sweep; repeatable")
    parser.add_argument("--quick", action="store_true", help=f"tiny smoke-run defaults: {QUICK}")
    args = timing.parse_with_quick(parser, argv, QUICK)
    if min(args.steps, args.repeats) < 1:
        parser.error("--steps and --repeats must be >= 1")
    return args


def contenders(model: str, args: argparse.Namespace, device_type: str) -> tuple[dict[str, timing.Block], int]:
    """Blocks of `args.steps` critic steps: {harness, bare} x {wgan_clip, wgan_gp}; and the batch size."""
    blocks: dict[str, timing.Block] = {}
    batch_size = 0
    for variant in ("wgan_clip", "wgan_gp"):
        cfg = run_config(MODEL_CONFIGS[model], variant, [f"train.device={device_type}", *args.overrides])
        state, recipe = build_state(cfg), Recipe.of(cfg)
        gan = build_bare(cfg, state.dataset.sample_shape, state.device,
                         harness_data_batches(state.dataset, cfg.train.batch_size))
        blocks[f"harness/{variant}"] = timing.repeated(partial(critic_step, state, recipe, False), args.steps)
        blocks[f"bare/{variant}"] = timing.repeated(partial(bare_critic_step, gan), args.steps)
        batch_size = cfg.train.batch_size
    return blocks, batch_size


def measure(model: str, args: argparse.Namespace, device: torch.device) -> list[list[object]]:
    """Two table rows (harness, bare) for one model."""
    blocks, batch_size = contenders(model, args, device.type)
    seconds = timing.interleaved(blocks, args.repeats, device)
    rows = []
    for path in ("harness", "bare"):
        clip_ms = timing.median_ms(seconds[f"{path}/wgan_clip"], args.steps)
        gp_ms = timing.median_ms(seconds[f"{path}/wgan_gp"], args.steps)
        ratio = timing.paired_ratio(seconds[f"{path}/wgan_gp"], seconds[f"{path}/wgan_clip"])
        rows.append([MODEL_LABELS[model], path, batch_size, clip_ms, gp_ms, ratio])
    return rows


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    models = timing.parse_list(args.models, list(MODEL_CONFIGS), "--models")
    threads = timing.set_threads(args.threads)
    device = timing.pick_device(args.device)
    print("# The price of the gradient penalty: critic step of wgan_gp vs wgan_clip")
    print("\n".join(timing.environment_lines(device, threads)))
    print("harness = harness.train.trainer.critic_step (batch, fake, loss, penalty or clipping, Adam step, scores")
    print("  kept for logging; no Lipschitz diagnostic); bare = benchmarks/loops.py bare_critic_step (the same work,")
    print("  nothing kept). Same model and data per row; only the Lipschitz constraint differs between the columns.")
    print(f"timing: one untimed block each, then {args.repeats} blocks of {args.steps} critic steps per contender,")
    print("  the four contenders of a model interleaved; median ms per critic step; gp/clip = median over the")
    print("  rounds of the two blocks' ratio.")
    rows = [row for model in models for row in measure(model, args, device)]
    timing.print_results(HEADERS, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
