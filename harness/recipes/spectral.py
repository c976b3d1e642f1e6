"""Spectral normalization of the critic (Miyato et al. 2018): W / sigma(W), sigma by power iteration.

It wraps every Linear and Conv weight of D with torch's `spectral_norm` parametrization when the
models are built. The logged `sn_sigma_max` is the largest current estimate u^T W v over D's
layers: how far the raw weights have grown, which the normalization hides from the critic.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _SpectralNorm, spectral_norm

NORMALIZED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)


def apply_spectral_norm(D: nn.Module, n_power_iterations: int) -> nn.Module:
    """Wrap every Linear/Conv weight of D (in place); layers already wrapped are left alone."""
    layers = [m for m in D.modules() if isinstance(m, NORMALIZED) and not parametrize.is_parametrized(m, "weight")]
    for layer in layers:
        spectral_norm(layer, n_power_iterations=n_power_iterations)
    return D


def spectral_parts(D: nn.Module) -> list[tuple[_SpectralNorm, Tensor]]:
    """(parametrization, raw weight) of every spectrally normalized layer of D."""
    parts = []
    for m in D.modules():
        if parametrize.is_parametrized(m, "weight"):
            parts += [(p, m.parametrizations.weight.original) for p in m.parametrizations.weight
                      if isinstance(p, _SpectralNorm)]
    return parts


@torch.no_grad()
def sigma_estimates(D: nn.Module) -> Tensor:
    """u^T W v per normalized layer, with the power iteration's current u and v; shape (layers,)."""
    sigmas = [torch.vdot(p._u, torch.mv(p._reshape_weight_to_matrix(w), p._v)) for p, w in spectral_parts(D)]
    return torch.stack(sigmas)
