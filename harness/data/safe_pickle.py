"""Pickles read as data, never as code: the reader of CIFAR-10's python batches.

A pickle runs code by naming a global (the GLOBAL / STACK_GLOBAL opcodes) and calling it (REDUCE):
a class whose `__reduce__` returns `(os.system, ("...",))` pickles into a file that runs a shell
command on `pickle.load`. Dicts, lists, bytes, str, int, float and None need no global at all; the
few globals admitted here are the names Python's and numpy's picklers write for bytes and numpy
arrays, and each loads as a stand-in that accepts only the arguments those picklers write. So
nothing a file names can run code, and nothing it builds is larger than the file itself (a REDUCE
on `numpy.ndarray((10**6, 10**6))` or `bytes(10**12)` would allocate whatever the file asks for).
Any other global is refused with `RefusedGlobal`, before it is imported or looked up.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import warnings
import numpy as np

MAX_DTYPE_SPEC = 32  # numpy writes 'u1', '<f8', 'V12'...: a spec longer than this is no array's dtype
# numpy's own _reconstruct, whichever module (numpy.core or numpy._core) this numpy keeps it in.
_NUMPY_RECONSTRUCT = np.empty(0).__reduce__()[0]


class RefusedGlobal(pickle.UnpicklingError):
    """The file names a global outside the admitted ones; `name` is how it spells it ('posix.system')."""

    def __init__(self, name: str) -> None:
        super().__init__(f"refused global {name}")
        self.name = name


class NdarrayName:
    """What `numpy.ndarray` loads as: a token `_reconstruct` accepts, not a class a REDUCE could call."""


NDARRAY = NdarrayName()


def refuse(what: str) -> pickle.UnpicklingError:
    return pickle.UnpicklingError(f"{what} is called only as numpy's and Python's picklers call it")


def empty_array(cls: object, shape: object, typecode: object) -> np.ndarray:
    """numpy's `_reconstruct(ndarray, (0,), b'b')`: an empty array that BUILD then fills from the file's bytes,
    whose length numpy checks against the shape and dtype the file states."""
    if cls is not NDARRAY or type(shape) is not tuple or shape != (0,):
        raise refuse("numpy _reconstruct")
    return _NUMPY_RECONSTRUCT(np.ndarray, (0,), b"b")


def array_dtype(spec: object, align: object = False, copy: object = False) -> np.dtype:
    """numpy's `dtype('u1', False, True)`: a short type string only (bytes in a Python 2 pickle)."""
    if not isinstance(spec, (str, bytes)) or len(spec) > MAX_DTYPE_SPEC:
        raise refuse("numpy dtype")
    return np.dtype(spec.decode("latin1") if isinstance(spec, bytes) else spec, bool(align), bool(copy))


def array_from_buffer(buf: object, dtype: object, shape: object, order: object) -> np.ndarray:
    """numpy's protocol-5 `_frombuffer(bytes, dtype, shape, order)`: a view of the file's own bytes."""
    if not isinstance(buf, (bytes, bytearray)) or not isinstance(dtype, np.dtype) or type(shape) is not tuple \
            or order not in ("C", "F"):
        raise refuse("numpy _frombuffer")
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order)


def empty_bytes(*args: object) -> bytes:
    """Python's protocol 0-2 spelling of b'': `bytes()`."""
    if args:
        raise refuse("bytes")
    return b""


def latin1_bytes(text: object, encoding: object) -> bytes:
    """Python's protocol 0-2 spelling of non-empty bytes: `_codecs.encode('...', 'latin1')`."""
    if type(text) is not str or encoding != "latin1":
        raise refuse("_codecs.encode")
    return text.encode("latin1")


ADMITTED: dict[tuple[str, str], object] = {
    ("numpy", "ndarray"): NDARRAY,
    ("numpy", "dtype"): array_dtype,
    **{(f"numpy.{core}.multiarray", "_reconstruct"): empty_array for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): array_from_buffer for core in ("core", "_core")},
    **{(builtins, "bytes"): empty_bytes for builtins in ("builtins", "__builtin__")},
    ("_codecs", "encode"): latin1_bytes,
}


class DataUnpickler(pickle.Unpickler):
    """An unpickler whose only globals are ADMITTED's stand-ins."""

    def find_class(self, module: str, name: str) -> object:
        found = ADMITTED.get((module, name))
        if found is None:
            raise RefusedGlobal(f"{module}.{name}")
        return found


def check_opcodes(raw: bytes) -> None:
    """Walk the opcodes once, refusing the two claims on which CPython's C unpickler allocates more than
    the file holds, before it sees them.

    - A BINBYTES8 or BYTEARRAY8 argument is allocated at its claimed size before it is read: 8 bytes
      claiming 2**40 reserve a terabyte. pickletools reads each argument from memory first, and raises
      ValueError when fewer bytes remain than claimed.
    - A memo index (PUT, BINPUT, LONG_BINPUT) grows the memo table to twice the index, and fills it:
      LONG_BINPUT 2**32-1 in 9 bytes asks for 64 GiB. Picklers number their memo entries in order
      (pickle from 0, Python 2's cPickle, which wrote the CIFAR-10 files, from 1), so an index more
      than one past the highest so far is refused.
    """
    stored = 0
    for opcode, arg, pos in pickletools.genops(raw):
        if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT"):
            if arg > stored + 1:
                raise pickle.UnpicklingError(f"at position {pos}, memo index {arg} skips ahead of the "
                                             f"{stored} entries stored so far")
            stored = max(stored, arg + 1)
        elif opcode.name == "MEMOIZE":
            stored += 1


def load_data(raw: bytes) -> object:
    """The plain data a pickle describes (bytes keys and strings stay bytes, as Python 2 wrote them).

    Raises RefusedGlobal for a global outside ADMITTED, or whatever the unpickler (or `check_opcodes`)
    raises for malformed bytes.
    """
    with warnings.catch_warnings():  # a STRING opcode with an invalid escape ('\\q') warns in both parsers
        warnings.simplefilter("ignore", DeprecationWarning)
        check_opcodes(raw)
        return DataUnpickler(io.BytesIO(raw), encoding="bytes").load()

