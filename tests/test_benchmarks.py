"""The benchmark scripts: each runs from a clean checkout, prints its table and its last line.

Nothing here asserts a speed (speed claims live in benchmarks/RESULTS.md); these tests keep
the scripts runnable as the harness changes under them, and check the one property the
step-overhead comparison rests on: the bare loop does the harness's arithmetic.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import benchmarks.loops as loops
from benchmarks.harness_runs import MODEL_CONFIGS, run_config
from benchmarks.step_overhead import retraces_harness
from harness.config.resolve import DEFAULT_VARIANTS

REPO = Path(__file__).resolve().parent.parent


def run_script(name: str, *args: str, timeout: int = 300) -> list[str]:
    """Run benchmarks/<name> as a user does (a script, own process: it sets torch's thread count)."""
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / name), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()


@pytest.mark.parametrize("variant", DEFAULT_VARIANTS)
def test_bare_loop_retraces_the_harness_from_the_same_seed(variant: str) -> None:
    cfg = run_config(MODEL_CONFIGS["mlp"], variant, ["train.device=cpu", "train.batch_size=32"])
    assert retraces_harness(cfg) == "yes"


def test_bare_loop_retraces_wgan_as_published_with_rmsprop() -> None:
    cfg = run_config(MODEL_CONFIGS["mlp"], "wgan_clip", ["train.device=cpu", "train.batch_size=32",
                                                         "train.optimizer=rmsprop", "train.rmsprop_alpha=0.9",
                                                         "sweep.space={}"])  # Adam's beta1 applies to none
    assert type(loops.hand_written_optimizer(loops.nn.Linear(2, 1), cfg, False)).__name__ == "RMSprop"
    assert retraces_harness(cfg) == "yes"


def test_retrace_check_catches_a_bare_loop_that_computes_something_else(monkeypatch) -> None:
    real_penalty = loops.gradient_penalty
    monkeypatch.setattr(loops, "gradient_penalty", lambda D, real, fake: 2 * real_penalty(D, real, fake))
    cfg = run_config(MODEL_CONFIGS["mlp"], "wgan_gp", ["train.device=cpu", "train.batch_size=32"])
    assert retraces_harness(cfg) == "NO"


def table_rows(lines: list[str]) -> list[list[str]]:
    """Body rows of the Markdown table a script printed."""
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines if line.startswith("|")]
    return rows[2:]  # header and separator


def test_step_overhead_prints_a_row_per_variant_and_the_worst_ratio_last() -> None:
    lines = run_script("step_overhead.py", "--quick", "--device", "cpu", "--models", "mlp", "--verify")
    rows = table_rows(lines)
    assert [row[1] for row in rows] == list(DEFAULT_VARIANTS)
    ratios = [float(row[-1]) for row in rows]
    assert re.fullmatch(r"worst harness/bare ratio: \d+\.\d\d", lines[-1])
    assert float(lines[-1].rpartition(" ")[2]) == pytest.approx(max(ratios), abs=0.006)
    assert "mlp (ring8): " + ", ".join(f"{v} yes" for v in DEFAULT_VARIANTS) in "\n".join(lines)


def test_gp_price_prints_harness_and_bare_rows() -> None:
    rows = table_rows(run_script("gp_price.py", "--quick", "--device", "cpu", "--models", "mlp"))
    assert [row[1] for row in rows] == ["harness", "bare"]
    assert all(float(row[-1]) > 0 for row in rows)


def test_gpu_throughput_skips_in_one_line_without_cuda_and_runs_with_allow_cpu() -> None:
    import torch

    if not torch.cuda.is_available():
        skipped = run_script("gpu_throughput.py", "--quick")
        assert len(skipped) == 1 and skipped[0].startswith("GPU benchmark skipped")
    lines = run_script("gpu_throughput.py", "--quick", "--allow-cpu", "--images", "512", "--batch-sizes", "8",
                       "--set", "model.width=8", "--set", "train.n_critic=1")
    assert [row[1] for row in table_rows(lines)] == ["wgan_gp"]
    assert lines[-1].startswith("worst harness/tutorial throughput ratio: ")


def test_gpu_throughput_runs_the_resnet_on_cifar_shaped_images() -> None:
    lines = run_script("gpu_throughput.py", "--quick", "--allow-cpu", "--images", "64", "--batch-sizes", "4",
                       "--config", "experiments/cifar10.yaml", "--shape", "3,32,32", "--variants", "wgan_gp",
                       "--steps", "2", "--warmup", "1", "--set", "train.log_every=2", "--set", "model.ngf=8",
                       "--set", "model.ndf=8", "--set", "train.n_critic=1")
    assert "images 3,32,32" in lines[0] and [row[1] for row in table_rows(lines)] == ["wgan_gp"]


def test_photo_patches_writes_real_photographs_the_loaders_read(tmp_path: Path) -> None:
    import torch

    from harness.config.resolve import parse_experiment, resolve_run
    from harness.data import load_dataset

    lines = run_script("photo_patches.py", str(tmp_path), "--small")
    assert lines[-1] == f"wrote {{'photos': 60, 'cifar-photos': 70}} under {tmp_path}"

    def load(**data: object):
        run = resolve_run(parse_experiment({"name": "t", "data": data, "variants": ["vanilla"]}), "vanilla")
        return load_dataset(run.data, torch.device("cpu"))

    folder = load(name="folder", root=str(tmp_path / "photos"), image_size=32)
    assert folder.images.shape[1:] == (3, 32, 32) and folder.num_classes == 10
    cifar = load(name="cifar10", root=str(tmp_path / "cifar-photos"))
    assert (cifar.images.shape, cifar.test_images.shape) == ((50, 3, 32, 32), (20, 3, 32, 32))
    assert set(cifar.labels.tolist()) == set(range(10)) and float(cifar.images.std()) > 0.2  # colour photographs


def test_sweep_efficiency_accounts_for_every_trial(tmp_path: Path) -> None:
    lines = run_script("sweep_efficiency.py", "--quick", "--workdir", str(tmp_path / "work"))
    text = "\n".join(lines)
    assert re.search(r"pure training: [\d.]+ s = [\d.]+% of wall time", text)
    lost = next(row for row in table_rows(lines) if row[0].startswith("trials whose worker died"))
    assert lost[0].endswith("(0): their whole span") and float(lost[1]) == 0
    training = next(row for row in table_rows(lines) if row[0].startswith("training:"))
    assert float(training[1]) > 0


@pytest.mark.slow
def test_async_logging_compares_both_writers_against_a_real_server() -> None:
    lines = run_script("async_logging.py", "--quick")
    assert [row[0] for row in table_rows(lines)] == ["sync", "async"]
    assert re.fullmatch(r"async/sync per-step tracking cost: \d+\.\d\d", lines[-1])


def test_own_data_writes_sets_that_the_harness_loaders_read(tmp_path: Path) -> None:
    """The sets docs/metrics.md measures the yardstick on: each loads through its dataset entry."""
    import torch

    from harness.config.resolve import parse_experiment, resolve_run
    from harness.data import load_dataset

    lines = run_script("own_data.py", str(tmp_path), "--write-only", "--small")
    assert lines[-1] == f"wrote {{'classes': 400, 'mnist': 150, 'cifar': 150}} under {tmp_path}"

    def load(**data: object):
        run = resolve_run(parse_experiment({"name": "t", "data": data, "variants": ["vanilla"]}), "vanilla")
        return load_dataset(run.data, torch.device("cpu"))

    classes = load(name="folder", root=str(tmp_path / "classes"), image_size=28, channels=3)
    assert classes.images.shape[1:] == (3, 28, 28) and classes.num_classes == 10
    assert classes.images.shape[0] + classes.test_images.shape[0] == 400  # every digit, plain and jittered
    assert load(name="folder", root=str(tmp_path / "flat"), image_size=16).labels is None  # unlabelled
    mnist = load(name="mnist", root=str(tmp_path / "mnist"))
    assert (mnist.images.shape, mnist.test_images.shape) == ((100, 1, 28, 28), (50, 1, 28, 28))
    cifar = load(name="cifar10", root=str(tmp_path / "cifar"))
    assert (cifar.images.shape, cifar.test_images.shape) == ((100, 3, 32, 32), (50, 3, 32, 32))
    assert set(cifar.labels.tolist()) == set(range(10)) and float(cifar.images.std()) > 0.1  # coloured digits
