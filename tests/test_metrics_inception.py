"""The Inception detector: uint8 inputs as a PNG would hold them, weights that are never downloaded unasked,
a broken file in one line, and `fetch_weights` that checks a file before it lands."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from harness.data import DATASETS
from harness.core.errors import UserError
from harness.metrics import inception, metrics_for
from harness.metrics.inception import to_uint8
from tests.inception_support import image_set, write_random_inception
from tests.test_metrics_fidelity import SIDE, image_dataset, run_config


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_inception(tmp_path_factory.mktemp("torch-home"))


def test_the_inception_metrics_are_extras_not_defaults() -> None:
    digits = DATASETS.get("digits").properties
    assert "fid" not in metrics_for(digits) and "fid" in metrics_for(digits, include_optional=True)


def test_a_missing_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == inception.PACKAGE else real_find_spec(name, *a))
    with pytest.raises(UserError, match=r"needs the torch-fidelity package \(pip install 'gan-ablation-harness\[fid\]'\)"):
        inception.require_weights(("fid",))


def test_to_uint8_rounds_as_a_saved_png_and_repeats_grayscale() -> None:
    levels = torch.arange(256, dtype=torch.float32)
    as_floats = levels / 255 * 2 - 1  # how the loaders map uint8 pixels to [-1, 1]
    assert torch.equal(to_uint8(as_floats.view(1, 1, 16, 16))[0, 0].flatten(), levels.to(torch.uint8))
    # out-of-range values clamp; 0 is mid-grey 128 (x * 127.5 + 128, truncated: 128.0 -> 128)
    assert to_uint8(torch.tensor([-2.0, -1.0, 0.0, 1.0, 3.0]).view(1, 1, 1, 5))[0, 0].flatten().tolist() == [
        0, 0, 128, 255, 255]
    assert to_uint8(torch.zeros(2, 1, 3, 3)).shape == (2, 3, 3, 3)


def test_missing_weights_name_both_routes_and_nothing_is_downloaded(tmp_path: Path, monkeypatch) -> None:
    from harness.metrics import Evaluator

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cfg = run_config(tmp_path / "cache")
    with pytest.raises(UserError) as info:
        Evaluator(cfg, image_dataset(image_set(4, SIDE, seed=1)), torch.device("cpu")).prepare()
    message = str(info.value)
    assert "gan-ablate fetch-weights" in message and inception.WEIGHTS_URL in message
    assert str(tmp_path / "hub" / "checkpoints" / inception.WEIGHTS_FILE) in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []  # no download, no cache entry


def test_a_broken_weights_file_is_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = inception.weights_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a state dict")
    with pytest.raises(UserError, match="is not the Inception weights file .*gan-ablate fetch-weights"):
        inception.load_detector(inception.require_weights(), torch.device("cpu"))


def test_fetch_weights_checks_the_file_before_it_lands(weights: Path, tmp_path: Path) -> None:
    """A file:// URL stands in for the release URL (tests never download)."""
    destination = tmp_path / "hub" / "checkpoints" / inception.WEIGHTS_FILE
    assert inception.fetch_weights(weights.as_uri(), destination) == destination
    assert destination.read_bytes() == weights.read_bytes()
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"nonsense")
    other = tmp_path / "other" / inception.WEIGHTS_FILE
    with pytest.raises(UserError, match="did not serve the Inception weights .8 bytes that do not load as them.; nothing was saved"):
        inception.fetch_weights(bad.as_uri(), other)
    assert list(other.parent.iterdir()) == []  # no partial file left behind


def test_the_weights_digest_is_the_files_sha256(weights: Path) -> None:
    import hashlib

    assert inception.weights_digest(weights) == hashlib.sha256(weights.read_bytes()).hexdigest()
