"""Stop requests: Ctrl-C (SIGINT), and the SIGTERM and SIGHUP that schedulers, `docker stop`, systemd and a
closed terminal send, all take one path: a `KeyboardInterrupt` in the main thread, so the code that re-queues
a running trial on Ctrl-C does the same on SIGTERM, at once instead of after the heartbeat's grace.

The first request raises; repeats are ignored while the process cleans up (a scheduler may send SIGTERM to
every process of a job, and a parent forwards its own stop to its workers): a second interrupt in the middle
of re-queueing would leave the trial RUNNING. The exit code is 128 + the signal, as shells report it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

# SIGHUP is POSIX-only; where it is missing the tuple simply has fewer entries.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Stopped(KeyboardInterrupt):
    """A stop request by a signal other than Ctrl-C, taking Ctrl-C's path; `signum` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_signum(exc: KeyboardInterrupt) -> int:
    """The signal behind an interrupt: its own for `Stopped`, SIGINT for a plain Ctrl-C."""
    return getattr(exc, "signum", signal.SIGINT)


def exit_code(exc: KeyboardInterrupt) -> int:
    """128 + the signal number (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP): what a shell reports for a killed command."""
    return 128 + stop_signum(exc)


def signal_name(exc: KeyboardInterrupt) -> str:
    return signal.Signals(stop_signum(exc)).name


class StopOnce:
    """A handler that raises the first stop request and ignores the ones that follow."""

    def __init__(self) -> None:
        self.raised = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.raised:
            return
        self.raised = True
        raise KeyboardInterrupt if signum == signal.SIGINT else Stopped(signum)


def install_stop_handlers(include_sigint: bool = False) -> dict[int, object]:
    """SIGTERM and SIGHUP (and SIGINT in a worker process) raise once, in the main thread; returns the
    handlers they replaced.

    A signal the process inherited as ignored stays ignored (`nohup` ignores SIGHUP on purpose), and one
    that already has a handler of its own keeps it. The command's own Ctrl-C keeps Python's handler, so a
    second Ctrl-C still stops a process that seems stuck."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    handler, replaced = StopOnce(), {}
    for signum in STOP_SIGNALS:
        if signum == signal.SIGINT and not include_sigint:
            continue
        current = signal.getsignal(signum)
        if current in (signal.SIG_DFL, signal.default_int_handler) or isinstance(current, StopOnce):
            replaced[signum] = signal.signal(signum, handler)
    return replaced


@contextmanager
def stop_handlers() -> Iterator[None]:
    """`install_stop_handlers` for the length of one command; what was there before comes back after (a
    test that runs commands in its own process keeps its own handlers)."""
    replaced = install_stop_handlers()
    try:
        yield
    finally:
        for signum, handler in replaced.items():
            signal.signal(signum, handler)
