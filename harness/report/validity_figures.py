"""Figures of the validity checks: objective against training time, and the search-budget curves."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from matplotlib.ticker import MaxNLocator

from harness.report.figures import legend, note, panels, save, share_y


def time_curves(curves: dict[str, pd.DataFrame], objective: str, common_seconds: float,
                colors: dict[str, tuple], path: Path, evaluations: dict[str, pd.DataFrame] | None = None) -> Path:
    """Per variant: mean ± sd over seeds of the objective against pure training seconds; T marked.

    The mean is interpolated on a grid of times (equal_time.mean_curve), so the line has no markers:
    a marker is drawn only where a run really evaluated (`evaluations`: its train_seconds and value)."""
    fig, axes = panels(1, 1, (6.4, 3.8))
    ax = axes[0]
    for variant, curve in curves.items():
        if curve.empty:
            continue
        runs = int(curve.runs.iloc[0]) if "runs" in curve else 0
        ax.plot(curve.seconds, curve["mean"], color=colors[variant], label=f"{variant} (n = {runs} seeds)")
        if curve.sd.notna().any():
            ax.fill_between(curve.seconds, curve["mean"] - curve.sd, curve["mean"] + curve.sd,
                            color=colors[variant], alpha=0.2, linewidth=0)
        if evaluations is not None and variant in evaluations:
            points = evaluations[variant]
            ax.scatter(points.train_seconds, points.value, s=10, color=colors[variant], alpha=0.6, linewidths=0)
    if math.isfinite(common_seconds):
        ax.axvline(common_seconds, color="0.3", linestyle="--", linewidth=1, label=f"T = {common_seconds:.3g} s")
    ax.set_xlabel("pure training seconds (evaluation and logging excluded)")
    ax.set_ylabel(f"{objective} (mean ± sd over seeds)")
    legend(ax)
    return save(fig, path)


def budget_curves(curves: pd.DataFrame, variants: list[str], objective: str, colors: dict[str, tuple],
                  path: Path) -> Path:
    """Per variant: expected best objective after k search trials, ± one sd of the best.

    One y range for all panels (figures.share_y): the variants' budgets compare at a glance."""
    fig, axes = panels(len(variants), 4)
    drawn = []
    for ax, variant in zip(axes, variants):
        rows = curves[curves.variant == variant]
        ax.set_title(variant, fontsize=9)
        if rows.empty:
            note(ax, "no complete search trial")
            continue
        drawn.append(ax)
        ax.plot(rows.k, rows.expected_best, color=colors[variant], marker="o", markersize=3)
        ax.fill_between(rows.k, rows.expected_best - rows.sd, rows.expected_best + rows.sd, color=colors[variant],
                        alpha=0.2, linewidth=0)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("search trials k")
        ax.set_ylabel(f"expected best {objective}")
    share_y(drawn)
    return save(fig, path)
