"""CIFAR-10 from python-batch files the test writes (nothing downloads): pixels, labels, errors."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.config.resolve import DataConfig, parse_experiment, resolve_run
from harness.data import load_dataset
from harness.data.cifar import read_batch
from harness.core.errors import ConfigError, UserError
from tests.conftest import TINY, deep_merge
from tests.image_folders import write_cifar10, write_cifar_batch
from tests.test_data_safe_pickle import RunsCommand

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
    write_cifar10(tmp_path)
    bad = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    write_cifar_batch(bad, np.zeros((3, 3, 32, 32), dtype=np.uint8), [0, 1])
    assert one_line_error(tmp_path).startswith(f"data.root: '{bad}' has 3 images but labels that do not match")


def python2_batch(images: np.ndarray, labels: list[int]) -> bytes:
    """A batch as the official files hold it: Python 2's cPickle at protocol 2 (str as BINSTRING, which
    reads back as bytes; numpy's arrays under numpy.core; memo entries numbered from 1)."""
    memo = iter(range(1, 256))

    def put(opcodes: bytes) -> bytes:  # BINPUT after each object, as cPickle writes it (in file order)
        return opcodes + b"q" + bytes([next(memo)])

    def string(text: bytes) -> bytes:  # SHORT_BINSTRING
        return put(b"U" + bytes([len(text)]) + text)

    head = put(b"\x80\x02}") + b"(" + string(b"data")
    array = (put(b"cnumpy.core.multiarray\n_reconstruct\n") + put(b"cnumpy\nndarray\n") + b"K\x00\x85" + string(b"b")
             + put(b"\x87R") + b"(K\x01M" + struct.pack("<H", len(labels)) + b"M\x00\x0c\x86"
             + put(b"cnumpy\ndtype\n") + string(b"u1") + put(b"K\x00K\x01\x87R") + b"(K\x03" + string(b"|")
             + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T" + struct.pack("<I", images.size)
             + images.tobytes() + b"tb")
    rest = (string(b"labels") + put(b"]") + b"(" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
            + string(b"batch_label") + string(b"training batch 1 of 5") + string(b"filenames") + put(b"]") + b"("
            + b"".join(string(b"%d.png" % i) for i in range(len(labels))) + b"e")
    return head + array + rest + b"u."


def test_the_official_files_format_loads(tmp_path: Path) -> None:
    images = np.random.default_rng(1).integers(0, 256, (3, 3072), dtype=np.uint8)
    (tmp_path / "data_batch_1").write_bytes(python2_batch(images, [7, 0, 9]))
    data, labels = read_batch(tmp_path / "data_batch_1")
    assert np.array_equal(data, images.reshape(3, 3, 32, 32)) and labels.tolist() == [7, 0, 9]
    assert data.dtype == np.uint8 and labels.dtype == np.int64


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_batch_written_at_any_pickle_protocol_loads(tmp_path: Path, protocol: int) -> None:
    images = np.random.default_rng(protocol).integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
    batch = {b"batch_label": b"x", b"labels": [3, 4], b"data": images.reshape(2, -1), b"filenames": [b"a", b""]}
    (tmp_path / "b").write_bytes(pickle.dumps(batch, protocol=protocol))
    data, labels = read_batch(tmp_path / "b")
    assert np.array_equal(data, images) and labels.tolist() == [3, 4]


@pytest.mark.parametrize("protocol", [2, 4])
def test_a_batch_whose_pickle_runs_a_command_is_refused_and_the_command_never_runs(tmp_path: Path,
                                                                                   protocol: int) -> None:
    write_cifar10(tmp_path)
    bad, pwned = tmp_path / "cifar-10-batches-py" / "data_batch_4", tmp_path / "pwned"
    batch = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [RunsCommand(f"touch {pwned}")]}
    bad.write_bytes(pickle.dumps(batch, protocol=protocol))
    assert one_line_error(tmp_path) == (f"data.root: '{bad}' is not a CIFAR-10 python batch: it asks to load "
                                        f"'{os.system.__module__}.system', which a batch never holds (refused: a data "
                                        "file may not run code)")
    assert not pwned.exists()


ROW = np.zeros((1, 3072), np.uint8)


@pytest.mark.parametrize("batch, expected", [
    ({b"data": [300] + [0] * 3071, b"labels": [1]}, 'b"data" holds the value 300, outside the pixel range 0..255'),
    ({b"data": [0] * 3071 + [-1], b"labels": [1]}, 'b"data" holds the value -1, outside the pixel range 0..255'),
    ({b"data": np.full((1, 3072), 300), b"labels": [1]}, 'b"data" holds the value 300, outside'),
    ({b"data": np.full((1, 3072), 0.5), b"labels": [1]}, 'b"data" holds an array of float64, not pixels'),
    ({b"data": [2**70] * 3072, b"labels": [1]}, 'b"data" holds a list with an integer beyond 64 bits'),
    ({b"data": [0.0] * 3072, b"labels": [1]}, 'b"data" holds a list with a float, not pixels'),
    ({b"data": np.zeros(3073, np.uint8), b"labels": [1]}, 'b"data" holds 3073 values, not rows of 3072'),
    ({b"data": np.zeros((0, 3072), np.uint8), b"labels": []}, 'b"data" holds 0 values, not rows of 3072'),
    ({b"data": np.array([None] * 3072), b"labels": [1]}, 'b"data" holds an array of object, not pixels'),
    ({b"data": "pixels", b"labels": [1]}, 'b"data" holds a str, not pixels'),
    ({b"data": None, b"labels": [1]}, 'b"data" holds None, not pixels'),
    ({b"data": ROW, b"labels": [10]}, "has 1 images but labels that do not match (label 10, outside 0..9;"),
    ({b"data": ROW, b"labels": [-1]}, "has 1 images but labels that do not match (label -1, outside 0..9;"),
    ({b"data": ROW, b"labels": [1.5]}, 'b"labels" holds a list with a float, not a list of class indices'),
    ({b"data": ROW, b"labels": [None]}, 'b"labels" holds a list with None, not a list of class indices'),
    ({b"data": ROW, b"labels": [True]}, 'b"labels" holds a list with a bool, not a list of class indices'),
    ({b"data": ROW, b"labels": [2**70]}, 'b"labels" holds a list with an integer beyond 64 bits'),
    ({b"data": ROW, b"labels": np.array([[1]])}, 'b"labels" holds a 2-D array, not a list of class indices'),
    ({b"data": ROW, b"labels": 1}, 'b"labels" holds an int, not a list of class indices'),
    ({b"data": ROW, b"labels": [1, 2]}, "has 1 images but labels that do not match (2 labels for 1 images;"),
    ({b"data": ROW}, "is not a CIFAR-10 python batch: it has no b'labels' entry"),
    ([ROW, [1]], "is not a CIFAR-10 python batch: it holds a list, not a dict"),
], ids=lambda v: None if isinstance(v, (dict, list)) else v[:40])
def test_pixels_and_labels_out_of_their_range_or_type_are_one_line_naming_the_file(
        tmp_path: Path, batch: object, expected: str) -> None:
    write_cifar10(tmp_path)
    bad = tmp_path / "cifar-10-batches-py" / "test_batch"
    bad.write_bytes(pickle.dumps(batch))
    message = one_line_error(tmp_path)
    assert message.startswith(f"data.root: '{bad}' ") and expected in message


def test_config_resolves_rgb_and_the_classifier_objective_and_refuses_one_channel() -> None:
    run = resolve_run(parse_experiment(deep_merge(TINY, {"data": {"name": "cifar10"}})), "wgan_gp")
    assert run.objective == "fd_classifier" and run.eval.classifier_min_accuracy == 0.60
    with pytest.raises(ConfigError, match=r"^data.channels: 1 does not fit data.name 'cifar10'; allowed: null, 3"):
        parse_experiment(deep_merge(TINY, {"data": {"name": "cifar10", "channels": 1}}))
