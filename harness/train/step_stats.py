"""Per-step training scalars kept on the device and read once per logging window.

Reading a CUDA scalar with `.item()` blocks the host until the GPU catches up; doing that
every step serializes the pipeline. Each step only keeps references to its (device) scalars;
`flush()` stacks the whole window into one tensor and copies it to the host in one transfer.
Deferring the stack to the window end keeps the per-step bookkeeping free of device
operations: no kernel launch on a GPU, no dispatcher round trip on a CPU.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

# Written by every recipe; a run's constraint adds its own diagnostics after these (`gp`, `r1`, ...).
COLUMNS = ("d_loss", "g_loss", "wasserstein", "grad_norm_mean", "grad_norm_max")
LOSS_COLUMNS = ("d_loss", "g_loss")  # always written; non-finite here means the run diverged


def reduces_by_max(column: str) -> bool:
    """A window keeps the maximum of `*_max` columns (grad_norm_max, sn_sigma_max) and the mean of others."""
    return column.endswith("_max")


class StepStats:
    """Up to `window` rows of per-step scalars; entries a step did not write read back as NaN."""

    def __init__(self, window: int, device: torch.device, columns: tuple[str, ...] = COLUMNS) -> None:
        self.window = window
        self.columns = columns
        self.nan = torch.tensor(math.nan, device=device)
        self.pending: list[tuple[Tensor | None, ...]] = []
        self.first_step = 1

    @property
    def rows(self) -> int:
        return len(self.pending)

    def record(self, step: int, values: dict[str, Tensor | None]) -> None:
        """Keep this step's scalars (detached: a loss must not keep its autograd graph alive)."""
        if len(self.pending) == self.window:
            raise IndexError(f"StepStats: more than {self.window} steps recorded without a flush")
        if not self.pending:
            self.first_step = step
        self.pending.append(tuple(v.detach() if v is not None and v.requires_grad else v
                                  for v in map(values.get, self.columns)))

    def flush(self) -> tuple[np.ndarray, int]:
        """(rows x columns float32 array of this window, step of its first row); one host sync; resets."""
        first = self.first_step
        if not self.pending:
            return np.empty((0, len(self.columns)), dtype=np.float32), first
        cells = [self.nan if v is None else v for row in self.pending for v in row]
        # stack promotes mixed dtypes (e.g. bf16 under autocast) before the one copy to the host.
        window = torch.stack(cells).float().reshape(len(self.pending), len(self.columns)).cpu().numpy()
        self.pending = []
        return window, first


def first_divergence(window: np.ndarray, first_step: int, columns: tuple[str, ...] = COLUMNS) -> tuple[int, str] | None:
    """(step, column) of the first non-finite loss in the window, or None."""
    losses = window[:, [columns.index(c) for c in LOSS_COLUMNS]]
    bad_rows, bad_columns = np.nonzero(~np.isfinite(losses))  # row-major: the earliest step comes first
    if bad_rows.size == 0:
        return None
    return first_step + int(bad_rows[0]), LOSS_COLUMNS[int(bad_columns[0])]


def summarize(window: np.ndarray, columns: tuple[str, ...] = COLUMNS) -> dict[str, float]:
    """Window means (max for `*_max` columns); columns never written in the window are left out."""
    out: dict[str, float] = {}
    for i, column in enumerate(columns):
        values = window[:, i]
        values = values[~np.isnan(values)]
        if values.size:
            out[column] = float(values.max() if reduces_by_max(column) else values.mean())
    return out
