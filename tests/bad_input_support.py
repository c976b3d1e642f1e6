"""Running one bad-input row: the command in-process (or as a process where the boundary matters), and
what must not change: the file tree of the working folder and the row counts of every store in it.

In-process, because the table has hundreds of rows and each Python process pays seconds to import
torch and MLflow. The command's `main(argv)` runs as the console script would: SystemExit gives the
exit code, an uncaught exception is what a real process prints as a traceback (exit 1), warnings are
recorded (a real process would print them), and stderr is captured at the file descriptor, so MLflow's
own log handlers are seen too.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import importlib
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import TINY, deep_merge
from tests.services import (fresh_database, free_port, password_postgres, password_postgres_skip_reason, pg_url,
                            postgres_skip_reason)
from tests.sweep_support import cli_env

# The config every row starts from; the pre-existing store is a settled sweep of exactly this config.
BASE: dict[str, Any] = {
    "name": "e2e",
    "seed": 0,
    "data": {"name": "ring8"},
    "model": {"width": 16, "depth": 1},
    "train": {"steps": 4, "batch_size": 16, "log_every": 2, "eval_every": 4, "sample_every": 4, "device": "cpu"},
    "eval": {"num_samples": 50},
    "sweep": {"trials_per_variant": 1, "seeds": 1, "heartbeat_seconds": 1, "grace_seconds": 3, "report": False,
              "space": {}},
    "variants": ["wgan_gp"],
}


@dataclass(frozen=True)
class Row:
    """One bad input. `args` follow the config path (`@config@` and the placeholders of Services.text are
    replaced); with `argv` set, it is the whole command line instead."""

    name: str
    expect: str  # a part of the one stderr line
    args: tuple[str, ...] = ()
    argv: tuple[str, ...] | None = None
    command: str = "sweep"  # sweep | gan-ablate | train | report
    config: dict[str, Any] | str | None = None  # merged over BASE; a str is the file's whole text
    setup: Callable[[Path], None] | None = None  # writes the bad thing (a plugin, a folder, a store file)
    code: int = 2
    env: dict[str, str] = field(default_factory=dict)
    needs: tuple[str, ...] = ()  # services: postgres, password_postgres, unshare, no_cuda
    process: bool = False  # a real process: its exit code or its namespace is the point


def write_config(path: Path, row: Row, fill: Callable[[str], str]) -> Path:
    """The row's config file, its placeholders filled in."""
    text = row.config if isinstance(row.config, str) else yaml.safe_dump(deep_merge(BASE, row.config or {}))
    path.write_bytes(fill(text).encode("utf-8", "surrogateescape"))
    return path


# --- what must not change --------------------------------------------------------------------------------

def tree(folder: Path) -> dict[str, tuple]:
    """Every path under `folder`: folders, symlinks (their target) and files (size and SHA-256)."""
    found: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            key = str(path.relative_to(folder))
            if path.is_symlink():
                found[key] = ("link", os.readlink(path))
            elif path.is_dir():
                found[key] = ("dir",)
            elif path.is_file():
                found[key] = ("file", path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                found[key] = ("other",)
    return found


def sqlite_row_counts(folder: Path) -> dict[str, int]:
    """{file:table: rows} of every SQLite database under `folder`, read-only."""
    counts: dict[str, int] = {}
    for path in sorted(folder.rglob("*.db")):
        if path.is_symlink() or not path.is_file() or path.read_bytes()[:16] != b"SQLite format 3\x00":
            continue
        uri = path.resolve().as_uri() + "?mode=ro"
        try:
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
                tables = [t for (t,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                for table in tables:
                    counts[f"{path.relative_to(folder)}:{table}"] = connection.execute(
                        f'SELECT count(*) FROM "{table}"').fetchone()[0]
        except sqlite3.DatabaseError:  # a damaged file some row puts there: its bytes are in the tree snapshot
            counts[f"{path.relative_to(folder)}:(unreadable)"] = -1
    return counts


# --- services the rows point at ----------------------------------------------------------------------------

class NotFoundHandler(http.server.BaseHTTPRequestHandler):
    """Any plain web server: every path is 404."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_error(404)

    def log_message(self, *args: Any) -> None:
        pass


class Services:
    """Started on first use, for the whole session: a 404 web server, a port that accepts TCP and never
    answers, a closed port, a fresh PostgreSQL database and a PostgreSQL that checks passwords."""

    def __init__(self) -> None:
        self.stack = contextlib.ExitStack()
        self._http404: str | None = None
        self._silent: int | None = None
        self._database: str | None = None
        self._password: Any = None
        self.closed_port = free_port()

    def close(self) -> None:
        self.stack.close()

    def require(self, need: str) -> None:
        """Skip the row, loudly, when what it needs is truly absent here."""
        reason = {"postgres": postgres_skip_reason, "password_postgres": password_postgres_skip_reason,
                  "unshare": unshare_skip_reason, "no_cuda": cuda_skip_reason}[need]()
        if reason:
            pytest.skip(reason)

    @property
    def http404(self) -> str:
        if self._http404 is None:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFoundHandler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.stack.callback(server.shutdown)
            self._http404 = f"http://127.0.0.1:{server.server_address[1]}"
        return self._http404

    @property
    def silent_port(self) -> int:
        """A port whose backlog completes the TCP handshake while nothing ever reads or answers."""
        if self._silent is None:
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            self.stack.callback(listener.close)
            self._silent = listener.getsockname()[1]
        return self._silent

    @property
    def database(self) -> str:
        if self._database is None:
            self._database = self.stack.enter_context(fresh_database("harness_test_badinput"))
        return self._database

    @property
    def password_server(self) -> Any:
        if self._password is None:
            self._password = self.stack.enter_context(password_postgres())
        return self._password

    def text(self, value: str, folder: Path, config: Path) -> str:
        """`value` with its placeholders filled in (only the services it names are started)."""
        fills: dict[str, Callable[[], str]] = {
            "@config@": lambda: str(config), "@folder@": lambda: str(folder),
            "@http404@": lambda: self.http404, "@https404@": lambda: self.http404.replace("http:", "https:"),
            "@silent@": lambda: str(self.silent_port), "@shared_cache@": lambda: TINY["eval"]["cache_dir"],
            "@closed@": lambda: str(self.closed_port), "@pg@": lambda: pg_url(self.database),
            "@pg_no_db@": lambda: pg_url("harness_no_such_database"),
            "@pg_no_role@": lambda: pg_url("test", user="harness_no_such_role"),
            "@pg_bad_password@": lambda: pg_url("postgres", user=self.password_server.user,
                                                password="wrong-password", port=self.password_server.port)}
        for key, fill in fills.items():
            if key in value:
                value = value.replace(key, fill())
        return value


def unshare_skip_reason() -> str | None:
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
    if probe.returncode != 0:
        return ("NO MOUNT NAMESPACE (unshare --mount failed: "
                f"{probe.stderr.decode(errors='replace').strip()}): the read-only-mount rows are SKIPPED")
    return None


def cuda_skip_reason() -> str | None:
    import torch

    return "this machine has CUDA: train.device=cuda is no bad input here" if torch.cuda.is_available() else None


# --- running a row ---------------------------------------------------------------------------------------------

def entry_point(command: str) -> Callable[[list[str]], Any]:
    if command == "sweep":
        from harness.sweep.__main__ import main
    elif command == "gan-ablate":
        from harness.cli import main
    elif command == "train":
        from harness.train.__main__ import main
    else:
        from harness.report.__main__ import main
    return main


def command_line(row: Row, services: Services, folder: Path, config: Path) -> list[str]:
    argv = list(row.argv) if row.argv is not None else ["@config@", *row.args]
    return [services.text(item, folder, config) for item in argv]


def run_in_process(row: Row, argv: list[str], folder: Path, capfd: pytest.CaptureFixture) -> tuple[int, str]:
    """The command's exit code and its stderr, as a real process would have them."""
    from harness.config.plugin_loader import forget_new_entries, registered_names

    capfd.readouterr()
    registered = registered_names()
    importlib.invalidate_caches()  # plugin modules written a moment ago must be found
    crash = ""
    try:
        with warnings.catch_warnings(record=True) as caught:
            try:
                code = entry_point(row.command)(argv)
            except SystemExit as exc:
                code = exc.code
            except Exception:  # noqa: BLE001 - what a real process would print as a traceback, exit 1
                code, crash = 1, traceback.format_exc()
    finally:  # the row's plugin modules and whatever they registered are gone after it
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", None) or "").startswith(str(folder)):
                del sys.modules[name]
        forget_new_entries(registered)
    err = capfd.readouterr().err + crash + "".join(f"{w.category.__name__}: {w.message}\n" for w in caught)
    return (0 if code is None else code), err


def run_as_process(row: Row, argv: list[str], folder: Path) -> tuple[int, str]:
    module = {"sweep": "harness.sweep", "train": "harness.train", "report": "harness.report",
              "gan-ablate": "harness.cli"}[row.command]
    command = [sys.executable, "-m", module, *argv]
    if "unshare" in row.needs:  # a read-only bind mount of the folder's ro/, in a namespace of its own
        script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                   str(folder / "ro"), *command]
    done = subprocess.run(command, cwd=folder, env={**cli_env(), **row.env}, capture_output=True, text=True,
                          timeout=300)
    return done.returncode, done.stderr


def pg_rows(services: Services, argv: list[str]) -> list:
    """The rows of the session's PostgreSQL database when the command uses it, else nothing."""
    from tests.services import database_rows

    if not any(services._database and services._database in item for item in argv):
        return []
    with database_rows(services.database) as rows:
        return sorted(rows)
