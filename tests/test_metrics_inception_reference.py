"""The reference split's Inception features on disk: keyed by what they depend on, recomputed when torn."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness.metrics import Evaluator, fidelity
from harness.metrics.inception_reference import reference_key, reference_set
from tests.inception_support import image_set
from tests.test_metrics_fidelity import N_REAL, SIDE, CountingDetector, image_dataset, run_config, torch_home, weights  # noqa: F401


def test_the_key_names_dataset_split_count_size_channels_data_and_weights() -> None:
    images = image_set(6, 8, seed=1)
    key = reference_key("cifar10", "train", images, "ab" * 32)
    assert key.startswith("cifar10-train-n6-8px-3ch-data") and key.endswith("-w" + "ab" * 8)
    changed = images.clone()
    changed[0, 0, 0, 0] = -changed[0, 0, 0, 0] + 0.5  # one pixel: another fingerprint
    assert reference_key("cifar10", "train", changed, "ab" * 32) != key
    assert reference_key("cifar10", "test", images, "ab" * 32) != key
    assert reference_key("cifar10", "train", images, "cd" * 32) != key


def test_a_hit_reads_the_file_and_a_miss_writes_it_whole(tmp_path: Path) -> None:
    images = image_set(5, 8, seed=2)
    calls: list[int] = []

    def extract(x: torch.Tensor) -> torch.Tensor:
        calls.append(len(x))
        return x.flatten(1)[:, :4].double().float()

    first = reference_set(tmp_path, "d", "train", images, "0" * 64, extract)
    again = reference_set(tmp_path, "d", "train", images, "0" * 64, extract)
    assert calls == [5] and torch.equal(first.features, again.features) and again.count == 5
    assert (first.mean == again.mean).all() and first.cov.shape == (4, 4)
    assert [p.suffix for p in (tmp_path / "inception").iterdir()] == [".pt"]  # no temporary file left


def test_a_truncated_cache_entry_is_recomputed(torch_home: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(fidelity, "load_detector", lambda path, device: CountingDetector())
    CountingDetector.seen = 0
    dataset = image_dataset(image_set(N_REAL, SIDE, seed=1))
    Evaluator(run_config(tmp_path), dataset, torch.device("cpu")).prepare()
    (entry,) = (tmp_path / "inception").iterdir()
    entry.write_bytes(entry.read_bytes()[:100])
    Evaluator(run_config(tmp_path), dataset, torch.device("cpu")).prepare()
    assert CountingDetector.seen == 2 * N_REAL and torch.load(entry, weights_only=True)["features"].shape[0] == N_REAL


