"""The folders and SQLite files of a sweep's stores, checked without leaving anything behind.

A refused command must not create even an empty folder: the check of "can `runs/` be made here"
creates a uniquely named probe in the nearest existing folder and removes it at once, and the real
folder is made only once every check has passed (`make_folder`).
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from harness.core.errors import ConfigError
from harness.stores.schema import sqlite_contents

NAME_MAX = 255  # bytes in one path component on Linux's file systems; longer fails only at mkdir
PROBE_PREFIX = ".harness-probe-"


def nearest_existing(folder: Path) -> tuple[Path, list[str]]:
    """The closest ancestor of `folder` (itself included) that exists, and the names missing below it."""
    missing: list[str] = []
    existing = folder
    while not os.path.lexists(existing) and existing.parent != existing:
        missing.insert(0, existing.name)
        existing = existing.parent
    return existing, missing


def folder_problem(folder: str | Path) -> str | None:
    """Why `folder` cannot be created or written to, or None; found by a probe that is removed at once."""
    folder = Path(folder)
    existing, missing = nearest_existing(folder)
    if existing.is_symlink() and not existing.exists():
        return f"cannot create the folder '{folder}': '{existing}' is a broken symlink"
    if not existing.is_dir():
        return f"cannot create the folder '{folder}': '{existing}' is a file, not a folder"
    too_long = [name for name in missing if len(os.fsencode(name)) > NAME_MAX]
    if too_long:
        return f"cannot create the folder '{folder}': a name is longer than {NAME_MAX} bytes ({too_long[0][:40]}...)"
    try:
        if missing:
            os.rmdir(tempfile.mkdtemp(prefix=PROBE_PREFIX, dir=existing))
        else:
            handle, probe = tempfile.mkstemp(prefix=PROBE_PREFIX, dir=existing)
            os.close(handle)
            os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if missing:
            return f"cannot create the folder '{folder}' in '{existing}' ({reason})"
        return f"the folder '{folder}' is not writable ({reason})"
    return None


def make_folder(key: str, shown: str, folder: Path) -> None:
    """Create the folder a store lives in, once every check has passed; a failure is still one line."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = "a file is in the way" if isinstance(exc, FileExistsError) else exc.strerror or type(exc).__name__
        raise ConfigError(key, f"{shown!r}: cannot create the folder {str(folder)!r} ({reason})") from None


def read_only_problem(path: Path) -> str | None:
    """Why an existing store file cannot be written, or None.

    Asked of the file system (access(2)), without opening the file: a read-only mount refuses even root,
    for whom a chmod 444 changes nothing.
    """
    if not path.is_file() or os.access(path, os.W_OK):
        return None
    read_only_mount = os.statvfs(path).f_flag & os.ST_RDONLY
    return f"is read-only ({os.strerror(errno.EROFS if read_only_mount else errno.EACCES)})"


def sqlite_tables(path: Path) -> list[str]:
    """The table names of an existing SQLite file, read-only (no journal, no lock file, no new file).

    Raises sqlite3.Error for a file SQLite cannot read (e.g. a damaged database).
    """
    return list(sqlite_contents(path).tables)
