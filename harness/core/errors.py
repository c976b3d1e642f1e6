"""User-facing errors: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from harness.core.signals import exit_code, signal_name, stop_handlers

R = TypeVar("R")

# Exit codes of every command (docs/operations.md, "Exit codes"): 0 settled and usable.
EXIT_BUG = 1  # an unexpected crash, with its traceback: what Python itself exits with
EXIT_USER_ERROR = 2  # bad input, or a service unreachable at the start or lost mid-sweep
EXIT_NOTHING_USABLE = 3  # settled, but some variant has no complete run to compare
EXIT_UNFINISHED = 4  # a worker crashed and left part of the budget undone
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it
EXIT_TERMINATED = 143  # SIGTERM (128 + 15): a scheduler's time limit or preemption, `docker stop`, `kill`
EXIT_HANGUP = 129  # SIGHUP (128 + 1): the terminal closed


def root_cause(exc: BaseException) -> BaseException:
    """The innermost error behind wrappers: a database driver's own (`exc.orig`) rather than SQLAlchemy's,
    and the error a wrapper was raised from (MLflow and Optuna wrap SQLAlchemy's, whose first line may be
    "(raised as a result of Query-invoked autoflush; ...)" rather than "attempt to write a readonly database")."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "orig", None) or exc.__cause__
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc


def first_line(exc: BaseException) -> str:
    """An exception's root cause (see `root_cause`) in one line; its type name when it has no message."""
    cause = root_cause(exc)
    text = message_of(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


def message_of(exc: BaseException) -> str:
    """str(exc), or its type name when its __str__ itself fails (a plugin's exception may be that broken)."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - whatever the user's __str__ raises, the report must not
        return f"{type(exc).__name__} (its message could not be read)"


class UserError(Exception):
    """A problem with the user's input or environment that a one-line message explains."""


class ServiceLost(UserError):
    """A store that answered at the start stopped answering mid-sweep, and the retries ran out."""


class ConfigError(UserError):
    """A config value that fails validation; the message starts with the dotted key path."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.detail = message
        super().__init__(f"{path}: {message}" if path else message)


def cli_entry(main: Callable[..., R]) -> Callable[..., R]:
    """The one boundary of every command: a UserError, or an OS error on a path or stream the user gave,
    is `error: <one line>` and exit 2; Ctrl-C, SIGTERM and SIGHUP stop the command the same way (exit
    128 + the signal); only a bug leaves a traceback (exit 1)."""

    @functools.wraps(main)
    def wrapper(*args: object, **kwargs: object) -> R:
        try:
            with stop_handlers(), thread_crashes() as crashed:
                result = main(*args, **kwargs)
        except UserError as exc:
            fail(first_line(exc))
        except KeyboardInterrupt as exc:
            name = signal_name(exc)
            print("interrupted" if name == "SIGINT" else f"stopped by {name}", file=sys.stderr)
            raise SystemExit(exit_code(exc)) from None
        except OSError as exc:
            if exc.errno is None:
                raise  # not the operating system's answer: a bug
            fail(os_error_line(exc))
        except SystemExit:  # argparse's --help and usage errors end here
            check_stdout()
            raise
        check_stdout()  # a full disk under stdout shows here, not as "Exception ignored" at exit
        if crashed:  # its traceback is printed; a command whose thread died must not exit 0
            print(f"error: a bug: thread {crashed[0]!r} crashed (its traceback is above); please report it",
                  file=sys.stderr)
            raise SystemExit(EXIT_BUG)
        return result

    return wrapper


@contextlib.contextmanager
def thread_crashes() -> Iterator[list[str]]:
    """The names of the command's threads that died of an exception (a heartbeat, a progress poller):
    Python prints their traceback and carries on, and the command would otherwise exit 0."""
    crashed: list[str] = []
    previous = threading.excepthook

    def record(hook_args: threading.ExceptHookArgs) -> None:
        crashed.append(hook_args.thread.name if hook_args.thread else "unnamed")
        previous(hook_args)

    threading.excepthook = record
    try:
        yield crashed
    finally:
        threading.excepthook = previous


WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EPIPE, errno.EIO, errno.EROFS, errno.EBADF}


def said(exc: OSError) -> str:
    """What the system said, and its errno name: "No space left on device (ENOSPC)"."""
    code = errno.errorcode.get(exc.errno or 0, "")
    return (exc.strerror or message_of(exc)) + (f" ({code})" if code else "")


def os_error_line(exc: OSError) -> str:
    """An OS error as the user can act on it: the path (or stdout) and what the system said."""
    if exc.filename is not None:
        return f"cannot use '{exc.filename}': {said(exc)}"
    # A stream's write names no file (stdout on a full disk, a file the command writes): say what failed.
    return f"writing the output failed: {said(exc)}" if exc.errno in WRITE_ERRNOS else said(exc)


def stdout_error() -> OSError | None:
    try:
        sys.stdout.flush()
    except OSError as exc:
        return exc
    except ValueError:  # closed: nothing is left to lose
        return None
    return None


def check_stdout() -> None:
    if (exc := stdout_error()) is not None:
        fail(f"cannot write to stdout: {said(exc)}")


def fail(line: str) -> None:
    """Print the one line and exit 2; stdout is dropped first when it is the stream that failed, so that
    the interpreter's own flush at exit adds no second message."""
    if stdout_error() is not None:
        silence_stdout()
    print(f"error: {shortened(line)}", file=sys.stderr)
    raise SystemExit(EXIT_USER_ERROR) from None


MAX_LINE = 1000  # characters of an error line: a value of a megabyte is quoted by its start, not whole


def shortened(line: str) -> str:
    return line if len(line) <= MAX_LINE else f"{line[:MAX_LINE]}… ({len(line):,} characters in all)"


def silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the stream for the rest of the process
    except (OSError, ValueError):
        pass
