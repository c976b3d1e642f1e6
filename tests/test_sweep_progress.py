"""Progress bars poll the storage from a thread: a storage that fails is skipped quietly, never a traceback."""

from __future__ import annotations

import threading
import time

import pytest

from harness.sweep.progress import ProgressMonitor
from tests.conftest import tiny_experiment
from tests.services import free_port


def test_a_storage_that_fails_prints_nothing_from_the_thread(capfd: pytest.CaptureFixture,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    escaped: list[BaseException] = []  # what Python would print as "Exception in thread sweep-progress"
    monkeypatch.setattr(threading, "excepthook", lambda args: escaped.append(args.exc_value))
    exp = tiny_experiment(sweep={"connect_timeout_seconds": 2})
    dead = f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/test"  # refused at every poll
    with ProgressMonitor(exp, dead, interval_s=0.05) as monitor:
        time.sleep(0.5)
    assert not monitor.thread.is_alive() and escaped == []
    err = capfd.readouterr().err
    assert "Exception in thread" not in err and "Traceback" not in err
