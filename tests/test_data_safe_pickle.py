"""The restricted unpickler: plain data and numpy arrays at every protocol; no global that could run code
or allocate what the file does not hold."""

from __future__ import annotations

import os
import pickle
import resource
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from harness.data.safe_pickle import RefusedGlobal, load_data


class RunsCommand:
    """What an attacker pickles: loading it with `pickle.load` calls os.system(command)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple:
        return os.system, (self.command,)


def calls(module: str, name: str, *args: object) -> bytes:
    """A protocol-2 pickle that calls module.name(*args) as it loads (GLOBAL, the args, REDUCE)."""
    body = pickle.dumps(args, protocol=2)[2:-1]  # the tuple's opcodes, without PROTO and STOP
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + body + b"R."


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


PLAIN = {b"data": np.arange(6, dtype=np.uint8).reshape(2, 3), b"wide": np.array([[-5, 7]], dtype=">i8"),
         b"floats": np.linspace(0, 1, 4, dtype=np.float32), b"fortran": np.asfortranarray(np.eye(2, dtype=np.int16)),
         b"labels": [0, 9, 2**40], b"batch_label": b"training batch 1 of 5", b"empty": b"", b"text": "caf\u00e9",
         b"nested": {b"k": [None, True, 1.5, (1, b"x")]}}


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_data_and_numpy_arrays_load_at_every_protocol_as_pickle_loads_them(protocol: int) -> None:
    raw = pickle.dumps(PLAIN, protocol=protocol)
    loaded, expected = load_data(raw), pickle.loads(raw, encoding="bytes")  # trusted bytes: the oracle
    assert loaded.keys() == PLAIN.keys()
    for key, value in expected.items():
        if isinstance(value, np.ndarray):
            assert loaded[key].dtype == value.dtype and np.array_equal(loaded[key], PLAIN[key]), key
        else:
            assert loaded[key] == value == PLAIN[key], key


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_a_pickle_that_runs_a_command_is_refused_before_the_command_runs(tmp_path: Path, protocol: int) -> None:
    pwned = tmp_path / "pwned"
    raw = pickle.dumps({b"data": RunsCommand(f"touch {pwned}")}, protocol=protocol)
    with pytest.raises(RefusedGlobal) as info:
        load_data(raw)
    assert info.value.name == f"{os.system.__module__}.system" and not pwned.exists()


@pytest.mark.parametrize("module, name", [
    ("builtins", "eval"), ("builtins", "exec"), ("builtins", "getattr"), ("builtins", "__import__"),
    ("subprocess", "Popen"), ("numpy", "load"), ("numpy.testing._private.utils", "runstring"), ("torch", "load"),
    ("builtins", "list"), ("numpy", "frombuffer"), ("copyreg", "_reconstructor"),  # harmless-looking, still refused
])
def test_every_other_global_is_refused_by_name(module: str, name: str) -> None:
    with pytest.raises(RefusedGlobal) as info:
        load_data(calls(module, name, "print(1)"))
    assert info.value.name == f"{module}.{name}"


def test_a_refused_module_is_not_even_imported() -> None:
    with pytest.raises(RefusedGlobal):
        load_data(calls("tests.never_imported_by_a_pickle", "run"))
    assert "tests.never_imported_by_a_pickle" not in sys.modules


@pytest.mark.parametrize("raw", [
    calls("numpy", "ndarray", (10**6, 10**6)),  # 10**12 bytes uninitialised, then walked by the checks
    calls("numpy._core.multiarray", "_reconstruct", np.ndarray, (10**12,), b"b"),
    calls("numpy.core.multiarray", "_reconstruct", np.ndarray, (0,), b"b", "extra"),
    calls("builtins", "bytes", 10**12),  # a terabyte of zeros
    calls("__builtin__", "bytes", b"x"),
    calls("_codecs", "encode", "x" * 10, "rot13"),
    calls("numpy", "dtype", [("a", "u1")], False, True),
    calls("numpy", "dtype", "u" * 100, False, True),
    calls("numpy._core.numeric", "_frombuffer", "text", np.dtype("u1"), (4,), "C"),
    calls("numpy.core.numeric", "_frombuffer", b"abcd", "u1", (4,), "C"),
], ids=["ndarray(shape)", "_reconstruct(huge)", "_reconstruct(4 args)", "bytes(n)", "bytes(b)", "encode(rot13)",
        "dtype(list)", "dtype(long)", "_frombuffer(str)", "_frombuffer(no dtype)"])
def test_admitted_names_accept_only_the_arguments_picklers_write(raw: bytes) -> None:
    before = peak_rss_mib()
    with pytest.raises((pickle.UnpicklingError, TypeError)):
        load_data(raw)
    assert peak_rss_mib() - before < 100


@pytest.mark.parametrize("raw", [
    b"\x80\x05\x8e" + struct.pack("<Q", 2**40) + b"abc.",  # BINBYTES8 claiming a terabyte
    b"\x80\x05\x96" + struct.pack("<Q", 2**40) + b"abc.",  # BYTEARRAY8
    b"\x80\x05\x96" + struct.pack("<Q", 2**33) + b"abc.",  # 8 GiB: small enough to be reserved, not filled
    b"\x80\x02K\x01r" + struct.pack("<I", 2**32 - 1) + b".",  # LONG_BINPUT: a 64 GiB memo table, filled
    b"\x80\x02K\x01q\x00K\x02r" + struct.pack("<I", 2**26) + b".",  # 1 GiB, after a valid entry
    b"(K\x01p99999999999\n.",  # PUT, protocol 0
], ids=["bytes8", "bytearray8", "bytearray8-8GiB", "long_binput", "long_binput-after", "put"])
def test_lengths_and_memo_indices_beyond_the_file_are_refused_before_allocating(raw: bytes,
                                                                                 capfd: pytest.CaptureFixture) -> None:
    before = peak_rss_mib()
    with pytest.raises((ValueError, pickle.UnpicklingError)):
        load_data(raw)
    assert peak_rss_mib() - before < 100
    assert capfd.readouterr().err == ""  # CPython prints a SystemError when a failed bytearray8 is freed


def test_memo_indices_numbered_from_0_or_from_1_both_load() -> None:
    shared = [1]
    by_pickle = load_data(pickle.dumps([shared, shared], protocol=2))  # pickle numbers its memo from 0
    by_cpickle = load_data(b"\x80\x02]q\x01(]q\x02K\x01ah\x02e.")  # Python 2's cPickle from 1
    for loaded in (by_pickle, by_cpickle):
        assert loaded == [[1], [1]] and loaded[0] is loaded[1]


def test_an_invalid_escape_in_a_protocol_0_string_loads_without_a_warning() -> None:
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        assert load_data(b"S'a\\qb'\n.") == b"a\\qb"  # Python 2's repr never wrote it; a file may
    assert [str(w.message) for w in warned] == []
