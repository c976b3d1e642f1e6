"""KID: the unbiased polynomial-kernel MMD² against hand-computed numbers and a float64 loop reference."""

from __future__ import annotations

import numpy as np
import pytest

from harness.metrics.kid import kernel_distance, mmd2_unbiased, polynomial_kernel


def reference_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Bińkowski et al.'s estimator written as plain loops, float64."""
    d = x.shape[1]

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return (float(np.dot(a, b)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_the_kernel_is_cubic_in_the_dimension_scaled_dot_product() -> None:
    assert polynomial_kernel(np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]))[0, 0] == (11 / 2 + 1) ** 3 == 274.625


def test_a_hand_computed_case() -> None:
    # d = 1, k(a, b) = (ab + 1)^3. Within x: k(0, 1) = 1; within y: k(1, 2) = 27;
    # across: k(0,1) + k(0,2) + k(1,1) + k(1,2) = 1 + 1 + 8 + 27 = 37, mean 9.25. MMD² = 1 + 27 - 18.5.
    assert mmd2_unbiased(np.array([[0.0], [1.0]]), np.array([[1.0], [2.0]])) == pytest.approx(9.5, abs=1e-12)


def test_matches_the_loop_reference_on_unequal_sizes() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 3)), rng.normal(0.5, 1.2, size=(4, 3))
    assert mmd2_unbiased(x, y) == pytest.approx(reference_mmd2(x, y), rel=1e-12)
    assert mmd2_unbiased(x, x) == pytest.approx(reference_mmd2(x, x), rel=1e-12)


def test_it_is_unbiased_where_the_plug_in_estimate_is_not() -> None:
    # Same distribution on both sides: the unbiased estimates average to 0 within their standard
    # error; the biased estimate (diagonal kept) sits well above 0.
    rng = np.random.default_rng(1)
    draws = [(rng.normal(size=(8, 2)), rng.normal(size=(8, 2))) for _ in range(400)]
    unbiased = np.array([mmd2_unbiased(x, y) for x, y in draws])
    biased = np.array([polynomial_kernel(x, x).mean() + polynomial_kernel(y, y).mean()
                       - 2 * polynomial_kernel(x, y).mean() for x, y in draws])
    se = unbiased.std(ddof=1) / np.sqrt(len(unbiased))
    assert abs(unbiased.mean()) < 3 * se
    assert biased.mean() > 10 * se
    assert (unbiased < 0).any()  # an unbiased estimate of 0 must go negative sometimes


def test_subsets_average_and_are_seeded() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(30, 4)), rng.normal(1.0, 1.0, size=(20, 4))
    # Subsets as large as the smaller set, from a set of that size: a permutation, same value.
    assert kernel_distance(x[:20], y, 1000, 3, seed=0) == pytest.approx(mmd2_unbiased(x[:20], y), rel=1e-12)
    first = kernel_distance(x, y, 10, 5, seed=7)
    assert first == kernel_distance(x, y, 10, 5, seed=7) != kernel_distance(x, y, 10, 5, seed=8)
    by_hand_rng = np.random.default_rng(7)
    by_hand = np.mean([mmd2_unbiased(x[by_hand_rng.choice(30, 10, replace=False)],
                                     y[by_hand_rng.choice(20, 10, replace=False)]) for _ in range(5)])
    assert first == pytest.approx(by_hand, rel=1e-12)
    assert first > 0.1  # the mean shift of 1 is seen


def test_too_few_samples_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        kernel_distance(np.zeros((1, 2)), np.zeros((5, 2)), 10, 1, seed=0)


def test_subset_draws_follow_binkowski_and_torch_fidelity() -> None:
    """RandomState(seed).choice for x, then for y, per subset: the draws their reference code makes."""
    from harness.metrics.kid import subset_kernel_distance

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(9, 3)), rng.normal(0.3, 1.0, size=(7, 3))
    draws = np.random.RandomState(5)
    expected = []
    for _ in range(4):
        xi, yi = draws.choice(9, 5, replace=False), draws.choice(7, 5, replace=False)
        expected.append(reference_mmd2(x[xi], y[yi]))
    assert subset_kernel_distance(x, y, 5, 4, seed=5) == pytest.approx(float(np.mean(expected)), rel=1e-12)
    assert subset_kernel_distance(x, y, 5, 4, seed=6) != pytest.approx(float(np.mean(expected)), rel=1e-6)
    # a subset size above the sample counts uses the smaller count (7 here)
    draws = np.random.RandomState(0)
    xi, yi = draws.choice(9, 7, replace=False), draws.choice(7, 7, replace=False)
    assert subset_kernel_distance(x, y, 1000, 1, seed=0) == pytest.approx(reference_mmd2(x[xi], y[yi]), rel=1e-12)
    with pytest.raises(ValueError, match="at least 2 samples"):
        subset_kernel_distance(x[:1], y, 10, 1, seed=0)
