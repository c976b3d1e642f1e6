"""One line per error: the root cause behind SQLAlchemy's, MLflow's and Optuna's wrappers."""

from __future__ import annotations

import errno
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy.exc

from harness.core.errors import ConfigError, UserError, cli_entry, first_line, root_cause

REPO = Path(__file__).resolve().parents[1]
AUTOFLUSH = ("raised as a result of Query-invoked autoflush; consider using a session.no_autoflush block if this "
             "flush is occurring prematurely")


def wrapped() -> Exception:
    """What MLflow raises when runs/ turned read-only: its exception, from SQLAlchemy's, from sqlite3's."""
    try:
        try:
            raise sqlite3.OperationalError("attempt to write a readonly database")
        except sqlite3.Error as driver:
            sql_error = sqlalchemy.exc.OperationalError("INSERT INTO metrics ...", {}, driver)
            sql_error.add_detail(AUTOFLUSH)  # what SQLAlchemy's session adds to an error of an autoflush
            raise sql_error from driver
    except sqlalchemy.exc.OperationalError as sql:
        try:
            raise RuntimeError(str(sql)) from sql
        except RuntimeError as outer:
            return outer


def test_the_root_cause_is_the_drivers_message_not_the_wrappers() -> None:
    exc = wrapped()
    assert str(exc).splitlines()[0].startswith("(raised as a result of Query-invoked autoflush")
    assert isinstance(root_cause(exc), sqlite3.OperationalError)
    assert first_line(exc) == "attempt to write a readonly database"


def test_an_error_without_a_message_is_named_by_its_type() -> None:
    assert first_line(EOFError()) == "EOFError" and first_line(KeyError()) == "KeyError"


def test_a_user_error_raised_from_none_keeps_its_own_message() -> None:
    try:
        try:
            raise ValueError("inner")
        except ValueError:
            raise ConfigError("train.lr", "bad") from None
    except ConfigError as exc:
        assert first_line(exc) == "train.lr: bad"


def test_cli_entry_prints_one_line_and_exits_2(capsys: pytest.CaptureFixture) -> None:
    @cli_entry
    def main() -> int:
        raise UserError("first line\nsecond line")

    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2 and capsys.readouterr().err == "error: first line\n"


# --- issue 26: one boundary for OS errors, signals and broken exceptions ----------------------------------

class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("a plugin's __str__ that itself fails")


def test_an_exception_whose_message_cannot_be_read_is_named_by_its_type() -> None:
    assert first_line(Unprintable()) == "Unprintable (its message could not be read)"


def run_entry(body, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as ended:
        cli_entry(body)()
    return ended.value.code, capsys.readouterr().err


@pytest.mark.parametrize("error, said", [
    (IsADirectoryError(errno.EISDIR, "Is a directory", "reports/x"), "cannot use 'reports/x': Is a directory (EISDIR)"),
    (PermissionError(errno.EACCES, "Permission denied", "/proc/x"), "cannot use '/proc/x': Permission denied (EACCES)"),
    (OSError(errno.ENOSPC, "No space left on device"), "writing the output failed: No space left on device (ENOSPC)"),
])
def test_an_os_error_is_one_line_naming_the_path_and_exit_2(error: OSError, said: str, capsys) -> None:
    def body() -> int:
        raise error

    code, err = run_entry(body, capsys)
    assert code == 2 and err == f"error: {said}\n"


def test_an_os_error_without_an_errno_is_a_bug_and_keeps_its_traceback() -> None:
    def body() -> int:
        raise OSError("raised by the harness's own code, not by the system")

    with pytest.raises(OSError):
        cli_entry(body)()


@pytest.mark.parametrize("flag", ["--dry-run", "--print-config"])
def test_stdout_on_a_full_device_is_one_line_and_exit_2(flag: str) -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "harness.sweep", str(REPO / "experiments" / "toy.yaml"), flag],
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 2 and done.stderr == ("error: writing the output failed: No space left on device "
                                                    "(ENOSPC)\n"), done.stderr


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_command_whose_thread_crashed_does_not_exit_0(capsys) -> None:
    """A heartbeat or poller thread that dies prints its traceback and lets the main thread carry on; the
    command would exit 0 with a crash in its log (issue 26: sweep.heartbeat_seconds: 10**12 did)."""
    def body() -> int:
        thread = threading.Thread(target=lambda: 1 / 0, name="heartbeat-7")
        thread.start()
        thread.join()
        return 0

    before = threading.excepthook  # pytest's own, which records the traceback as a warning
    code, err = run_entry(body, capsys)
    assert code == 1
    assert err.splitlines()[-1] == "error: a bug: thread 'heartbeat-7' crashed (its traceback is above); please report it"
    assert threading.excepthook is before  # the hook is the command's only


@pytest.mark.parametrize("length, shown", [(10, 10), (1000, 1000), (1001, 1000), (10**6, 1000)])
def test_an_error_line_quotes_a_huge_value_by_its_start(length: int, shown: int, capsys) -> None:
    def body() -> int:
        raise UserError("x" * length)

    code, err = run_entry(body, capsys)
    assert code == 2 and err.count("\n") == 1 and err.count("x") == shown
    assert err.endswith(f"… ({length:,} characters in all)\n") == (length > 1000)
