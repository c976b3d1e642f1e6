"""Ctrl-C that never lands between two writes that belong together.

Claiming a trial (WAITING -> RUNNING + heartbeat) and setting up its MLflow run must complete
as a unit, or an interrupted worker leaves a RUNNING trial that only the heartbeat grace period
would recover. Inside `deferred_interrupt()` a SIGINT is remembered and raised at its end.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are only delivered to the main thread; nothing to defer here
        return
    pending: list[int] = []

    def remember(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous = signal.signal(signal.SIGINT, remember)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt
