"""User-facing errors: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")

EXIT_USER_ERROR = 2


class UserError(Exception):
    """A problem with the user's input or environment that a one-line message explains."""


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
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            print(f"error: {first_line}", file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR) from None
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            raise SystemExit(130) from None

    return wrapper
