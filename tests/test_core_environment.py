"""A variable set for a block is put back as it was: restored when it existed, removed when it did not."""

from __future__ import annotations

import os

import pytest

from harness.core.environment import environment

NAME = "HARNESS_TEST_ENVIRONMENT_SWITCH"


def test_an_absent_variable_is_removed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NAME, raising=False)
    with environment(NAME, "1"):
        assert os.environ[NAME] == "1"
    assert NAME not in os.environ


def test_a_present_variable_gets_its_value_back_even_after_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NAME, "before")
    with pytest.raises(RuntimeError), environment(NAME, "inside"):
        assert os.environ[NAME] == "inside"
        raise RuntimeError
    assert os.environ[NAME] == "before"
