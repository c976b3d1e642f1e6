"""Exact Wasserstein-1 between two equal-size point sets, by optimal assignment.

Between two empirical measures with the same number of equally weighted points, an optimal
transport plan is a permutation (Birkhoff), so W1 is the mean Euclidean cost of the optimal
assignment: `scipy.optimize.linear_sum_assignment` gives it exactly. Its cost grows roughly
cubically (2-D, 1000 points: 0.05-0.6 s; 2000 points: 0.5-8 s on one core, the slow end when
the two sets are far apart and many costs nearly tie), so callers subsample to a fixed count.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist


def as_float64(points: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(points, torch.Tensor):
        points = points.detach().cpu().numpy()
    return np.asarray(points, dtype=np.float64)


def wasserstein1_exact(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """W1 between the empirical measures of (N, D) points `a` and `b` (Euclidean ground cost).

    Exact for the two point clouds; as an estimate of W1 between the distributions they were
    drawn from it carries a sampling bias that shrinks with N (see docs/metrics.md). Non-finite
    points give +inf.
    """
    a, b = as_float64(a), as_float64(b)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"need two (N, D) arrays of the same shape, got {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("inf")
    cost = cdist(a, b)
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())
