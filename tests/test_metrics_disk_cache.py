"""The metrics' disk cache: fingerprints that see every byte, atomic writes that leave no temporary file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.metrics.disk_cache import data_fingerprint, file_sha256, save_atomic


def test_the_fingerprint_sees_every_byte_and_the_shape() -> None:
    x = torch.zeros(4, 1, 2, 2)
    base = data_fingerprint(x, torch.zeros(4, dtype=torch.long))
    changed = x.clone()
    changed[3, 0, 1, 1] = 1e-6
    assert base == data_fingerprint(x.clone(), torch.zeros(4, dtype=torch.long))
    assert base != data_fingerprint(changed, torch.zeros(4, dtype=torch.long))
    assert base != data_fingerprint(x.view(4, 1, 1, 4), torch.zeros(4, dtype=torch.long))
    assert base != data_fingerprint(x, torch.ones(4, dtype=torch.long))


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "weights.bin"
    path.write_bytes(bytes(range(256)) * 5000)  # over one read chunk
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_save_atomic_replaces_whole_files_and_cleans_up_after_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "entry.pt"
    save_atomic({"x": torch.arange(3)}, path)
    save_atomic({"x": torch.arange(4)}, path)
    assert torch.equal(torch.load(path, weights_only=True)["x"], torch.arange(4))
    with pytest.raises(AttributeError):
        save_atomic({"x": lambda: 0}, path)  # cannot be pickled: nothing half-written is left
    assert torch.equal(torch.load(path, weights_only=True)["x"], torch.arange(4))
    assert sorted(p.name for p in path.parent.iterdir()) == ["entry.pt"]


FULL_DISK = """
import resource, signal, sys
from pathlib import Path
import torch
from harness.core.errors import UserError
from harness.metrics.disk_cache import save_atomic

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
try:
    save_atomic({"features": torch.zeros(10000)}, Path(sys.argv[1]) / "reference.pt")
except UserError as exc:
    print(exc)
"""


def test_a_cache_on_a_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith(f"eval.cache_dir: cannot write '{tmp_path / 'reference.pt'}' (")
    assert done.stdout.count("\n") == 1 and list(tmp_path.iterdir()) == []
