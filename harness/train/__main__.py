"""`python -m harness.train CONFIG --variant NAME`: train one run and write its outputs to a folder.

Outputs: config.yaml (resolved), log.jsonl (window scalars and evaluations), samples/step_N.png,
samples.pt (final samples), checkpoint.pt (final, and every train.checkpoint_every steps or
train.checkpoint_every_seconds of wall time).
`--resume` continues from the folder's checkpoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm import tqdm

from harness.config.cli_args import make_parser, parse, print_config
from harness.train.checkpoint import load_checkpoint, save_checkpoint
from harness.config.resolve import load_experiment
from harness.train.device import resolve_device
from harness.core.errors import UserError, cli_entry
from harness.core.strict import to_plain
from harness.train.trainer import Diverged, TrainCallback, TrainState, train


class LocalOutputs(TrainCallback):
    """Writes a run's log, sample pictures and checkpoints into one folder, with a progress bar."""

    def __init__(self, out_dir: Path, total_steps: int, start_step: int) -> None:
        self.out_dir = out_dir
        (out_dir / "samples").mkdir(parents=True, exist_ok=True)
        log_path = out_dir / "log.jsonl"
        kept = log_lines_up_to(log_path, start_step) if start_step else []
        self.log = log_path.open("w")
        self.log.writelines(kept)  # a resumed run continues the log from its checkpoint's step
        self.bar = tqdm(total=total_steps, initial=start_step, unit="step", disable=None, dynamic_ncols=True)

    def on_log(self, step: int, scalars: dict[str, float]) -> None:
        self.log.write(json.dumps({"step": step, **scalars}) + "\n")
        self.bar.update(step - self.bar.n)
        self.bar.set_postfix(d_loss=f"{scalars.get('d_loss', float('nan')):.3f}",
                             g_loss=f"{scalars.get('g_loss', float('nan')):.3f}", refresh=False)

    def on_eval(self, step: int, metrics: dict[str, float]) -> None:
        self.log.write(json.dumps({"step": step, "eval": metrics}) + "\n")
        self.log.flush()
        tqdm.write(f"step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in metrics.items()))

    def on_samples(self, step: int, image: np.ndarray, samples: torch.Tensor) -> None:
        from PIL import Image

        Image.fromarray(image).save(self.out_dir / "samples" / f"step_{step:07d}.png")
        torch.save(samples.cpu(), self.out_dir / "samples.pt")

    def on_checkpoint(self, state: TrainState) -> None:
        save_checkpoint(state, self.out_dir / "checkpoint.pt")

    def close(self) -> None:
        self.bar.close()
        self.log.close()


def log_lines_up_to(path: Path, step: int) -> list[str]:
    """The log's records up to `step`: what was logged after the checkpoint is trained again."""
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines(keepends=True)
            if line.strip() and json.loads(line)["step"] <= step]


EXAMPLES = """  gan-ablate train experiments/ablation.yaml --variant wgan_gp train.steps=200
  gan-ablate train experiments/toy.yaml --variant vanilla --out runs/v1 --resume"""


def build_parser(prog: str = "python -m harness.train", parser: Any = None) -> argparse.ArgumentParser:
    parser = make_parser(prog, __doc__.splitlines()[0], EXAMPLES, parser)
    parser.add_argument("--variant", required=True, help="a variant name from the config's `variants:`")
    parser.add_argument("--out", type=Path, help="output folder (default runs/train/<name>/<variant>)")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    parser.set_defaults(run=run)
    return parser


@cli_entry
def main(argv: list[str] | None = None) -> int:
    return run(parse(build_parser(), argv))


def run(args: argparse.Namespace) -> int:
    exp = load_experiment(args.config, args.overrides, args.only)
    if args.print_config:
        print_config(exp)
        return 0
    cfg = exp.run(exp.variant(args.variant).name)
    out_dir = args.out or Path("runs") / "train" / cfg.name / cfg.variant
    device = resolve_device(cfg.train.device)
    checkpoint = out_dir / "checkpoint.pt"
    if args.resume and not checkpoint.exists():
        raise UserError(f"--resume: no checkpoint at {str(checkpoint)!r}; run without --resume to start fresh")
    state = load_checkpoint(checkpoint, cfg, device) if args.resume else None
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.yaml").write_text(yaml.safe_dump(to_plain(cfg), sort_keys=False))
    outputs = LocalOutputs(out_dir, cfg.train.steps, state.step if state else 0)
    try:
        result = train(cfg, [outputs], state)
    except Diverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        outputs.close()
    print(f"{cfg.variant}: {result.steps} steps in {result.train_seconds:.1f}s training "
          f"+ {result.eval_seconds:.1f}s evaluation; {cfg.objective}={result.final_metrics.get(cfg.objective)}; "
          f"outputs in {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
