"""Files the metrics cache on disk (the evaluation classifier, reference statistics): fingerprints and atomic writes.

Sweep workers race for the same cache entries; an entry is written to a temporary file beside its
final name and renamed into place, so a reader never sees half a file and two writers of the same
(deterministic) content both leave a complete one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch
from torch import Tensor

from harness.core.errors import UserError, first_line

def data_fingerprint(*tensors: Tensor) -> str:
    """SHA-256 (16 hex digits) of the tensors' shapes and bytes, on the CPU."""
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(repr(tuple(t.shape)).encode())
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def file_sha256(path: Path) -> str:
    """The full SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_atomic(payload: dict, path: Path) -> None:
    """torch.save to a temporary file beside `path`, then os.replace: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is shared by whoever runs sweeps
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # a full disk or a quota: torch's writer reports it as RuntimeError
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"eval.cache_dir: cannot write '{path}' ({first_line(exc)}); free some space there or "
                        "set eval.cache_dir to a folder with room") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
