"""Fuzzers of the data readers (issue 26): CIFAR-10 python batches, MNIST IDX files and image files.

Every generated file ends in valid arrays (uint8 or [-1, 1] images of the dataset's shape, int64 labels in
0..9, one per image) or in a UserError whose message is one line starting with "data.root": never another
exception, never a hang (the per-example deadline of tests/fuzz_support.py), never code run from the file
(the pickles name os.system, eval and others with a command that would create a file) and never a file
written (each fuzzer runs in an empty current folder, which must stay empty).
"""

from __future__ import annotations

import io
import math
import pickle
import re
import struct
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from harness.core.errors import UserError
from harness.data.cifar import read_batch
from harness.data.folder import Skipped, decode
from harness.data.folder_scan import IMAGE_SUFFIXES
from harness.data.mnist import read_split
from tests.fuzz_support import FUZZ, FUZZER_TIMEOUT_S, work  # noqa: F401  (a fixture)


def settles(read: Callable[[], Any], work: Path) -> Any:
    """What `read` returns, or None after a one-line UserError about data.root; any other exception fails, and
    so does a Python warning (a process prints it in two lines). The outcome is an event, so that
    --hypothesis-show-statistics shows which checks the examples reached."""
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            result = read()
        event(f"read: {type(result).__name__}")
        return result
    except UserError as exc:
        message = str(exc)
        assert message.startswith("data.root") and len(message.splitlines()) == 1 and "\n" not in message, message
        event("refused: " + re.sub(r"'[^']*'|-?\d+", "_", message.partition("' ")[2] or message)[:60])
        return None
    finally:
        assert not warned, [str(w.message) for w in warned]
        assert not any(work.iterdir()), f"wrote {sorted(path.name for path in work.iterdir())}"
        assert not (work.parent / "pwned").exists(), "a data file ran a command"


def mostly(draw: st.DrawFn, usual: Any, other: st.SearchStrategy) -> Any:
    """`usual` three times in four, else a draw from `other`: most examples get past the first check."""
    return usual if draw(st.integers(0, 3)) else draw(other)


def check_labels(labels: np.ndarray | torch.Tensor, count: int) -> None:
    assert labels.dtype in (np.int64, torch.int64) and tuple(labels.shape) == (count,)
    assert count > 0 and 0 <= int(labels.min()) and int(labels.max()) <= 9


# --- CIFAR-10 python batches ------------------------------------------------------------------------------

INT_DTYPES = ["u1", "i1", "u2", "i2", ">i4", "u4", "i8", "u8"]
OTHER_DTYPES = ["f4", "f8", "?", "c8", "S3", "U2", "V4", "M8[s]", "S2,u1"]
SCALARS = (st.none() | st.booleans() | st.integers(-3, 300) | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats() | st.binary(max_size=8) | st.text(max_size=8))
SMALL_ARRAYS = st.builds(
    lambda dtype, shape, seed: np.frombuffer(np.random.default_rng(seed).bytes(math.prod(shape) * dtype.itemsize),
                                             dtype=dtype).reshape(shape),  # any bit pattern: NaNs, odd dates
    st.sampled_from(INT_DTYPES + OTHER_DTYPES).map(np.dtype), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0,
                                                                               max_side=4), st.integers(0, 2**32 - 1))
OBJECT_ARRAYS = st.lists(SCALARS, max_size=4).map(lambda items: np.array([*items, None], dtype=object))
VALUES = st.recursive(SCALARS | SMALL_ARRAYS | OBJECT_ARRAYS,
                      lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                      | st.dictionaries(st.binary(max_size=6) | st.integers(), inner, max_size=3), max_leaves=12)


@st.composite
def pixel_rows(draw: st.DrawFn, count: int) -> Any:
    """`count` rows of 3072 pixels, in an integer dtype or a list, perhaps one value out of range or the length off."""
    seed = draw(st.integers(0, 2**32 - 1))
    rows = np.random.default_rng(seed).integers(0, 256, (count, 3072)).astype(draw(st.sampled_from(INT_DTYPES)))
    if not draw(st.integers(0, 3)):  # one value in 0..255 or not, in an int64 copy
        rows = rows.astype(np.int64)
        rows.flat[draw(st.integers(0, rows.size - 1))] = draw(st.integers(-1000, 1000))
    rows = rows.reshape(-1)[: rows.size - mostly(draw, 0, st.sampled_from([1, 3072]))]
    return rows.tolist() if draw(st.booleans()) else rows


@st.composite
def batches(draw: st.DrawFn) -> Any:
    """A CIFAR-shaped dict most of the time (valid, or one part wrong), otherwise any pickled value."""
    count = draw(st.integers(1, 3))
    batch = draw(st.dictionaries(st.binary(max_size=6), VALUES, max_size=2))
    batch[b"data"] = mostly(draw, draw(pixel_rows(count)), VALUES)
    labels = st.lists(st.integers(0, 9), min_size=count, max_size=count)
    batch[b"labels"] = mostly(draw, draw(labels), st.lists(st.integers(-1, 10), max_size=4) | VALUES)
    if not draw(st.integers(0, 9)):
        del batch[draw(st.sampled_from([b"data", b"labels"]))]
    return mostly(draw, batch, VALUES)


def read_cifar(raw: bytes, work: Path) -> None:
    path = work.parent / "data_batch_1"
    path.write_bytes(raw)
    result = settles(lambda: read_batch(path), work)
    if result is not None:
        images, labels = result
        assert images.dtype == np.uint8 and images.shape[1:] == (3, 32, 32)
        check_labels(labels, images.shape[0])


@FUZZ
@pytest.mark.timeout(FUZZER_TIMEOUT_S)
@given(batch=batches(), protocol=st.integers(0, pickle.HIGHEST_PROTOCOL))
def test_fuzz_cifar_pickled_structures(batch: Any, protocol: int, work: Path) -> None:
    read_cifar(pickle.dumps(batch, protocol=protocol), work)


def command(work: Path) -> str:
    return f"touch {work.parent / 'pwned'}"


def short_unicode(text: str) -> bytes:
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data


GLOBALS = [("posix", "system"), ("os", "system"), ("builtins", "eval"), ("builtins", "exec"), ("builtins", "bytes"),
           ("subprocess", "getoutput"), ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
           ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.numeric", "_frombuffer"), ("builtins", "list")]


# Opcodes followed by a length and (nominally) that many bytes: SHORT_BINBYTES, BINBYTES, BINBYTES8, BYTEARRAY8,
# BINUNICODE, LONG1, LONG4 (whose length is signed), with the largest length each can say.
COUNTED = [(b"C", "<B", 255), (b"B", "<I", 2**32 - 1), (b"\x8e", "<Q", 2**64 - 1), (b"\x96", "<Q", 2**64 - 1),
           (b"X", "<I", 2**32 - 1), (b"\x8a", "<B", 255), (b"\x8b", "<i", 2**31 - 1)]


def counted_piece(opcode: tuple[bytes, str, int], claimed: int, payload: bytes) -> bytes:
    """An opcode claiming `claimed` bytes (as far as its length field reaches) and followed by `payload`."""
    code, fmt, largest = opcode
    return code + struct.pack(fmt, min(claimed, largest)) + payload


def opcode_programs(work: Path) -> st.SearchStrategy[bytes]:
    """Pickle opcodes that mostly build something: values (numbers, the command as text, counted bytes whose
    claimed length may exceed what follows), lists, dicts, calls of the globals that could run code (by
    GLOBAL and STACK_GLOBAL), BUILDs and memo puts and gets with any index, and now and then a stray opcode."""
    stray = st.sampled_from([b"(", b"]", b"}", b")", b"a", b"e", b"s", b"u", b"t", b"\x85", b"\x86", b"\x87", b"R",
                             b"b", b"0", b"1", b"2", b"\x94", b"\x93", b"o", b"\x81", b"\x90", b"\x91", b"\x92"])
    texts = st.sampled_from([command(work), f"__import__('os').system('{command(work)}')", "u1", "latin1", "C",
                             "b", "|"]).map(short_unicode)
    numbers = (st.integers(-(2**31), 2**31 - 1).map(lambda i: b"J" + struct.pack("<i", i))
               | st.integers(0, 255).map(lambda i: b"K" + bytes([i])) | st.sampled_from([b"N", b"\x88", b"\x89"]))
    counted = st.builds(counted_piece, st.sampled_from(COUNTED), st.integers(0, 40) | st.integers(0, 2**40),
                        st.binary(max_size=40))
    memo = (st.integers(0, 2**32 - 1).map(lambda i: b"r" + struct.pack("<I", i)) | st.integers(0, 3).map(
        lambda i: b"q" + bytes([i])) | st.integers(0, 3).map(lambda i: b"h" + bytes([i]))
        | st.integers(0, 10**12).map(lambda i: f"p{i}\n".encode()) | st.just(b"\x94"))
    named = st.sampled_from(GLOBALS).flatmap(lambda g: st.sampled_from([
        b"c" + f"{g[0]}\n{g[1]}\n".encode(), short_unicode(g[0]) + short_unicode(g[1]) + b"\x93"]))
    join = b"".join
    return st.recursive(texts | numbers | counted | named, lambda inner: (
        st.lists(inner, max_size=3).map(lambda xs: b"(" + join(xs) + b"l")
        | st.lists(st.tuples(inner, inner), max_size=2).map(lambda kv: b"(" + join(k + v for k, v in kv) + b"d")
        | st.tuples(named, st.lists(inner, max_size=3)).map(lambda c: c[0] + b"(" + join(c[1]) + b"tR")
        | st.tuples(inner, inner).map(lambda t: t[0] + t[1] + b"b")
        | st.tuples(inner, memo).map(join) | st.tuples(inner, stray).map(join)), max_leaves=10)


@FUZZ
@pytest.mark.timeout(FUZZER_TIMEOUT_S)
@given(data=st.data(), protocol=st.integers(0, pickle.HIGHEST_PROTOCOL))
def test_fuzz_cifar_pickle_opcodes(data: st.DataObject, protocol: int, work: Path) -> None:
    read_cifar(b"\x80" + bytes([protocol]) + data.draw(opcode_programs(work)) + b".", work)


VALID_BATCH = pickle.dumps({b"data": np.arange(3072, dtype=np.int64).reshape(1, -1) % 256, b"labels": [7],
                            b"batch_label": b"x", b"filenames": [b"a.png"]}, protocol=2)


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    """`valid` truncated, with bytes replaced or inserted, or random bytes altogether."""
    raw = bytearray(valid)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(raw)))
        action = draw(st.sampled_from(["replace", "insert", "truncate"]))
        if action == "replace" and at < len(raw):
            raw[at] = draw(st.integers(0, 255))
        elif action == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "truncate":
            del raw[at:]
    return bytes(raw) if draw(st.integers(0, 9)) else draw(st.binary(max_size=200))


@FUZZ
@pytest.mark.timeout(FUZZER_TIMEOUT_S)
@given(raw=mutated(VALID_BATCH) | mutated(pickle.dumps(pickle.loads(VALID_BATCH), protocol=5)))
def test_fuzz_cifar_mutated_bytes(raw: bytes, work: Path) -> None:
    read_cifar(raw, work)


# --- MNIST IDX files --------------------------------------------------------------------------------------

SIZES = st.sampled_from([0, 1, 2, 3, 28, 28, 28]) | st.integers(0, 2**32 - 1)
FAULTS = ("shape", "magic", "type", "length", "truncated")


@st.composite
def idx_files(draw: st.DrawFn, dims: int, count: int) -> bytes:
    """An IDX file of `dims` dimensions and `count` entries (images of 28x28, or labels): valid in about half
    the examples, otherwise with one of FAULTS generated, or all of them."""
    fault = draw(st.sampled_from([None] * len(FAULTS) + [*FAULTS, "all"]))
    broken = lambda part: fault in (part, "all")  # noqa: E731
    shape = draw(st.lists(SIZES, max_size=4)) if broken("shape") else [count] + [28] * (dims - 1)
    magic = draw(st.binary(min_size=2, max_size=2)) if broken("magic") else b"\0\0"
    type_code = draw(st.sampled_from([0x09, 0x0B, 0x0C, 0x0D, 0x0E]) | st.integers(0, 255)) if broken("type") else 8
    header = magic + bytes([type_code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
    declared = math.prod(shape) if math.prod(shape) <= 4 * 784 else 0
    length = draw(st.integers(0, 4 * 784)) if broken("length") else declared
    values = (draw(st.lists(st.integers(0, 9) | st.integers(0, 255), min_size=length, max_size=length)) if dims == 1
              else np.random.default_rng(draw(st.integers(0, 2**32 - 1))).integers(0, 256, length).tolist())
    raw = header + bytes(values)
    return raw[: draw(st.integers(0, len(raw)))] if broken("truncated") else raw


@st.composite
def idx_sets(draw: st.DrawFn) -> tuple[bytes, bytes]:
    count = draw(st.integers(1, 3))
    return draw(idx_files(3, count)), draw(idx_files(1, mostly(draw, count, st.integers(0, 4))))


@FUZZ
@pytest.mark.timeout(FUZZER_TIMEOUT_S)
@given(files=idx_sets())
def test_fuzz_mnist_idx_files(files: tuple[bytes, bytes], work: Path) -> None:
    raw = work.parent / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "train-images-idx3-ubyte").write_bytes(files[0])
    (raw / "train-labels-idx1-ubyte").write_bytes(files[1])
    result = settles(lambda: read_split(raw, "train", "mnist"), work)
    if result is not None:
        images, labels = result
        assert images.dtype == torch.float32 and tuple(images.shape[1:]) == (1, 28, 28)
        pixels = (images + 1) / 2 * 255  # back to the file's bytes: whole numbers in 0..255
        assert torch.allclose(pixels, pixels.round(), atol=1e-3) and pixels.min() >= 0 and pixels.max() <= 255.001
        check_labels(labels, images.shape[0])


# --- image files (data.name: folder) ----------------------------------------------------------------------


def encoded(fmt: str, mode: str) -> bytes:
    pixels = (np.arange(16 * 12 * 3) % 256).astype(np.uint8).reshape(12, 16, 3)
    out = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(out, format=fmt)
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height pixels and whose data holds a few bytes (a bomb, or a lie)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


SAMPLES = [encoded("PNG", "L"), encoded("PNG", "RGBA"), encoded("PNG", "P"), encoded("JPEG", "RGB"),
           encoded("BMP", "RGB"), encoded("WEBP", "RGB"), encoded("GIF", "P"), encoded("TIFF", "RGB")]
IMAGE_BYTES = (st.sampled_from(SAMPLES).flatmap(mutated)
               | st.tuples(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1)).map(lambda s: png_header(*s))
               | st.tuples(st.integers(1, 9000), st.integers(1, 9000)).map(lambda s: png_header(*s)))


@FUZZ
@pytest.mark.timeout(FUZZER_TIMEOUT_S)
@given(raw=IMAGE_BYTES, suffix=st.sampled_from(IMAGE_SUFFIXES), channels=st.sampled_from([1, 3]),
       side=st.sampled_from([8, 32]))
def test_fuzz_image_files(raw: bytes, suffix: str, channels: int, side: int, work: Path) -> None:
    path = work.parent / f"image{suffix}"
    path.write_bytes(raw)
    result = settles(lambda: decode(path, channels, side), work)
    if isinstance(result, Skipped):  # counted in the folder's one warning line, with this reason
        event("skipped: over MAX_PIXELS" if result.too_big else "skipped: unreadable")
        assert result.reason and len(result.reason.splitlines()) == 1 and "\n" not in result.reason, result.reason
    else:
        assert result.dtype == np.uint8 and result.shape == (channels, side, side)
