"""The trial's stored evaluation history: what the report's convergence and equal-time checks read."""

from __future__ import annotations

import math

from harness.sweep.objective import eval_history
from harness.trainer import COST_KEYS, TrainResult


def test_eval_history_is_column_wise_with_non_finite_values_as_none() -> None:
    result = TrainResult.empty()
    result.history = [(10, {"w1": 2.0, **dict.fromkeys(COST_KEYS, 1.0)}),
                      (20, {"w1": math.nan, **dict.fromkeys(COST_KEYS, 2.0)})]
    history = eval_history(result, "w1")
    assert history["step"] == [10.0, 20.0]
    assert history["value"] == [2.0, None]  # JSON has no NaN
    assert all(history[key] == [1.0, 2.0] for key in COST_KEYS)
