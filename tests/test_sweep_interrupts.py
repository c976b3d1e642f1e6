"""A stop request inside a block that must finish whole is handed, at its end, to the handler that was there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from harness.core.signals import StopOnce, Stopped
from harness.sweep.interrupts import deferred_interrupt


pytestmark = pytest.mark.usefixtures("saved_signal_handlers")  # tests/conftest.py


@pytest.mark.parametrize("signum, raised", [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, Stopped),
                                            (signal.SIGHUP, Stopped)])
def test_a_stop_inside_the_block_lands_after_it(signum: int, raised: type) -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, StopOnce())
    signal.signal(signal.SIGHUP, StopOnce())
    done = []
    with pytest.raises(raised):
        with deferred_interrupt():
            os.kill(os.getpid(), signum)
            done.append("the second write")
    assert done == ["the second write"]


def test_a_signal_ignored_at_launch_stays_ignored() -> None:
    """nohup and `cmd &` start a process with SIGINT ignored: the block must not turn it into an interrupt."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with deferred_interrupt():
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_a_signal_without_a_python_handler_does_what_it_would_have_done_after_the_block() -> None:
    script = textwrap.dedent("""
        import os, signal
        from harness.sweep.interrupts import deferred_interrupt
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with deferred_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            print("finished the block", flush=True)
        print("never printed", flush=True)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == -signal.SIGTERM and done.stdout == "finished the block\n"


def test_outside_the_main_thread_nothing_is_deferred() -> None:
    import threading

    seen = []
    thread = threading.Thread(target=lambda: seen.append(deferred_interrupt().__enter__() is None))
    thread.start()
    thread.join()
    assert seen == [True]
