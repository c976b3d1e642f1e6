"""The Fréchet distance against float64 references on Gaussians with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from harness.metrics.frechet import frechet_distance, gaussian_stats, sqrtm_psd, trace_sqrt_product


def random_spd(dim: int, rng: np.random.Generator, rank: int | None = None) -> np.ndarray:
    a = rng.normal(size=(dim, rank or dim))
    return a @ a.T / dim


def reference_fd(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """The textbook formula with scipy's general sqrtm (fine on well-conditioned full-rank inputs)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_diagonal_gaussians_match_the_closed_form() -> None:
    # Diagonal covariances commute: FD = |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2.
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([3.0, 1.0, 2.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 0.25])
    expected = 25.0 + (1 - 2) ** 2 + 0.0 + (3 - 0.5) ** 2
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_full_covariances_match_a_scipy_float64_reference() -> None:
    rng = np.random.default_rng(0)
    for dim in (2, 16, 64):
        mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
        s1, s2 = random_spd(dim, rng), random_spd(dim, rng)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference_fd(mu1, s1, mu2, s2), rel=1e-9)


def test_identical_gaussians_are_at_distance_zero_even_when_singular() -> None:
    rng = np.random.default_rng(1)
    s = random_spd(32, rng, rank=5)  # rank-deficient, like dead ReLU features
    mu = rng.normal(size=32)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-9)


def test_a_point_mass_against_a_gaussian() -> None:
    # Zero covariance (a collapsed generator): FD = |mu diff|^2 + tr(S).
    rng = np.random.default_rng(2)
    s = random_spd(8, rng)
    mu = rng.normal(size=8)
    assert frechet_distance(mu, np.zeros((8, 8)), np.zeros(8), s) == pytest.approx(mu @ mu + np.trace(s), rel=1e-12)


def test_scaled_isotropic_gaussians() -> None:
    # N(0, a^2 I) vs N(0, b^2 I) in d dims: FD = d (a - b)^2.
    assert frechet_distance(np.zeros(10), 4.0 * np.eye(10), np.zeros(10), 0.25 * np.eye(10)) == pytest.approx(
        10 * (2.0 - 0.5) ** 2, rel=1e-12)


def test_sample_statistics_converge_to_the_closed_form() -> None:
    # Features drawn from known diagonal Gaussians: the estimate approaches the true FD from above
    # (the finite-sample bias is positive), here within 2% at n = 20000, d = 4.
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20000, 4)) * np.sqrt([1.0, 2.0, 3.0, 4.0])
    y = rng.normal(size=(20000, 4)) * np.sqrt([4.0, 2.0, 1.0, 1.0]) + 1.0
    truth = 4.0 + sum((math.sqrt(a) - math.sqrt(b)) ** 2 for a, b in [(1, 4), (2, 2), (3, 1), (4, 1)])
    estimate = frechet_distance(*gaussian_stats(x), *gaussian_stats(y))
    assert estimate == pytest.approx(truth, rel=0.02)


def test_gaussian_stats_are_float64_and_accept_tensors() -> None:
    x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    mean, cov = gaussian_stats(x)
    assert mean.dtype == np.float64 and cov.dtype == np.float64
    np.testing.assert_allclose(cov, np.cov(x.double().numpy(), rowvar=False), rtol=1e-12)
    np.testing.assert_allclose(mean, x.double().numpy().mean(0), rtol=1e-12)
    with pytest.raises(ValueError):
        gaussian_stats(np.zeros((1, 3)))


def test_sqrtm_psd_squares_back_and_clips_round_off() -> None:
    rng = np.random.default_rng(4)
    s = random_spd(12, rng, rank=3)
    root = sqrtm_psd(s)
    np.testing.assert_allclose(root @ root, s, atol=1e-12)
    # The 9 zero eigenvalues come out as round-off ~1e-16, whose square roots (~1e-8) add up:
    # the cross term of a singular covariance is only good to ~1e-8 relative.
    assert trace_sqrt_product(s, s) == pytest.approx(np.trace(s), rel=1e-7)


def test_non_finite_statistics_give_inf() -> None:
    assert frechet_distance(np.array([np.nan]), np.eye(1), np.zeros(1), np.eye(1)) == math.inf
