"""`python -m harness.train` end to end on a tiny config: outputs, --resume, and one-line config errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

from harness.config.resolve import load_experiment, resolve_run
from harness.train.__main__ import main
from harness.train.trainer import build_state, train
from harness.train.visualize import GRID_MIN_PIXELS

CONFIG = {
    "name": "cli",
    "seed": 0,
    "data": {"name": "ring8"},
    "model": {"z_dim": 4, "width": 16, "depth": 2},
    "train": {"steps": 8, "batch_size": 16, "lr": 1e-3, "n_critic": 2, "log_every": 2, "eval_every": 4,
              "sample_every": 4, "device": "cpu"},
    "eval": {"num_samples": 200},
    "sweep": {"trials_per_variant": 1},
    "variants": ["wgan_gp", "vanilla"],
}


def write_config(tmp_path: Path, config: dict | None = None, text: str | None = None) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(config or CONFIG))
    return path


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # One thread, as in-process tests use (conftest), so the CLI's numbers can be compared bit for bit.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "harness.train", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def log_records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_train_writes_outputs_then_resume_continues_bit_identically(tmp_path: Path) -> None:
    cfg_path, out = write_config(tmp_path), tmp_path / "out"
    first = cli(tmp_path, str(cfg_path), "--variant", "wgan_gp", "--set", "train.steps=4", "--out", str(out))
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr and "wgan_gp: 4 steps" in first.stdout

    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert resolved["variant"] == "wgan_gp" and resolved["train"]["steps"] == 4
    assert resolved["model"]["arch"] == "mlp" and resolved["model"]["critic_norm"] == "none"  # no `auto` left
    assert (resolved["train"]["loss"], resolved["train"]["constraint"]) == ("wasserstein", "gp")
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 4 and ckpt["config"] == resolved
    assert {"G", "D", "opt_G", "opt_D", "sched_G", "sched_D", "rng", "data"} <= set(ckpt)
    with Image.open(out / "samples" / "step_0000004.png") as image:
        assert image.mode == "RGB" and min(image.size) >= 100
    assert torch.load(out / "samples.pt", weights_only=True).shape == (1000, 2)
    records = log_records(out)
    assert [r["step"] for r in records if "eval" not in r] == [2, 4]
    assert [r["step"] for r in records if "eval" in r] == [4] and "w1" in records[-1]["eval"]

    second = cli(tmp_path, str(cfg_path), "--variant", "wgan_gp", "--resume", "--out", str(out))
    assert second.returncode == 0, second.stderr
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 8
    records = log_records(out)  # appended, not rewritten
    assert [r["step"] for r in records if "eval" not in r] == [2, 4, 6, 8]
    assert [r["step"] for r in records if "eval" in r] == [4, 8]
    assert (out / "samples" / "step_0000004.png").exists() and (out / "samples" / "step_0000008.png").exists()

    # 4 steps + resume + 4 steps == 8 steps in one go (wgan_gp: no RNG draw depends on where windows end)
    run = resolve_run(load_experiment(cfg_path), "wgan_gp")
    straight = build_state(run)
    train(run, [], straight)
    resumed = torch.load(out / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(resumed["G"][k], v) for k, v in straight.G.state_dict().items())
    assert all(torch.equal(resumed["D"][k], v) for k, v in straight.D.state_dict().items())


def test_bad_config_exits_2_with_one_error_line_and_no_traceback(tmp_path: Path) -> None:
    text = yaml.safe_dump(CONFIG).replace("lr: 0.001", "lr: '1e-4'")
    result = cli(tmp_path, str(write_config(tmp_path, text=text)), "--variant", "wgan_gp", "--out",
                 str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr == "error: train.lr: '1e-4' is a string; expected a number (it is quoted: drop the quotes)\n"
    assert result.stdout == "" and not (tmp_path / "out").exists()


def test_image_runs_write_a_torchvision_sample_grid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.train.trainer as trainer

    class ConstantEvaluator:  # the image metrics' classifier is tested with the metrics, not here
        def __init__(self, cfg, dataset, device) -> None:
            self.objective = cfg.objective

        info: dict = {}


        def prepare(self) -> None:
            pass

        def __call__(self, G) -> dict[str, float]:
            return {self.objective: 0.0}

    monkeypatch.setattr(trainer, "Evaluator", ConstantEvaluator)
    out = tmp_path / "out"
    argv = [str(write_config(tmp_path)), "--variant", "wgan_gp", "--out", str(out), "--set", "data.name=digits",
            "--set", "model={width: 8, z_dim: 4}", "--set", "train.steps=2"]
    assert main(argv) == 0
    with Image.open(out / "samples" / "step_0000002.png") as image:
        side = 8 * (8 + 1) + 1  # 64 tiles of 8 px with 1 px padding, upscaled by an integer factor
        assert image.mode == "RGB" and image.size == (side * (GRID_MIN_PIXELS // side),) * 2
    assert (out / "samples" / "step_0000000.png").is_file()  # the untrained generator, before the first step
    assert torch.load(out / "samples.pt", weights_only=True).shape == (64, 1, 8, 8)


# --- the same entry point in-process: every user error is one line and exit 2 ------------------------------


def one_error_line(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    return err.strip()


@pytest.mark.parametrize("extra, message", [
    (["--set", "train.stepz=5"], "error: train.stepz: unknown key (did you mean 'steps'?)"),
    (["--set", "train.steps"], "error: --set: 'train.steps' is not of the form key.path=value"),
    (["--set", "train.lr=0"], "error: train.lr: 0.0 is out of range; allowed: > 0 and <= 1"),
    (["--set", "variants=[wgan_clip]"], "error: --variant: 'wgan_gp' is not one of: wgan_clip"),
    (["--set", "data.name=mnist", "--set", "data.root=/nonexistent/root"],
     "error: data.root: mnist not found under '/nonexistent/root/MNIST/raw' and data.download is false"),
])
def test_user_errors_in_process(tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str], message: str) -> None:
    argv = [str(write_config(tmp_path)), "--variant", "wgan_gp", "--out", str(tmp_path / "out"), *extra]
    assert one_error_line(capsys, argv).startswith(message)


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    err = one_error_line(capsys, [str(tmp_path / "nope.yaml"), "--variant", "wgan_gp"])
    assert err == f"error: cannot read config {str(tmp_path / 'nope.yaml')!r}: No such file or directory"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_cpu_machine(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = [str(write_config(tmp_path)), "--variant", "wgan_gp", "--set", "train.device=cuda"]
    assert one_error_line(capsys, argv) == ("error: train.device: 'cuda' but no CUDA device is available; "
                                            "allowed here: auto, cpu")


def test_resume_with_a_different_config_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg_path, out = write_config(tmp_path), tmp_path / "out"
    assert main([str(cfg_path), "--variant", "vanilla", "--set", "train.steps=2", "--out", str(out)]) == 0
    capsys.readouterr()
    err = one_error_line(capsys, [str(cfg_path), "--variant", "vanilla", "--resume", "--out", str(out),
                                  "--set", "train.lr=0.01"])
    assert err == (f"error: checkpoint {str(out / 'checkpoint.pt')!r} was written with a different config "
                   "(differs in train.lr); resume with the same config")
