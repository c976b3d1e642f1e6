"""Figures: PNGs on a headless canvas, the same bytes for the same data, empty panels explained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution

from harness.report import figures

VARIANTS = ["vanilla", "wgan_gp"]
COLORS = figures.palette(VARIANTS)
SEARCH = pd.DataFrame({"variant": ["vanilla", "vanilla", "wgan_gp", "wgan_gp", "wgan_gp"],
                       "number": [0, 1, 0, 1, 2], "outcome": ["complete", "complete", "complete", "pruned", "complete"],
                       "value": [1.4, 1.3, 0.9, None, 0.8], "param.n_critic": [1, 5, 5, 2, 1.0],
                       "param.lambda_gp": [None, None, 10.0, 0.3, 40.0]})
N_CRITIC = CategoricalDistribution((1, 2, 5))
DISTS = {"vanilla": {"n_critic": N_CRITIC},
         "wgan_gp": {"lambda_gp": FloatDistribution(0.1, 100.0, log=True), "n_critic": N_CRITIC}}
CURVES = pd.DataFrame({"variant": ["vanilla"] * 2 + ["wgan_gp"] * 2, "key": ["d_loss"] * 4, "step": [10, 20] * 2,
                       "value": [1.0, 0.9, -0.5, -0.4]})
STEPS = pd.DataFrame({"variant": ["vanilla"] * 4, "stage": ["confirm"] * 4, "number": [0, 0, 1, 1],
                      "step": [20, 40, 20, 40], "value": [1.5, 1.3, 1.6, 1.2]})


def draw_all(folder: Path) -> list[Path]:
    folder.mkdir()
    points = np.random.default_rng(0).normal(size=(50, 2))
    grid = np.zeros((16, 16, 3), dtype=np.uint8)
    return [figures.sensitivity(SEARCH, DISTS, "w1", COLORS, folder / "sensitivity.png"),
            figures.history(SEARCH, VARIANTS, "w1", "minimize", COLORS, folder / "history.png"),
            figures.dynamics(CURVES, ["d_loss", "gp"], VARIANTS, COLORS, folder / "dynamics.png"),
            figures.eval_curve(STEPS, "w1", VARIANTS, COLORS, folder / "eval.png"),
            figures.samples({"vanilla": points, "wgan_gp": None}, points[:8], {}, COLORS, folder / "points.png"),
            figures.samples({"vanilla": grid}, None, {"vanilla": "t"}, COLORS, folder / "grid.png")]


def test_every_figure_is_a_png_with_the_same_bytes_each_time(tmp_path: Path) -> None:
    first, second = draw_all(tmp_path / "a"), draw_all(tmp_path / "b")
    for a, b in zip(first, second):
        assert a.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert a.read_bytes() == b.read_bytes(), a.name
        assert b"Matplotlib" not in a.read_bytes()  # no version stamp in the metadata


@pytest.mark.parametrize(("dist", "scale", "low"), [(FloatDistribution(0.1, 100.0, log=True), "log", 0.1),
                                                    (FloatDistribution(0.0, 0.9), "linear", 0.0)])
def test_the_x_axis_spans_the_search_range(dist: FloatDistribution, scale: str, low: float) -> None:
    _, axes = figures.panels(1, 1)
    figures.search_range(axes[0], dist)
    assert axes[0].get_xscale() == scale
    assert axes[0].get_xlim()[0] < low + 1e-9 and axes[0].get_xlim()[1] > dist.high


def test_panels_switch_off_the_unused_axes() -> None:
    _, axes = figures.panels(5, 3)
    assert len(axes) == 6 and not axes[5].axison and axes[4].axison
