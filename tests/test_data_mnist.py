"""MNIST and Fashion-MNIST IDX files the test writes: every malformed file is one line naming it, nothing
downloads unless asked, and no file is ever unpickled."""

from __future__ import annotations

import pickle
import resource
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.config.resolve import DataConfig
from harness.core.errors import UserError
from harness.data import load_dataset
from harness.data.mnist import read_split
from tests.test_data_safe_pickle import RunsCommand

CPU = torch.device("cpu")
IMAGES, LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"


def idx(values: bytes, *shape: int, type_code: int = 0x08) -> bytes:
    """An IDX file: magic (0, 0, type, dimensions), the big-endian sizes, the values."""
    return bytes([0, 0, type_code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + values


def write_set(root: Path, folder: str = "MNIST", count: int = 3, labels: bytes | None = None) -> Path:
    """Valid train and t10k files of `count` images each under root/folder/raw (labels 0, 1, 2, ...)."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    pixels = (np.arange(count * 28 * 28) % 256).astype(np.uint8).tobytes()
    for split in ("train", "t10k"):
        (raw / f"{split}-images-idx3-ubyte").write_bytes(idx(pixels, count, 28, 28))
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(idx(labels or bytes(range(count)), count))
    return raw


def load(root: Path, name: str = "mnist", **kwargs):
    return load_dataset(DataConfig(name=name, root=str(root), **kwargs), CPU)


def one_line_error(root: Path, **kwargs) -> str:
    with pytest.raises(UserError) as info:
        load(root, **kwargs)
    assert "\n" not in str(info.value)
    return str(info.value)


PIXELS = bytes(3 * 28 * 28)
CASES = {
    "labels for fewer images": (LABELS, idx(bytes(2), 2), "2 labels for 3 images in 'train-images-idx3-ubyte'"),
    "a label of 10": (LABELS, idx(bytes([1, 10, 2]), 3), "label 10, outside 0..9"),
    "a label of 255": (LABELS, idx(bytes([255, 1, 2]), 3), "label 255, outside 0..9"),
    "int32 images": (IMAGES, idx(bytes(4 * 3 * 28 * 28), 3, 28, 28, type_code=0x0C),
                     "it holds int32 values (IDX type 0x0c), not unsigned bytes (0x08)"),
    "float32 images": (IMAGES, idx(bytes(4 * 3 * 28 * 28), 3, 28, 28, type_code=0x0D), "it holds float32 values"),
    "an unknown type": (LABELS, idx(bytes(3), 3, type_code=0x42), "it holds unknown values (IDX type 0x42)"),
    "truncated pixels": (IMAGES, idx(PIXELS[:-5], 3, 28, 28), "it holds 2363 bytes but its header declares 3x28x28"),
    "trailing bytes": (IMAGES, idx(PIXELS + b"xx", 3, 28, 28), "it holds 2370 bytes but its header declares"),
    "a truncated header": (IMAGES, idx(PIXELS, 3, 28, 28)[:10], "it ends after 10 bytes, inside its 16-byte header"),
    "an empty file": (IMAGES, b"", "it is empty (0 bytes)"),
    "three bytes": (LABELS, b"\0\0\x08", "it ends after 3 bytes, inside its 4-byte magic number"),
    "no magic number": (IMAGES, b"\x01\x02" + idx(PIXELS, 3, 28, 28)[2:], "it starts with 0x01020803, not an IDX"),
    "labels in two dimensions": (LABELS, idx(bytes(3), 3, 1), "it has 2 dimensions, not 1"),
    "images of 10x10": (IMAGES, idx(bytes(300), 3, 10, 10), "it holds 3x10x10 pixels, not N images of 28x28"),
    "no images": (IMAGES, idx(b"", 0, 28, 28), "it holds 0x28x28 pixels, not N images of 28x28 (N > 0)"),
    "a header claiming 2**96 pixels": (IMAGES, idx(b"", 2**32 - 1, 2**32 - 1, 2**32 - 1),
                                       "it holds 16 bytes but its header declares 4294967295x4294967295x4294967295"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_malformed_idx_file_is_one_line_naming_it_and_what_is_wrong(tmp_path: Path, case: str) -> None:
    file, content, expected = CASES[case]
    raw = write_set(tmp_path)
    (raw / file).write_bytes(content)
    message = one_line_error(tmp_path)
    assert message.startswith(f"data.root: mnist file '{raw / file}' is corrupt or incomplete: {expected}")
    assert message.endswith("; delete it and download again")


def test_a_header_claiming_more_than_the_file_allocates_nothing(tmp_path: Path) -> None:
    raw = write_set(tmp_path)
    (raw / IMAGES).write_bytes(idx(bytes(28 * 28), 2**31, 28, 28))  # 1.6 TB claimed, one image held
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(UserError, match="header declares 2147483648x28x28 values"):
        read_split(raw, "train", "mnist")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KiB


def test_a_folder_named_as_a_file_is_one_line(tmp_path: Path) -> None:
    raw = write_set(tmp_path)
    (raw / LABELS).unlink()
    (raw / LABELS).mkdir()
    assert one_line_error(tmp_path).startswith("data.root: mnist not found under")


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_valid_files_load_with_int64_labels(tmp_path: Path, name: str, folder: str) -> None:
    write_set(tmp_path, folder, count=4, labels=bytes([9, 0, 3, 3]))
    ds = load(tmp_path, name)
    assert ds.images.shape == (4, 1, 28, 28) and ds.labels.dtype == torch.int64 and ds.labels.tolist() == [9, 0, 3, 3]
    assert ds.images[0, 0, 0, 1].item() == pytest.approx(1 / 255 * 2 - 1)


def test_nothing_downloads_when_data_download_is_false(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    def no_network(*args, **kwargs):
        raise AssertionError("torchvision was asked to download")

    monkeypatch.setattr(torchvision.datasets, "MNIST", no_network)
    assert one_line_error(tmp_path).startswith("data.root: mnist not found under")
    write_set(tmp_path)
    assert load(tmp_path).images.shape == (3, 1, 28, 28)
    assert load(tmp_path, download=True, image_size=32).images.shape == (3, 1, 32, 32)  # present: not fetched


def test_download_fetches_missing_files_then_reads_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision

    calls = []

    def fake_download(root: str, train: bool, download: bool) -> None:
        calls.append((train, download))
        write_set(Path(root))

    monkeypatch.setattr(torchvision.datasets, "MNIST", fake_download)
    assert load(tmp_path, download=True).images.shape == (3, 1, 28, 28) and calls == [(True, True)]
    monkeypatch.setattr(torchvision.datasets, "MNIST", lambda **kwargs: None)  # "succeeds", writes nothing
    assert one_line_error(tmp_path / "elsewhere", download=True).startswith(
        f"data.download: fetching mnist into '{tmp_path / 'elsewhere' / 'MNIST' / 'raw'}' left train-images")


def test_a_legacy_processed_file_is_never_unpickled(tmp_path: Path) -> None:
    """torchvision's MNIST class loads MNIST/processed/{training,test}.pt when both exist; these are pickles."""
    write_set(tmp_path)
    processed, pwned = tmp_path / "MNIST" / "processed", tmp_path / "pwned"
    processed.mkdir()
    for name in ("training.pt", "test.pt"):
        (processed / name).write_bytes(pickle.dumps(RunsCommand(f"touch {pwned}")))
    assert load(tmp_path).images.shape == (3, 1, 28, 28) and not pwned.exists()
