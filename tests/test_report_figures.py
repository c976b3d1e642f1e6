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
    return [figures.sensitivity(SEARCH, DISTS, "w1", COLORS, folder / "sensitivity.png")[0],
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


def test_a_swarm_that_cannot_place_every_point_becomes_a_strip_plot(tmp_path: Path) -> None:
    """Seaborn piles the points a crowded swarm cannot place on its edges and only warns; the figure
    must show every trial instead, and say where it switched."""
    rng = np.random.default_rng(1)
    crowded = pd.DataFrame({"variant": "vanilla", "number": range(300), "outcome": "complete",
                            "value": rng.normal(1.0, 0.01, 300), "param.n_critic": rng.choice([1, 2, 5], 300)})
    few = pd.concat([crowded.iloc[:6], SEARCH[SEARCH.variant == "wgan_gp"]], ignore_index=True)
    _, strips = figures.sensitivity(crowded, {"vanilla": DISTS["vanilla"]}, "w1", COLORS, tmp_path / "a.png")
    assert strips == ["vanilla: n_critic"]
    _, strips = figures.sensitivity(few, DISTS, "w1", COLORS, tmp_path / "b.png")
    assert strips == []
    _, axes = figures.panels(1, 1)
    codes = pd.Categorical(["1", "5", "5"], categories=["1", "2", "5"])
    figures.strip(axes[0], codes, np.array([1.0, 2.0, 3.0]), ["1", "2", "5"], COLORS["vanilla"])
    x = axes[0].collections[0].get_offsets()[:, 0]
    assert len(x) == 3 and abs(x[0]) <= figures.STRIP_JITTER and all(abs(x[1:] - 2) <= figures.STRIP_JITTER)


def test_panels_that_compare_one_quantity_share_one_y_range() -> None:
    _, axes = figures.panels(3, 3)
    axes[0].plot([1, 2], [0.90, 0.94])
    axes[1].plot([1, 2], [10.0, 50.0])
    figures.note(axes[2], "no complete search trial")
    figures.share_y(axes[:2])
    assert axes[0].get_ylim() == axes[1].get_ylim() and axes[0].get_ylim()[0] < 0.9 and axes[0].get_ylim()[1] > 50


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list:
    """The Figure objects the functions save, to look at their axes."""
    from harness.report import validity_figures

    saved: list = []

    def keep(fig, path):
        saved.append(fig)
        return path

    monkeypatch.setattr(figures, "save", keep)
    monkeypatch.setattr(validity_figures, "save", keep)
    return saved


def test_sensitivity_panels_share_one_y_range_and_state_n(drawn: list, tmp_path: Path) -> None:
    """Issue 27: each panel scaled on its own made a knob that moved the objective by 0.14 look as steep as
    one whose seeds alone spread by 7."""
    figures.sensitivity(SEARCH, DISTS, "w1", COLORS, tmp_path / "s.png")
    axes = [ax for ax in drawn[0].axes if ax.collections]  # the panels with points
    assert len(axes) == 3 and len({ax.get_ylim() for ax in axes}) == 1
    assert [ax.get_title() for ax in axes] == ["vanilla: n_critic (n = 2 trials)", "wgan_gp: lambda_gp (n = 2 trials)",
                                               "wgan_gp: n_critic (n = 2 trials)"]


def test_the_eval_curve_legend_is_readable_and_names_the_seeds(drawn: list, tmp_path: Path) -> None:
    figures.eval_curve(STEPS, "w1", VARIANTS, COLORS, tmp_path / "e.png")
    legend = drawn[0].axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["vanilla (n = 2 seeds)"]
    assert all(t.get_fontsize() >= 9 for t in legend.get_texts())


def test_the_time_curve_marks_only_real_evaluations(drawn: list, tmp_path: Path) -> None:
    """Issue 27: a marker at every point of the interpolated grid looked like 60 evaluations."""
    from harness.report import validity_figures

    grid = pd.DataFrame({"seconds": np.linspace(1, 3, 60), "mean": np.linspace(2, 1, 60), "sd": 0.1, "runs": 2})
    evaluations = {"vanilla": pd.DataFrame({"train_seconds": [1.0, 2.0, 3.0, 1.1, 2.1, 3.0],
                                            "value": [2.0, 1.5, 1.0, 2.1, 1.4, 1.1]})}
    validity_figures.time_curves({"vanilla": grid}, "w1", 2.5, COLORS, tmp_path / "t.png", evaluations)
    ax = drawn[0].axes[0]
    mean_line = ax.get_lines()[0]
    assert mean_line.get_marker() in ("None", "", None) and len(mean_line.get_xdata()) == 60
    assert [len(c.get_offsets()) for c in ax.collections if len(c.get_offsets()) == 6] == [6]  # the real points
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["vanilla (n = 2 seeds)", "T = 2.5 s"]
