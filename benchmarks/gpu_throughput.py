"""GPU throughput: the harness's step on images resident on the GPU vs the PyTorch tutorial's loop.

Harness: `harness.train.trainer.train` with the sweep's MLflow callback on synthetic images of `--shape`
(MNIST's 1x28x28 by default; 3,32,32 with `--config experiments/cifar10.yaml` for the ResNet at
CIFAR-10's size) held on the GPU (random values in [-1, 1]; nothing is downloaded). Tutorial: the same model, loss
and optimizer fed the way the PyTorch DCGAN tutorial feeds it (a DataLoader over CPU tensors with
shuffle, `.to(device)` per batch, `.item()` of the losses every step). Target: harness >= 2x the
tutorial's throughput. Optional rows switch on TF32, fused Adam or channels_last (both sides).

    python benchmarks/gpu_throughput.py [--quick] [--batch-sizes 64,256] [--tf32] [--fused-adam] [--channels-last]
    python benchmarks/gpu_throughput.py --config experiments/cifar10.yaml --shape 3,32,32 --variants wgan_gp,wgan_clip

Without CUDA it prints one line saying it was skipped and exits 0 (`--allow-cpu` runs it anyway,
to check the script itself; its numbers then mean nothing).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `harness` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import timing
from benchmarks.harness_runs import Tracking, benchmark_config, block_sizes, open_tracking, run_config, run_interleaved
from benchmarks.loops import build_bare, loader_batches, run_steps
from harness.config.resolve import DEFAULT_VARIANTS, RunConfig
from harness.data.images import ImageTensorDataset
from harness.train.device import seed_everything
from harness.core.errors import cli_entry
from harness.metrics import METRICS
from harness.models import build_models
from harness.recipes.optimizers import build_optimizer
from harness.recipes.schedules import SCHEDULES
from harness.train.trainer import TrainState

OPTIONS = ("tf32", "fused_adam", "channels_last")
QUICK = {"batch_sizes": "64", "variants": "wgan_gp", "steps": 10, "warmup": 10, "repeats": 2, "images": 4096,
         "overrides": ["train.log_every=10"]}
HEADERS = ["batch", "variant", "option", "harness ms/step", "tutorial ms/step", "harness/tutorial throughput",
           "harness vs baseline"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="experiments/mnist.yaml", help="model and training settings")
    parser.add_argument("--batch-sizes", default="64,256", help="comma-separated")
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help="comma-separated")
    parser.add_argument("--steps", type=int, default=100, help="generator steps per block (whole logging windows)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed generator steps per side first")
    parser.add_argument("--repeats", type=int, default=7, help="timed blocks per side (median reported)")
    parser.add_argument("--images", type=int, default=60000, help="synthetic images (MNIST has 60000)")
    parser.add_argument("--shape", default="1,28,28", help="C,H,W of the synthetic images (3,32,32: CIFAR-10's)")
    parser.add_argument("--loader-workers", type=int, default=0, help="the tutorial DataLoader's num_workers")
    parser.add_argument("--tf32", action="store_true", help="extra rows with TF32 matmuls and convolutions")
    parser.add_argument("--fused-adam", action="store_true", help="extra rows with Adam(fused=True)")
    parser.add_argument("--channels-last", action="store_true", help="extra rows with channels_last models/data")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config override, as in python -m harness.sweep; repeatable")
    parser.add_argument("--threads", type=int, help="torch threads (default: the available cores)")
    parser.add_argument("--allow-cpu", action="store_true", help="run on the CPU when there is no GPU (smoke test)")
    parser.add_argument("--quick", action="store_true", help=f"tiny smoke-run defaults: {QUICK}")
    return timing.parse_with_quick(parser, argv, QUICK)


def image_shape(text: str) -> tuple[int, int, int]:
    try:
        shape = tuple(int(item) for item in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise SystemExit(f"error: --shape {text!r}: C,H,W, three positive integers")
    return shape  # type: ignore[return-value]


def synthetic_images(count: int, shape: tuple[int, int, int] = (1, 28, 28), seed: int = 0) -> torch.Tensor:
    """N x C x H x W uniform in [-1, 1] on the CPU: a real dataset's shape and range, no download."""
    return torch.rand(count, *shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def synthetic_state(cfg: RunConfig, images: torch.Tensor, option: str) -> TrainState:
    """What harness.train.trainer.build_state builds, on the given device-resident images instead of a
    named dataset (whose loader would download MNIST)."""
    device = images.device
    seed_everything(cfg.seed)
    labels = torch.zeros(len(images), dtype=torch.long, device=device)  # only the metrics read labels
    dataset = ImageTensorDataset("synthetic", (images, labels, images[:256], labels[:256]), num_classes=10)
    G, D = (m.to(device) for m in build_models(dataset.sample_shape, cfg.model))
    if option == "channels_last":
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    opt_G, opt_D = (optimizer(model, cfg, option) for model in (G, D))
    schedule, direction = SCHEDULES.get(cfg.train.scheduler), METRICS.get(cfg.objective).direction
    return TrainState(cfg, device, dataset, G, D, opt_G, opt_D, schedule.build(opt_G, cfg.train, direction),
                      schedule.build(opt_D, cfg.train, direction))


def optimizer(model: torch.nn.Module, cfg: RunConfig, option: str) -> torch.optim.Optimizer:
    """The run's optimizer, as build_state makes it; the fused_adam rows switch Adam's fused kernel on
    (both sides; an RMSProp variant's rows stay unfused)."""
    built = build_optimizer(model.parameters(), cfg.train)
    if option == "fused_adam" and isinstance(built, torch.optim.Adam):  # the same settings, read back from it
        return torch.optim.Adam(model.parameters(), **{**built.defaults, "fused": True})
    return built


@contextmanager
def option_applied(option: str) -> Iterator[None]:
    """TF32 is a process-wide switch: on for its own rows only, torch's defaults restored after."""
    if option != "tf32":
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def measure(batch: int, variant: str, option: str, args: argparse.Namespace, data: dict[str, torch.Tensor],
            device: torch.device, tracking: Tracking) -> tuple[float, float, float]:
    """(harness, tutorial) median ms per generator step for one row, and the paired throughput ratio."""
    cfg = run_config(args.config, variant, [f"train.device={device.type}", f"train.batch_size={batch}",
                                            *args.overrides])
    block, warmup = block_sizes(cfg, args.steps, args.warmup)
    cfg = benchmark_config(cfg, warmup + args.repeats * block)
    channels_last = option == "channels_last"
    images = data["device"].contiguous(memory_format=torch.channels_last) if channels_last else data["device"]

    def make_tutorial(state: TrainState) -> timing.Block:
        batches = loader_batches(data["cpu"], batch, device, args.loader_workers, channels_last)
        gan = build_bare(cfg, state.dataset.sample_shape, device, batches, read_losses=True,
                         fused_adam=option == "fused_adam", channels_last=channels_last)
        return lambda steps: run_steps(gan, steps)

    with option_applied(option):
        state = synthetic_state(cfg, images, option)
        harness_s, tutorial_s = run_interleaved(cfg, tracking, f"gpu/{variant}/b{batch}/{option}", make_tutorial,
                                                block, args.repeats, state=state)
    return (timing.median_ms(harness_s, block), timing.median_ms(tutorial_s, block),
            timing.paired_ratio(tutorial_s, harness_s))


def header(args: argparse.Namespace, device: torch.device, threads: int) -> list[str]:
    return [
        f"# GPU throughput: harness (data on the device) vs the PyTorch tutorial's loop, {args.config}, images {args.shape}",
        *timing.environment_lines(device, threads),
        f"torch defaults: matmul.allow_tf32={torch.backends.cuda.matmul.allow_tf32}, "
        f"cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}; config {args.config} {' '.join(args.overrides)}",
        f"data: {args.images} synthetic {args.shape} images in [-1, 1]. harness = harness.train.trainer.train with",
        "  the MLflow RunLogger, images resident on the device (evaluation and samples excluded, as in",
        "  step_overhead.py).",
        f"tutorial = DataLoader(TensorDataset(cpu images), shuffle=True, num_workers={args.loader_workers}),",
        "  .to(device) per batch, .item() of every loss; same models, losses, penalty, clipping, schedule, Adam.",
        f"timing: {args.warmup} warm-up steps per side, then {args.repeats} interleaved blocks of {args.steps}",
        "  generator steps per side (rounded up to whole logging windows); median ms per generator step;",
        "  harness/tutorial throughput = median over the rounds of tutorial block time / harness block time.",
        "option rows apply the option to both sides; 'harness vs baseline' = baseline harness ms / this row's.",
    ]


def batch_sizes(text: str) -> list[int]:
    try:
        sizes = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 2:
        raise SystemExit(f"error: --batch-sizes {text!r}: comma-separated integers >= 2")
    return sizes


def config_variants(config: str) -> list[str]:
    """The variant names the benchmark's config defines (a variant is measured as the sweep would train it)."""
    from harness.config.resolve import load_experiment

    path = Path(config) if Path(config).is_absolute() else timing.REPO / config
    return [spec.name for spec in load_experiment(path).variants]


def run_rows(args: argparse.Namespace, device: torch.device) -> list[list[object]]:
    batches = batch_sizes(args.batch_sizes)
    variants = timing.parse_list(args.variants, config_variants(args.config), "--variants")
    options = ["baseline", *(o for o in OPTIONS if getattr(args, o))]
    cpu_images = synthetic_images(args.images, image_shape(args.shape))
    data = {"cpu": cpu_images, "device": cpu_images.to(device)}
    rows, baseline = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        tracking = open_tracking(Path(tmp))
        for option in options:
            for batch in batches:
                for variant in variants:
                    harness_ms, tutorial_ms, speedup = measure(batch, variant, option, args, data, device, tracking)
                    baseline.setdefault((batch, variant), harness_ms)
                    rows.append([batch, variant, option, harness_ms, tutorial_ms, speedup,
                                 baseline[(batch, variant)] / harness_ms])
    return rows


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not torch.cuda.is_available() and not args.allow_cpu:
        print(f"GPU benchmark skipped: torch.cuda.is_available() is False (torch {torch.__version__}, "
              f"CUDA build {torch.version.cuda or 'none'}); nothing to measure on this machine")
        return 0
    threads = timing.set_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print("\n".join(header(args, device, threads)), flush=True)
    rows = run_rows(args, device)
    timing.print_results(HEADERS, rows,
                         f"worst harness/tutorial throughput ratio: {min(row[5] for row in rows):.2f} (target >= 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
