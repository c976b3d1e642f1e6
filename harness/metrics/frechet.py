"""The Fréchet distance between two Gaussians fitted to feature sets, in float64.

FD = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)). The cross term is computed as
tr((A S2 A)^(1/2)) with A = S1^(1/2): A S2 A is symmetric positive semi-definite and has the
same eigenvalues as S1 S2, so one symmetric eigendecomposition gives it without the complex
round-off residue that `scipy.linalg.sqrtm(S1 @ S2)` leaves on singular or ill-conditioned
covariances (rank-deficient ReLU features, a collapsed generator).
"""

from __future__ import annotations

import numpy as np
import torch


def gaussian_stats(features: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of (N, D) features, in float64."""
    if isinstance(features, torch.Tensor):
        features = features.detach().cpu().numpy()
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need (N >= 2, D) features, got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix.

    Round-off can make tiny eigenvalues of a PSD matrix slightly negative; they are clipped to 0.
    """
    sym = (matrix + matrix.T) / 2.0
    eigenvalues, eigenvectors = np.linalg.eigh(sym)
    roots = np.sqrt(np.clip(eigenvalues, 0.0, None))
    return (eigenvectors * roots) @ eigenvectors.T


def trace_sqrt_product(cov1: np.ndarray, cov2: np.ndarray) -> float:
    """tr((cov1 cov2)^(1/2)) for PSD cov1, cov2, through a symmetric PSD eigenproblem."""
    root1 = sqrtm_psd(cov1)
    middle = root1 @ cov2 @ root1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein squared) distance between N(mu1, cov1) and N(mu2, cov2), float64.

    Non-finite inputs give +inf (worse than any real score) rather than NaN, which Optuna
    would record as a failed trial. Tiny negative results from round-off are clipped to 0.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in (mu1, cov1, mu2, cov2)]
    if not all(np.isfinite(a).all() for a in arrays):
        return float("inf")
    mu1, cov1, mu2, cov2 = arrays
    diff = mu1 - mu2
    value = diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt_product(cov1, cov2)
    return max(float(value), 0.0)
