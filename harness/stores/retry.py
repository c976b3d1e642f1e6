"""Bounded, visible retries of calls to a service (MLflow server, database) that may go away.

A dead service must never hang a sweep silently: each failed attempt prints one line naming
the service and the attempt, the waits grow geometrically up to a cap, and when the attempts
run out the call raises `ServiceLost` (a one-line user error, exit code 2).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from harness.core.errors import ServiceLost, first_line
from harness.stores.urls import redact

R = TypeVar("R")
MAX_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """Who is called (for the messages), how often, and which failures are worth another try."""

    service: str  # "the tracking server", "the Optuna storage"
    url: str
    attempts: int  # tries in all; 1 means no retry
    backoff_seconds: float  # wait after the first failure; doubled after each further one
    transient: Callable[[BaseException], bool]


def backoff(policy: RetryPolicy, failures: int) -> float:
    return min(MAX_WAIT_SECONDS, policy.backoff_seconds * 2 ** (failures - 1))


def call_with_retries(policy: RetryPolicy, fn: Callable[..., R], *args: object, **kwargs: object) -> R:
    """`fn(*args, **kwargs)`, retried on transient failures; ServiceLost once `attempts` are spent."""
    for attempt in range(1, policy.attempts + 1):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - classified by the policy; the rest propagate unchanged
            if not policy.transient(exc):
                raise
            if attempt == policy.attempts:
                raise ServiceLost(f"lost {policy.service} at {redact(policy.url)} after {policy.attempts} "
                                  f"attempts ({one_line(exc)}); the running trial is re-queued: start the "
                                  "service and run the same command again to resume") from None
            wait = backoff(policy, attempt)
            print(f"waiting for {policy.service} at {redact(policy.url)} (attempt {attempt + 1} of "
                  f"{policy.attempts}, next in {wait:.0f}s): {one_line(exc)}", file=sys.stderr, flush=True)
            time.sleep(wait)
    raise AssertionError("unreachable")  # the loop returns or raises


def one_line(exc: BaseException) -> str:
    """The root cause in at most 200 characters: what the user can act on, not the wrappers' text."""
    return first_line(exc)[:200]
