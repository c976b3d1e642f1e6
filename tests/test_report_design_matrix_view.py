"""The cell matrix and its heatmap: each cell's text, better is brighter in either direction, rows and
columns where the matrix has them, and the same bytes from the same cells."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.colors import to_rgb

from harness.report import design_matrix_view as view
from tests.test_report_design import hand_cells


def luminance(rgb: tuple[float, ...]) -> float:
    r, g, b = to_rgb(rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("direction", ["minimize", "maximize"])


def test_better_is_brighter_in_either_direction(direction: str) -> None:
    design, cells = hand_cells()
    ax = view.heatmap_figure(cells, design, "w1", direction).axes[0]
    mesh = ax.collections[0]
    colour = {v: luminance(mesh.cmap(mesh.norm(v))) for v in (1.0, 5.0)}
    best, worst = (1.0, 5.0) if direction == "minimize" else (5.0, 1.0)
    assert colour[best] > colour[worst] + 0.5


def test_the_heatmap_puts_rows_and_columns_where_the_matrix_has_them() -> None:
    design, cells = hand_cells()
    ax = view.heatmap_figure(cells, design, "w1", "minimize").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "z"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("setting", "recipe")
    labels = {t.get_text(): t.get_position() for t in ax.texts}
    assert labels["2\nn = 1"] == (1.5, 0.5) and labels["4\nn = 1"] == (0.5, 1.5)  # a.y and b.x
    assert len(labels) == 5  # b.z: grey, no number


def test_the_same_cells_give_the_same_bytes(tmp_path: Path) -> None:
    design, cells = hand_cells()
    paths = [view.heatmap(cells, design, "w1", "minimize", tmp_path / f"{i}.png") for i in range(2)]
    assert paths[0].read_bytes() == paths[1].read_bytes()
