"""Per-step scalars kept on the device: one copy per window, NaN for unwritten, divergence detection."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from harness.train.step_stats import COLUMNS, StepStats, first_divergence, summarize


# A recipe's columns: every recipe's, then its constraint's named diagnostics.
COLS = COLUMNS + ("gp", "sn_sigma_max")


def t(x: float) -> torch.Tensor:
    return torch.tensor(x)


def test_record_and_flush_one_window() -> None:
    stats = StepStats(4, torch.device("cpu"), COLS)
    stats.record(11, {"d_loss": t(1.0), "g_loss": t(2.0), "gp": t(0.5), "not_a_column": t(9.0)})
    stats.record(12, {"d_loss": t(3.0), "g_loss": t(4.0), "wasserstein": t(-1.0)})
    window, first = stats.flush()
    assert first == 11 and window.shape == (2, len(COLS)) and window.dtype == np.float32
    row = dict(zip(COLS, window[0]))
    assert (row["d_loss"], row["g_loss"], row["gp"]) == (1.0, 2.0, 0.5)
    assert math.isnan(row["wasserstein"]) and math.isnan(row["grad_norm_max"])
    assert stats.rows == 0 and stats.flush()[0].shape == (0, len(COLS))


def test_flushed_window_is_a_copy_that_the_next_window_does_not_overwrite() -> None:
    stats = StepStats(2, torch.device("cpu"))
    stats.record(1, {"d_loss": t(1.0), "g_loss": t(1.0)})
    window, _ = stats.flush()
    stats.record(2, {"d_loss": t(9.0), "g_loss": t(9.0)})
    assert window[0, COLUMNS.index("d_loss")] == 1.0
    assert stats.flush()[1] == 2  # the next window starts at its own first step


def test_record_accepts_grad_tracking_tensors_and_never_syncs() -> None:
    meta = torch.device("meta")
    stats = StepStats(3, meta)
    loss = torch.ones((), device=meta, requires_grad=True) * 2
    stats.record(1, {"d_loss": loss, "g_loss": loss, "grad_norm_max": None})  # would raise on a host read
    assert stats.rows == 1
    assert not any(v is not None and v.requires_grad for v in stats.pending[0])  # no autograd graph kept alive


def test_record_launches_no_device_operation() -> None:
    stats = StepStats(2, torch.device("cpu"))
    values = {"d_loss": t(1.0), "g_loss": t(2.0)}
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        stats.record(1, values)
    assert [e.name for e in prof.events() if e.name.startswith("aten::") and e.name != "aten::detach"
            and e.name != "aten::alias"] == []


def test_flush_promotes_low_precision_scalars_to_float32() -> None:
    stats = StepStats(1, torch.device("cpu"))
    stats.record(1, {"d_loss": torch.tensor(1.5, dtype=torch.bfloat16), "g_loss": t(2.0)})
    window, _ = stats.flush()
    assert window.dtype == np.float32 and window[0, COLUMNS.index("d_loss")] == 1.5


def test_window_overflow_is_an_error_not_a_silent_wrap() -> None:
    stats = StepStats(1, torch.device("cpu"))
    stats.record(1, {"d_loss": t(1.0), "g_loss": t(1.0)})
    with pytest.raises(IndexError):
        stats.record(2, {"d_loss": t(1.0), "g_loss": t(1.0)})


def window_of(rows: list[dict[str, float]]) -> np.ndarray:
    out = np.full((len(rows), len(COLS)), np.nan, dtype=np.float32)
    for i, row in enumerate(rows):
        for key, value in row.items():
            out[i, COLS.index(key)] = value
    return out


def test_summarize_means_max_for_grad_norm_max_and_skips_unwritten_columns() -> None:
    window = window_of([{"d_loss": 1.0, "g_loss": 0.0, "grad_norm_mean": 1.0, "grad_norm_max": 3.0},
                        {"d_loss": 2.0, "g_loss": 1.0, "grad_norm_max": 7.0},
                        {"d_loss": 6.0, "g_loss": 2.0, "grad_norm_mean": 2.0, "grad_norm_max": 5.0}])
    assert summarize(window, COLS) == {"d_loss": 3.0, "g_loss": 1.0, "grad_norm_mean": 1.5, "grad_norm_max": 7.0}


def test_summarize_keeps_named_diagnostics_by_their_names_max_for_a_max() -> None:
    window = window_of([{"d_loss": 1.0, "g_loss": 0.0, "gp": 0.5, "sn_sigma_max": 2.0},
                        {"d_loss": 1.0, "g_loss": 0.0, "gp": 1.5, "sn_sigma_max": 4.0},
                        {"d_loss": 1.0, "g_loss": 0.0, "gp": 1.0, "sn_sigma_max": 3.0}])
    summary = summarize(window, COLS)
    assert summary["gp"] == 1.0 and summary["sn_sigma_max"] == 4.0


@pytest.mark.parametrize("bad, column", [(math.nan, "d_loss"), (math.inf, "g_loss"), (-math.inf, "d_loss")])
def test_first_divergence_finds_the_first_non_finite_loss(bad: float, column: str) -> None:
    rows = [{"d_loss": 1.0, "g_loss": 1.0} for _ in range(5)]
    rows[3][column] = bad
    rows[4]["d_loss"] = math.nan
    assert first_divergence(window_of(rows), 20, COLS) == (23, column)


def test_no_divergence_when_only_optional_columns_are_nan() -> None:
    rows = [{"d_loss": 1.0, "g_loss": 1.0}, {"d_loss": 1.0, "g_loss": 1.0, "gp": math.nan}]
    assert first_divergence(window_of(rows), 1, COLS) is None
