"""Importing the users' `plugins:` modules inside a guard.

A plugin is the user's code: it may fail to import in any way (an exception, a syntax error, a
duplicate or malformed registration, even `sys.exit()`). Each failure becomes one ConfigError naming
the plugin and the first line of the error, and the entries the failed module had registered before
it stopped are removed again, so a half-imported plugin leaves no names or knobs behind.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

from harness.core.errors import ConfigError, first_line
from harness.core.registry import CATALOG
from harness.core.strict import parse_value

MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def load_plugins(raw: Any) -> tuple[str, ...]:
    """Import the `plugins:` modules (from the working directory or PYTHONPATH) before validation.

    `raw` is the YAML's list, or a parsed config's tuple (a spawned sweep worker registers them again).
    """
    names = parse_value(tuple[str, ...], list(raw) if isinstance(raw, tuple) else [] if raw is None else raw,
                        "plugins")
    for i, name in enumerate(names):
        if not MODULE_NAME.fullmatch(name):
            raise ConfigError(f"plugins[{i}]", f"{name!r} is not a module name; allowed: an absolute dotted "
                                               "name such as my_losses or my_pkg.my_losses")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.append(str(Path.cwd()))  # `python -m harness...` from the user's directory finds their module
    for i, name in enumerate(names):
        import_guarded(name, f"plugins[{i}]")
    return names


def import_guarded(name: str, path: str) -> None:
    """Import one plugin; any failure (SystemExit included) is one ConfigError, its registrations undone."""
    before = registered_names()
    try:
        importlib.import_module(name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - the user's code: whatever it raises is reported, even a
        forget_new_entries(before)  # class that derives from BaseException or SystemExit
        raise ConfigError(path, failure_text(name, exc)) from None


def failure_text(name: str, exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return (f"{name!r} called sys.exit({exc.code!r}) while being imported; a plugin module may only "
                "define and register entries")
    if isinstance(exc, ModuleNotFoundError) and exc.name == name:
        return f"{name!r} cannot be imported: {first_line(exc)} (looked in the working directory and PYTHONPATH)"
    return f"{name!r} cannot be imported: {type(exc).__name__}: {first_line(exc)}"


def registered_names() -> dict[str, set[str]]:
    """What every registry holds now, by kind: the `before` of `forget_new_entries`."""
    return {kind: set(registry.names()) for kind, registry in CATALOG.items()}


def forget_new_entries(before: dict[str, set[str]]) -> None:
    """Unregister what was added since `before` (and its knobs): a failed import registers nothing."""
    for kind, registry in CATALOG.items():
        for name in [n for n in registry.names() if n not in before.get(kind, set())]:
            registry.remove(name)
