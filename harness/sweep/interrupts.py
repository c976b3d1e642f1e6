"""Stop requests that never land between two writes that belong together.

Claiming a trial (WAITING -> RUNNING + heartbeat) and setting up its MLflow run must complete
as a unit, or an interrupted worker leaves a RUNNING trial that only the heartbeat grace period
would recover. Inside `deferred_interrupt()` a Ctrl-C, SIGTERM or SIGHUP is remembered and handed,
at the block's end, to the handler that was in place (harness.core.signals): one that was ignored
stays ignored, and one without a Python handler does what it would have done.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from harness.core.signals import STOP_SIGNALS


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are only delivered to the main thread; nothing to defer here
        return
    pending: list[int] = []

    def remember(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(signum, remember)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            if handler is not signal.SIG_IGN:
                signal.signal(signum, handler)
    if pending:
        deliver(pending[0], previous[pending[0]])


def deliver(signum: int, handler: Any) -> None:
    """What the signal would have done had it arrived after the block."""
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)  # restored above: the default action (terminate) happens now
    elif handler is None and signum == signal.SIGINT:
        raise KeyboardInterrupt  # a handler installed outside Python: Ctrl-C's meaning for a Python program
