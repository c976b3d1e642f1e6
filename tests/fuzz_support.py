"""Shared Hypothesis settings of the fuzzers (issue 26): bounded in examples and in time, and reproducible.

Each fuzzer states what every generated input must end in (a clean exit 2 or a valid result, never a
traceback, a hang or a write); these settings keep the whole set within the suite's budget. The
example count can be raised for a long hunt: `FUZZ_EXAMPLES=5000 pytest tests/test_fuzz_*.py`.
No example database is kept (`database=None`), so a run never writes `.hypothesis/` into the checkout,
and `derandomize` makes CI's examples the same on every run: a failure seen once is seen again.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
SECONDS_PER_EXAMPLE = 5.0  # a hang in one example fails it (Hypothesis's deadline) instead of stalling the suite
FUZZER_TIMEOUT_S = 240  # pytest-timeout for one fuzzer: its whole budget, not one example's

FUZZ = settings(max_examples=EXAMPLES, deadline=SECONDS_PER_EXAMPLE * 1000, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
                print_blob=True)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder of a fuzzer: empty, and it must stay so (its inputs are written beside it)."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder
