"""The cell matrix of a factorial design: each cell's mean, interval and n as a table (rows the first
factor's levels, columns the second's, one matrix per combination of the further factors) and as a
heatmap on which better is always brighter. docs/report-designs.md, "Cell matrix".
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from harness.report import design as d, figures, tables
from harness.report.render import Block, Heading, Image, Table, Text
from harness.report.stats import CONFIDENCE

FIGURE = "design_matrix.png"
CELL_INCHES = (1.25, 0.75)  # per matrix cell: room for a mean and its n


def cell_text(row: pd.Series) -> str:
    """`mean [low, high] (n = 3)`, the mean alone from one seed, or – and why there is no value."""
    if row.n == 0:
        return f"{tables.DASH} ({row.missing})"
    ci = "" if not math.isfinite(row.ci_low) else f" [{tables.num(row.ci_low)}, {tables.num(row.ci_high)}]"
    return f"{tables.num(row['mean'])}{ci} (n = {row.n})"


def matrix_display(cells: pd.DataFrame, design: d.Design) -> pd.DataFrame:
    first, second = design.factors[:2]
    shown = cells.assign(text=[cell_text(row) for _, row in cells.iterrows()])
    table = d.grid(shown, design, "text")
    table.columns = [f"{second} = {level}" for level in table.columns]
    return table.reset_index().rename(columns={first: f"{first} \\ {second}"})


def fixed_text(fixed: d.Pairs) -> str:
    return ", ".join(f"{factor} = {level}" for factor, level in fixed)


def matrix_section(cells: pd.DataFrame, design: d.Design, seeds: d.SeedFrame, out_dir: Path) -> list[Block]:
    """The Cell matrix section: the matrices, then their heatmap (written to out_dir / FIGURE)."""
    text = (f"{seeds.objective} per cell ({tables.better_text(seeds.direction)}): the mean over the cell's "
            f"confirmation seeds with its **{CONFIDENCE:.0%} t interval** (Student's t, n − 1 degrees of freedom, "
            f"clipped to the metric's range; none from one seed) and n. Rows are the levels of {design.factors[0]}, "
            f"columns those of {design.factors[1]}" + ("; one matrix per combination of the further factors' levels"
                                                        if len(design.factors) > 2 else "") +
            f". {tables.DASH} marks a cell without a value, with the reason.")
    blocks: list[Block] = [Heading("Cell matrix", 3), Text(text)]
    for i, fixed in enumerate(design.further()):
        if fixed:
            blocks.append(Text(f"At {fixed_text(fixed)}:"))
        blocks.append(Table(matrix_display(d.select(cells, fixed), design), "design_cells.csv" if i == 0 else None,
                            cells if i == 0 else None))
    heatmap(cells, design, seeds.objective, seeds.direction, out_dir / FIGURE)
    colour = "low" if seeds.direction == "minimize" else "high"
    blocks += [Text(f"The same means as a heatmap: **brighter (yellow) is better** in every panel, so the colour "
                    f"scale runs from {colour} values bright (viridis, reversed for a minimized objective); one scale "
                    "for all panels; each cell shows its mean and n, grey where it has no value."),
               Image(FIGURE, f"{seeds.objective} per cell, brighter is better")]
    return blocks


def heatmap(cells: pd.DataFrame, design: d.Design, objective: str, direction: str, path: Path) -> Path:
    return figures.save(heatmap_figure(cells, design, objective, direction), path)


def colour_map(direction: str) -> str:
    """viridis runs dark to bright (yellow) from low to high values: reversed where low is better."""
    return "viridis_r" if direction == "minimize" else "viridis"


def heatmap_figure(cells: pd.DataFrame, design: d.Design, objective: str, direction: str) -> Figure:
    """One annotated heatmap per matrix, on one colour scale on which better is always brighter."""
    combos = design.further()
    rows, cols = (len(design.levels[f]) for f in design.factors[:2])
    inches = (CELL_INCHES[0] * cols + 2.2, CELL_INCHES[1] * rows + 1.4)
    fig, axes = figures.panels(len(combos), min(len(combos), 3), inches)
    means = cells["mean"].to_numpy(float)
    present = means[np.isfinite(means)]
    for ax, fixed in zip(axes, combos):
        sub = d.select(cells, fixed)
        ax.set_title(fixed_text(fixed) or objective, fontsize=9)
        if not present.size:
            figures.note(ax, "no cell has a finished confirmation run")
            continue
        grid = d.grid(sub, design, "mean").astype(float)
        counts = d.grid(sub, design, "n")
        labels = np.array([[tables.DASH if not math.isfinite(m) else f"{tables.num(m, 3)}\nn = {int(n)}"
                            for m, n in zip(mr, nr)] for mr, nr in zip(grid.to_numpy(), counts.to_numpy())])
        sns.heatmap(grid, annot=labels, fmt="", cmap=colour_map(direction),
                    vmin=float(present.min()), vmax=float(present.max()), linewidths=0.5, linecolor="white", ax=ax,
                    cbar_kws={"label": f"{objective} (mean)"}, annot_kws={"fontsize": 8})
        ax.set_facecolor("0.85")  # a cell without a value
        ax.set_xlabel(design.factors[1])
        ax.set_ylabel(design.factors[0])
        ax.tick_params(axis="y", rotation=0)  # level names read across, as in the matrix
    return fig
