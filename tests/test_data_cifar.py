"""CIFAR-10 from python-batch files the test writes (nothing downloads): pixels, labels, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from harness.config.resolve import DataConfig, parse_experiment, resolve_run
from harness.data import load_dataset
from harness.core.errors import ConfigError, UserError
from tests.conftest import TINY, deep_merge
from tests.image_folders import write_cifar10

CPU = torch.device("cpu")


def load(root: Path, **kwargs):
    return load_dataset(DataConfig(name="cifar10", root=str(root), **kwargs), CPU)


def one_line_error(root: Path, **kwargs) -> str:
    with pytest.raises(UserError) as info:
        load(root, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_the_batches_load_in_order_with_their_pixels_and_labels(tmp_path: Path) -> None:
    train, test = write_cifar10(tmp_path, per_batch=4)
    ds = load(tmp_path)
    assert ds.images.shape == (20, 3, 32, 32) and ds.test_images.shape == (4, 3, 32, 32)
    assert ds.sample_shape == (3, 32, 32) and ds.num_classes == 10
    assert torch.allclose(ds.images, torch.from_numpy(train).float() / 255 * 2 - 1)
    assert torch.allclose(ds.test_images, torch.from_numpy(test).float() / 255 * 2 - 1)
    # channel planes: the first 1024 bytes of a row are red, so pixel (0, 0) of image 0 is train[0, 0, 0, 0]
    assert ds.images[0, 0, 0, 0].item() == pytest.approx(train[0, 0, 0, 0] / 255 * 2 - 1)
    assert ds.labels.tolist()[:5] == [1, 2, 3, 4, 2] and ds.test_labels.tolist() == [0, 1, 2, 3]


def test_resized_to_16(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    ds = load(tmp_path, image_size=16)
    assert ds.images.shape == (20, 3, 16, 16) and ds.images.min() >= -1 and ds.images.max() <= 1


def test_a_missing_file_without_download_names_it_and_the_folder(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    message = one_line_error(tmp_path)
    assert message.startswith(f"data.root: cifar10 files data_batch_3 not found under "
                              f"'{tmp_path / 'cifar-10-batches-py'}' and data.download is false")


def test_a_failed_download_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    assert one_line_error(tmp_path, download=True).startswith("data.download: fetching cifar10 into")


def test_a_corrupt_batch_names_the_file(tmp_path: Path) -> None:
    write_cifar10(tmp_path)
    bad = tmp_path / "cifar-10-batches-py" / "test_batch"
    bad.write_bytes(b"\x80\x04 truncated")
    assert one_line_error(tmp_path).startswith(f"data.root: '{bad}' is not a CIFAR-10 python batch")


def test_labels_that_do_not_match_the_images_name_the_file(tmp_path: Path) -> None:
    from tests.image_folders import write_cifar_batch

    write_cifar10(tmp_path)
    bad = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    write_cifar_batch(bad, np.zeros((3, 3, 32, 32), dtype=np.uint8), [0, 1])
    assert one_line_error(tmp_path).startswith(f"data.root: '{bad}' has 3 images but labels that do not match")


def test_config_resolves_rgb_and_the_classifier_objective_and_refuses_one_channel() -> None:
    run = resolve_run(parse_experiment(deep_merge(TINY, {"data": {"name": "cifar10"}})), "wgan_gp")
    assert run.objective == "fd_classifier" and run.eval.classifier_min_accuracy == 0.60
    with pytest.raises(ConfigError, match=r"^data.channels: 1 does not fit data.name 'cifar10'; allowed: null, 3"):
        parse_experiment(deep_merge(TINY, {"data": {"name": "cifar10", "channels": 1}}))
