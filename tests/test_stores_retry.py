"""Bounded, visible retries: one line per attempt naming the root cause, then one ServiceLost line."""

from __future__ import annotations

import pytest

from harness.core.errors import ServiceLost
from harness.stores.retry import RetryPolicy, backoff, call_with_retries
from tests.test_core_errors import wrapped


def policy(attempts: int = 3) -> RetryPolicy:
    return RetryPolicy("the tracking database", "postgresql://u:secret@db/x", attempts, 0.0,
                       transient=lambda exc: isinstance(exc, RuntimeError))


def test_each_attempt_is_one_line_with_the_root_cause_and_the_password_hidden(capsys: pytest.CaptureFixture) -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise wrapped()
        return "done"

    assert call_with_retries(policy(), flaky) == "done"
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"waiting for the tracking database at postgresql://u:***@db/x (attempt {n} of 3, next in 0s): "
                     "attempt to write a readonly database" for n in (2, 3)]


def test_giving_up_is_service_lost_naming_the_cause(capsys: pytest.CaptureFixture) -> None:
    def dead() -> None:
        raise wrapped()

    with pytest.raises(ServiceLost, match=r"^lost the tracking database at postgresql://u:\*\*\*@db/x after 3 "
                                          r"attempts \(attempt to write a readonly database\)"):
        call_with_retries(policy(), dead)
    assert len(capsys.readouterr().err.splitlines()) == 2


def test_a_failure_that_is_not_transient_propagates_at_once() -> None:
    def broken() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        call_with_retries(policy(), broken)


def test_the_wait_doubles_up_to_the_cap() -> None:
    slow = RetryPolicy("x", "y", 10, 2.0, transient=lambda exc: True)
    assert [backoff(slow, n) for n in (1, 2, 3, 4, 5, 6)] == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
