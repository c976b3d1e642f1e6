"""A named registry: every variant axis (loss, constraint, schedule, arch, dataset, metric) is one.

Each registry also enters a catalog by its kind, so the config schema can name a registry's
entries (`registered("loss")`) without importing it: the schema stays at the bottom of the layers.
An entry with a `knobs` attribute declares those knobs (see `harness.core.knobs`) when it is added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from harness.core import knobs

T = TypeVar("T")

CATALOG: dict[str, "Registry"] = {}  # kind -> registry


class Registry(Generic[T]):
    """Maps names to entries; config validation lists `names()` in its error messages."""

    def __init__(self, kind: str, knob_section: str = knobs.TRAIN) -> None:
        self.kind = kind
        self.knob_section = knob_section  # where its entries' knobs are read: train.<knob> or model.<knob>
        self._entries: dict[str, T] = {}
        CATALOG.setdefault(kind, self)

    def add(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        knobs.declare(self.kind, name, tuple(getattr(entry, "knobs", ())), self.knob_section)
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> T:
        """Unregister `name` and its knobs (for tests that register a temporary entry)."""
        knobs.undeclare(self.kind, name)
        return self._entries.pop(name)

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of `add`."""

        def decorate(entry: T) -> T:
            return self.add(name, entry)

        return decorate

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)


def registered(kind: str) -> Callable[[], list[str]]:
    """A lazy `choices` for a config field: the names in the registry of `kind` when validated."""
    return lambda: CATALOG[kind].names() if kind in CATALOG else []
