"""fid_inception is an optional extra: off by default, and it refuses (never downloads) when unusable."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from harness.config import parse_experiment, resolve_run
from harness.data import load_dataset
from harness.errors import UserError
from harness.data import DATASETS
from harness.metrics import Evaluator, inception, metrics_for


def test_it_is_not_a_default_metric() -> None:
    digits = DATASETS.get("digits").properties
    assert "fid_inception" not in metrics_for(digits)
    assert "fid_inception" in metrics_for(digits, include_optional=True)


def test_missing_packages_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in inception.REQUIRED_MODULES else real_find_spec(name, *a))
    with pytest.raises(UserError, match=r"needs torchmetrics\[image\], torch-fidelity"):
        inception.require_inception()


def test_missing_weights_are_named_and_not_downloaded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(inception, "missing_packages", list)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / inception.WEIGHTS_FILE
    with pytest.raises(UserError, match="never downloads") as info:
        inception.require_inception()
    assert str(expected) in str(info.value)
    assert not expected.exists() and list(tmp_path.iterdir()) == []
    expected.parent.mkdir(parents=True)
    expected.touch()
    assert inception.require_inception() == expected


def test_the_evaluator_refuses_before_training(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # whatever is installed, no weights are here
    exp = parse_experiment({"name": "t", "data": {"name": "digits"}, "eval": {"metrics": ["fid_inception"]},
                            "sweep": {"trials_per_variant": 1, "objective": "fid_inception"}})
    run = resolve_run(exp, "wgan_gp")
    with pytest.raises(UserError, match="fid_inception needs"):
        Evaluator(run, load_dataset(run.data, torch.device("cpu")), torch.device("cpu")).prepare()


def test_images_are_mapped_to_three_channels_in_unit_range() -> None:
    x = torch.tensor([-1.0, 0.0, 1.0, 1.5]).view(1, 1, 2, 2)
    out = inception.to_inception_input(x)
    assert out.shape == (1, 3, 2, 2)
    assert out[0, 2].flatten().tolist() == [0.0, 0.5, 1.0, 1.0]
