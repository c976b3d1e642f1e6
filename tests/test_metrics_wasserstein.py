"""Exact W1 by assignment: known answers, and the estimator's error on a known case."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from harness.metrics.wasserstein import wasserstein1_exact


def test_a_cloud_and_its_translate_are_exactly_the_shift_apart() -> None:
    # W1 >= |mean difference| = |v|, and the identity coupling achieves it.
    a = np.random.default_rng(0).normal(size=(300, 2))
    assert wasserstein1_exact(a, a + [0.6, 0.8]) == pytest.approx(1.0, rel=1e-12)
    assert wasserstein1_exact(a, a[::-1]) == pytest.approx(0.0, abs=1e-12)


def test_a_hand_computed_assignment() -> None:
    # Crossing is never optimal: pair (0,0)-(0,1) and (2,0)-(2,1), cost 1 each.
    a = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    b = torch.tensor([[2.0, 1.0], [0.0, 1.0]])
    assert wasserstein1_exact(a, b) == pytest.approx(1.0)


def test_estimator_error_on_shifted_gaussians_at_500_points() -> None:
    # Two independent 500-point samples (w1's count) of N(0, I) and N(v, I), |v| = 1: true W1 = 1.
    # Over 20 seeds the estimate reads 1.03 +- 0.05, worst error 0.11 (docs/metrics.md).
    values = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        values.append(wasserstein1_exact(rng.normal(size=(500, 2)), rng.normal(size=(500, 2)) + [0.6, 0.8]))
    assert np.mean(values) == pytest.approx(1.0, abs=0.08)
    assert max(abs(v - 1.0) for v in values) < 0.15


def test_non_finite_points_give_inf_and_shapes_must_match() -> None:
    a = np.zeros((3, 2))
    assert wasserstein1_exact(a, np.full((3, 2), np.inf)) == math.inf
    with pytest.raises(ValueError):
        wasserstein1_exact(a, np.zeros((4, 2)))
