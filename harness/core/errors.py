"""User-facing errors: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")

# Exit codes of every command (docs/operations.md, "Exit codes"): 0 settled and usable; 1 an unexpected crash.
EXIT_USER_ERROR = 2  # bad input, or a service unreachable at the start or lost mid-sweep
EXIT_NOTHING_USABLE = 3  # settled, but some variant has no complete run to compare
EXIT_UNFINISHED = 4  # a worker crashed and left part of the budget undone
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


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
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


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
    """Turn UserError into `error: <message>` + exit 2, and Ctrl-C into exit 130, without tracebacks."""

    @functools.wraps(main)
    def wrapper(*args: object, **kwargs: object) -> R:
        try:
            return main(*args, **kwargs)
        except UserError as exc:
            print(f"error: {first_line(exc)}", file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(EXIT_INTERRUPTED) from None

    return wrapper
