"""Slow steps say so: a line once a step has run a few seconds, and how long it took; quick ones stay silent."""

from __future__ import annotations

import io
import time

import pytest

from harness.sweep.notices import slow_step


def test_a_slow_step_prints_its_message_and_then_its_time() -> None:
    out = io.StringIO()
    with slow_step("training the evaluation classifier", after_s=0.05, stream=out):
        time.sleep(0.3)
    assert out.getvalue().splitlines() == ["training the evaluation classifier …",
                                           "training the evaluation classifier: done in 0 s"]


def test_a_quick_step_prints_nothing() -> None:
    out = io.StringIO()
    with slow_step("loading the data", after_s=5.0, stream=out):
        pass
    assert out.getvalue() == ""


def test_a_failing_slow_step_does_not_claim_to_be_done() -> None:
    out = io.StringIO()
    with pytest.raises(RuntimeError), slow_step("preparing the stores", after_s=0.05, stream=out):
        time.sleep(0.2)
        raise RuntimeError("boom")
    assert out.getvalue() == "preparing the stores …\n"
