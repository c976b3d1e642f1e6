"""2-D toy distributions with the geometry of the WGAN-GP toy code (gan_toy.py).

That code scales the mode-collapse literature's mixtures (ring: radius 2, sd 0.02; grid:
spacing 2, sd 0.05) down by 1.414 and 2.828 respectively; centres and sigma shrink together,
so mode counts and high-quality fractions are unchanged by the scale.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from harness.data.base import DATASETS, DatasetEntry


class GaussianMixture2D:
    """Equal-weight isotropic Gaussians at `centers`, sampled on the fly on `device`."""

    kind = "points"
    sample_shape = (2,)

    def __init__(self, centers: Tensor, sigma: float, device: torch.device) -> None:
        self.centers = centers.to(device=device, dtype=torch.float32)
        self.sigma = float(sigma)
        self.device = device
        self.info: dict[str, float] = {}

    def sample(self, n: int) -> Tensor:
        idx = torch.randint(0, self.centers.shape[0], (n,), device=self.device)
        return self.centers[idx] + self.sigma * torch.randn(n, 2, device=self.device)

    def state_dict(self) -> dict[str, Any]:
        return {}  # stateless: all randomness comes from the global RNG, which checkpoints save

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


def ring8_centers() -> Tensor:
    # k * 2*pi/8 for k = 0..7: linspace(0, 2*pi, 8) would put modes 0 and 7 at the same angle.
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    radius = 2.0 / 1.414
    return torch.stack([radius * torch.cos(angles), radius * torch.sin(angles)], dim=1).float()


def grid25_centers() -> Tensor:
    ticks = torch.arange(-2, 3, dtype=torch.float64) * 2.0 / 2.828
    xs, ys = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1).float()


class SwissRoll:
    """sklearn's make_swiss_roll(noise=0.25) projected on (x, z) and divided by 7.5, as in gan_toy.py."""

    kind = "points"
    sample_shape = (2,)
    centers = None
    sigma = None

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.info: dict[str, float] = {}

    def sample(self, n: int) -> Tensor:
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, device=self.device))
        roll = torch.stack([t * torch.cos(t), t * torch.sin(t)], dim=1)
        return (roll + 0.25 * torch.randn(n, 2, device=self.device)) / 7.5

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


# "modes": discrete modes with `centers` and `sigma`, which the mode-counting metrics need.
DATASETS.add("ring8", DatasetEntry("points", lambda cfg, dev: GaussianMixture2D(ring8_centers(), 0.02 / 1.414, dev),
                                   traits=("modes",)))
DATASETS.add("grid25", DatasetEntry("points", lambda cfg, dev: GaussianMixture2D(grid25_centers(), 0.05 / 2.828, dev),
                                    traits=("modes",)))
DATASETS.add("swissroll", DatasetEntry("points", lambda cfg, dev: SwissRoll(dev)))
