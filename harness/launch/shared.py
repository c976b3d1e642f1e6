"""Stores that every task of a job array can share, wherever the scheduler puts it.

A task may land on any node. PostgreSQL (the Optuna storage, or MLflow's) and an MLflow server
(http/https, its artifacts served) are reachable from every node. A SQLite file is not shareable
across machines, even on a network filesystem: SQLite's locking over NFS and the like is unreliable
(sqlite.org, "How To Corrupt An SQLite Database File"), and the harness's own lock file beside it
is a local lock. MLflow on PostgreSQL without a server keeps the runs' files (checkpoints, sample
grids) in ./mlruns of the folder it runs in: shareable only when that folder is on a filesystem
every node mounts. `--single-node` allows SQLite for a cluster of one node (or tests), and the
script then refuses to run anywhere else.
"""

from __future__ import annotations

from pathlib import Path

from harness.core.errors import UserError
from harness.stores.urls import redact, sqlite_path

# Filesystems that other machines mount too (network and cluster filesystems), as /proc/mounts names them.
SHARED_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "lustre", "gpfs", "beegfs", "cephfs", "ceph", "glusterfs", "fuse.glusterfs", "cifs", "smb3",
    "smbfs", "panfs", "wekafs", "ocfs2", "gfs2", "orangefs", "pvfs2", "fuse.sshfs", "fuse.juicefs", "fuse.ceph",
    "fuse.lustre", "fuse.beegfs", "afs", "9p"})


def filesystem_type(path: Path, mounts: str | None = None) -> str:
    """The type of the filesystem `path` lies on (its longest mount point in /proc/mounts); '' if unknown."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
    path = path.resolve()
    best, kind = -1, ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = Path(fields[1].replace("\\040", " "))
        if (path == point or point in path.parents) and len(point.parts) > best:
            best, kind = len(point.parts), fields[2]
    return kind


def check_shared(storage: tuple[str, str], tracking: tuple[str, str], single_node: bool, workdir: Path,
                 mounts: str | None = None) -> None:
    """A UserError, in one line, for a store the array's tasks on other nodes could not share; each store is
    (the flag or key it came from, its URL)."""
    if single_node:
        return
    for flag, url in (storage, tracking):
        if sqlite_path(url) is not None:
            raise UserError(f"{flag}: {redact(url)!r} is a SQLite file, which tasks on other nodes cannot share "
                            "(SQLite's locks do not reach across machines, not even over NFS); give PostgreSQL "
                            "and an MLflow server (docs/scale-out.md), or --single-node for a cluster of one node")
    flag, url = tracking
    if url.startswith("postgresql"):
        kind = filesystem_type(workdir, mounts)
        if kind not in SHARED_FILESYSTEMS:
            raise UserError(f"{flag}: {redact(url)!r} keeps the runs' files (checkpoints, sample grids) "
                            f"in {workdir / 'mlruns'}, on a local filesystem ({kind or 'unknown'}) that other nodes "
                            "do not see; use an MLflow server (--tracking-uri http://HOST:5000), submit from a "
                            "shared filesystem (NFS, Lustre, GPFS, ...), or --single-node")


def check_no_password(flag: str, url: str) -> None:
    """A URL that holds a password would be written into the job script: refuse it (libpq reads PGPASSWORD)."""
    scheme, sep, rest = url.partition("://")
    credentials = rest.partition("/")[0].rpartition("@")[0] if sep else ""
    if ":" in credentials:
        raise UserError(f"{flag}: {redact(url)!r} holds a password, which would be written into the job script; "
                        "leave it out and export PGPASSWORD (sbatch passes it to the tasks) or use ~/.pgpass")
