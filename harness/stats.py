"""Per-step training scalars kept on the device and read once per logging window.

Reading a CUDA scalar with `.item()` blocks the host until the GPU catches up; doing that
every step serializes the pipeline. Each step writes one row into a device buffer instead,
and `flush()` copies the whole window to the host with a single transfer.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

COLUMNS = ("d_loss", "g_loss", "wasserstein", "gp", "grad_norm_mean", "grad_norm_max")
LOSS_COLUMNS = ("d_loss", "g_loss")  # always written; non-finite here means the run diverged


class StepStats:
    """A (window, len(COLUMNS)) device buffer; unwritten entries stay NaN."""

    def __init__(self, window: int, device: torch.device) -> None:
        self.buffer = torch.full((window, len(COLUMNS)), math.nan, device=device)
        self.nan = torch.tensor(math.nan, device=device)
        self.rows = 0
        self.first_step = 1

    def record(self, step: int, values: dict[str, Tensor | None]) -> None:
        if self.rows == 0:
            self.first_step = step
        row = [values.get(c) for c in COLUMNS]
        self.buffer[self.rows] = torch.stack([self.nan if v is None else v.detach().float() for v in row])
        self.rows += 1

    def flush(self) -> tuple[np.ndarray, int]:
        """(rows x columns array of this window, step of its first row); one host sync; resets."""
        # copy=True: on the CPU `.cpu()` would alias the buffer that fill_ resets below.
        window = self.buffer[: self.rows].to("cpu", copy=True).numpy()
        first = self.first_step
        self.buffer.fill_(math.nan)
        self.rows = 0
        return window, first


def first_divergence(window: np.ndarray, first_step: int) -> tuple[int, str] | None:
    """(step, column) of the first non-finite loss in the window, or None."""
    for row_index, row in enumerate(window):
        for column in LOSS_COLUMNS:
            if not np.isfinite(row[COLUMNS.index(column)]):
                return first_step + row_index, column
    return None


def summarize(window: np.ndarray) -> dict[str, float]:
    """Window means (max for grad_norm_max); columns never written in the window are left out."""
    out: dict[str, float] = {}
    for i, column in enumerate(COLUMNS):
        values = window[:, i]
        values = values[~np.isnan(values)]
        if values.size:
            out[column] = float(values.max() if column == "grad_norm_max" else values.mean())
    return out
