"""One line for a slow step: a sweep that trains its evaluation classifier for half a minute says so.

Quick steps stay silent; a step still running after `after_s` seconds prints its message, and its
end prints how long it took, so that a terminal and a log file alike show why nothing else moves.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

SLOW_AFTER_S = 3.0


@contextmanager
def slow_step(message: str, after_s: float = SLOW_AFTER_S, stream: TextIO | None = None) -> Iterator[None]:
    """Print `message …` if the block is still running after `after_s` seconds, then `… done in N s`."""
    out = stream or sys.stdout
    start = time.monotonic()
    announced = threading.Event()

    def announce() -> None:
        print(f"{message} …", file=out, flush=True)
        announced.set()

    timer = threading.Timer(after_s, announce)
    timer.daemon = True
    timer.start()
    finished = False
    try:
        yield
        finished = True
    finally:
        timer.cancel()
        timer.join()  # a message being printed finishes before the outcome line
        if announced.is_set() and finished:  # a failure speaks for itself
            print(f"{message}: done in {time.monotonic() - start:.0f} s", file=out, flush=True)
