"""An environment variable set for the length of a block, then put back as it was (or removed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def environment(name: str, value: str) -> Iterator[None]:
    """`os.environ[name] = value` inside the block: for libraries that read a switch from the
    environment on each call (torch.load's weights-only switch, MLflow's progress bar)."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous
