"""The trial's stored evaluation history (what the report's convergence and equal-time checks read), and
its heartbeat thread, which says once per outage that beats are missed."""

from __future__ import annotations

import math
import time

import pytest
from optuna.trial import TrialState

from harness.sweep import objective
from harness.sweep.objective import Heartbeat, eval_history
from harness.train.trainer import COST_KEYS, TrainResult


def test_eval_history_is_column_wise_with_non_finite_values_as_none() -> None:
    result = TrainResult.empty()
    result.history = [(10, {"w1": 2.0, **dict.fromkeys(COST_KEYS, 1.0)}),
                      (20, {"w1": math.nan, **dict.fromkeys(COST_KEYS, 2.0)})]
    history = eval_history(result, "w1")
    assert history["step"] == [10.0, 20.0]
    assert history["value"] == [2.0, None]  # JSON has no NaN
    assert all(history[key] == [1.0, 2.0] for key in COST_KEYS)


class FlakyStorage:
    """record_heartbeat fails on the beats listed in `failing` (1-based), succeeds otherwise."""

    def __init__(self, failing: set[int]) -> None:
        self.failing, self.beats = failing, 0

    def record_heartbeat(self, trial_id: int) -> None:
        self.beats += 1
        if self.beats in self.failing:
            raise ConnectionError("server closed the connection unexpectedly")


def test_a_heartbeat_outage_is_one_line_and_a_second_outage_another(capfd: pytest.CaptureFixture) -> None:
    storage = FlakyStorage({2, 3, 4, 6, 7})
    heartbeat = Heartbeat(storage, 1, 0.01).start()  # type: ignore[arg-type]
    deadline = time.monotonic() + 10
    while storage.beats < 9 and time.monotonic() < deadline:
        time.sleep(0.01)
    heartbeat.stop()
    lines = capfd.readouterr().err.splitlines()
    assert lines == ["warning: heartbeat not recorded (server closed the connection unexpectedly); trying again "
                     "every 0s"] * 2  # beats 2-4, then 6-7: two outages, two lines; no traceback


class FatalPluginError(BaseException):
    """What a plugin's loss might raise: not an Exception, so a bare `except Exception` lets it through."""


class UnreadableError(Exception):
    def __str__(self) -> str:
        raise ValueError("its __str__ fails too")


@pytest.mark.parametrize("raised, reason", [(FatalPluginError("nan in my loss"), "FatalPluginError: nan in my loss"),
                                            (UnreadableError(), "UnreadableError: UnreadableError (its message "
                                                                "could not be read)")])
def test_whatever_training_raises_fails_the_trial_not_the_sweep(raised: BaseException, reason: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_training(*args, **kwargs) -> None:
        raise raised

    monkeypatch.setattr(objective, "train", broken_training)
    assert objective.train_until_stopped(None, [], None) == (TrialState.FAIL, "FAILED", "error", reason)


def test_ctrl_c_while_training_still_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args, **kwargs) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(objective, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        objective.train_until_stopped(None, [], None)
