"""The report's figures: seaborn/matplotlib on the Agg canvas, fixed sizes, no timestamps.

Figures are `matplotlib.figure.Figure` objects (never pyplot), so drawing them changes no global
state and needs no display. Colours follow the config's variant order in every figure. The same
data give the same pictures: no random jitter (swarms place points deterministically, a strip plot's
jitter has a fixed seed), no
bootstrap bands (bands are ± one standard deviation), no date or version in the PNG metadata.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless even where a display exists; the report never shows a window
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from optuna.distributions import BaseDistribution, CategoricalDistribution

DPI = 100
PANEL_INCHES = (3.6, 2.8)
POINTS_LIMIT = 2.5  # the toys' mode centres lie within [-2, 2]
REAL_COLOR = (0.3, 0.3, 0.3)  # the real data's points, apart from every variant's colour
STRIP_JITTER = 0.3  # half the sideways spread of a strip plot's points, in category widths


def palette(variants: list[str]) -> dict[str, tuple[float, float, float]]:
    return dict(zip(variants, sns.color_palette("tab10", max(len(variants), 1))))


def panels(count: int, columns: int, inches: tuple[float, float] = PANEL_INCHES) -> tuple[Figure, list[Axes]]:
    rows = max(1, math.ceil(count / columns))
    columns = max(1, min(columns, count))
    fig = Figure(figsize=(inches[0] * columns, inches[1] * rows), dpi=DPI)
    FigureCanvasAgg(fig)  # a real canvas: seaborn places a swarm (and finds what it cannot place) when drawn
    axes = fig.subplots(rows, columns, squeeze=False).ravel().tolist()
    for extra in axes[count:]:
        extra.set_axis_off()
    return fig, axes


def save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, metadata={"Software": None})  # no version stamp: bytes depend on data only
    return path


def share_y(axes: list[Axes]) -> None:
    """One y range for panels that compare one quantity, so equal heights mean equal values (a panel
    with an axis of its own makes a change of 0.04 look as steep as another's change of 40)."""
    if not axes:
        return
    lows, highs = zip(*(ax.get_ylim() for ax in axes))
    for ax in axes:
        ax.set_ylim(min(lows), max(highs))


def note(ax: Axes, text: str) -> None:
    """An empty panel that says why it is empty."""
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, color="0.4", transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def knob_panel(ax: Axes, rows: pd.DataFrame, knob: str, dist: BaseDistribution, color: tuple) -> bool:
    """Objective against one knob: a swarm per choice, or a scatter (log axis for a log range).

    Returns True where a swarm could not place every point and a strip plot stands in for it."""
    column = "param." + knob
    strip = False
    if isinstance(dist, CategoricalDistribution):
        choices = [str(c) for c in dist.choices]
        labels = [next((str(c) for c in dist.choices if c == value), str(value)) for value in rows[column]]
        strip = not swarm(ax, pd.Categorical(labels, categories=choices), rows["value"].to_numpy(), choices, color)
    else:
        sns.scatterplot(x=rows[column].astype(float).to_numpy(), y=rows["value"].to_numpy(), color=color, ax=ax)
        search_range(ax, dist)
    ax.set_xlabel(knob + (" (log)" if getattr(dist, "log", False) else ""))
    return strip


def swarm(ax: Axes, x: pd.Categorical, y: np.ndarray, order: list[str], color: tuple) -> bool:
    """A swarm per choice; False (and a strip plot instead) when seaborn cannot place every point.

    A crowded swarm piles the points it cannot place on its edges and only warns: with a hundred
    trials most of them vanish from sight. Its own warning (at any share of points) is the test."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        sns.swarmplot(x=x, y=y, order=order, color=color, size=5, ax=ax, warn_thresh=0.0)
    if not any("cannot be placed" in str(w.message) for w in caught):
        return True
    ax.cla()
    strip(ax, x, y, order, color)
    return False


def strip(ax: Axes, x: pd.Categorical, y: np.ndarray, order: list[str], color: tuple) -> None:
    """Every point, spread sideways within its choice by a fixed-seed jitter (the same picture each time)."""
    jitter = np.random.default_rng(0).uniform(-STRIP_JITTER, STRIP_JITTER, len(y))
    ax.scatter(np.asarray(x.codes, dtype=float) + jitter, y, s=9, alpha=0.5, color=color, linewidths=0)
    ax.set_xticks(range(len(order)), order)
    ax.set_xlim(-0.5, len(order) - 0.5)


def search_range(ax: Axes, dist: BaseDistribution) -> None:
    """The x axis spans the whole search range, so one sees where in it the trials landed."""
    low, high = float(dist.low), float(dist.high)
    if getattr(dist, "log", False):
        ax.set_xscale("log")
        margin = (high / low) ** 0.04
        ax.set_xlim(low / margin, high * margin)
    else:
        margin = (high - low) * 0.04
        ax.set_xlim(low - margin, high + margin)


def sensitivity(search: pd.DataFrame, distributions: dict[str, dict[str, BaseDistribution]], objective: str,
                colors: dict[str, tuple], path: Path) -> tuple[Path, list[str]]:
    """Grid of variants (rows) x knobs (columns) over the complete search trials; also returns the
    panels ("variant: knob") drawn as strip plots because a swarm could not place every point."""
    knobs = sorted({k for dists in distributions.values() for k in dists})
    variants = list(distributions)
    fig, axes = panels(len(variants) * len(knobs), len(knobs))
    strips, drawn = [], []
    for i, variant in enumerate(variants):
        for j, knob in enumerate(knobs):
            ax = axes[i * len(knobs) + j]
            rows = search[(search.variant == variant) & (search.outcome == "complete")]
            if knob not in distributions[variant]:
                note(ax, f"{knob} does not apply")
            elif rows.empty:
                note(ax, "no complete search trial")
            else:
                drawn.append(ax)
                if knob_panel(ax, rows, knob, distributions[variant][knob], colors[variant]):
                    strips.append(f"{variant}: {knob}")
            ax.set_title(f"{variant}: {knob}" + (f" (n = {len(rows)} trials)" if ax in drawn else ""), fontsize=9)
            ax.set_ylabel(objective)
    share_y(drawn)  # a knob that moves the objective by 0.1 must not look as steep as one that moves it by 40
    return save(fig, path), strips


def history(search: pd.DataFrame, variants: list[str], objective: str, direction: str,
            colors: dict[str, tuple], path: Path) -> Path:
    """Per variant: the objective of each search trial by number, the best so far, failures as a rug."""
    fig, axes = panels(len(variants), 4)
    for ax, variant in zip(axes, variants):
        rows = search[search.variant == variant].sort_values("number")
        done = rows[rows.outcome == "complete"]
        others = rows[~rows.outcome.isin(("complete", "running", "waiting"))]
        ax.set_title(variant, fontsize=9)
        if done.empty:
            note(ax, "no complete search trial")
            continue
        best = done.value.cummin() if direction == "minimize" else done.value.cummax()
        sns.scatterplot(x=done.number.to_numpy(int), y=done.value.to_numpy(), color=colors[variant], ax=ax,
                        label="trial")
        ax.step(done.number.to_numpy(int), best.to_numpy(), where="post", color="0.2", label="best so far")
        if len(others):
            sns.rugplot(x=others.number.to_numpy(int), color="tab:red", height=0.06, ax=ax,
                        label="pruned / diverged / failed")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("trial number")
        ax.set_ylabel(objective)
        ax.legend(fontsize=7)
    return save(fig, path)


def dynamics(curves: pd.DataFrame, quantities: list[str], variants: list[str], colors: dict[str, tuple],
             path: Path) -> Path:
    """One panel per training quantity; one line per variant (its best run)."""
    fig, axes = panels(len(quantities), 3)
    for ax, key in zip(axes, quantities):
        rows = curves[curves.key == key]
        ax.set_title(key, fontsize=9)
        if rows.empty:
            note(ax, "not logged by any variant")
            continue
        present = [v for v in variants if v in set(rows.variant)]
        sns.lineplot(data=rows, x="step", y="value", hue="variant", hue_order=present, palette=colors,
                     errorbar=None, ax=ax)
        ax.set_ylabel(key)
        ax.legend(fontsize=7)
    return save(fig, path)


def eval_curve(steps: pd.DataFrame, objective: str, variants: list[str], colors: dict[str, tuple],
               path: Path) -> Path:
    """The objective at each evaluation of the confirmation runs: mean ± one std over seeds."""
    fig, axes = panels(1, 1, (6.4, 3.8))
    present = [v for v in variants if v in set(steps.variant)]
    sns.lineplot(data=steps, x="step", y="value", hue="variant", hue_order=present, palette=colors,
                 estimator="mean", errorbar="sd", marker="o", ax=axes[0])  # a marker per real evaluation step
    axes[0].set_ylabel(f"{objective} (mean ± sd over seeds)")
    axes[0].set_xlabel("generator step")
    seeds = steps.groupby("variant").number.nunique()
    legend(axes[0], [f"{variant} (n = {seeds[variant]} seeds)" for variant in present])
    return save(fig, path)


def legend(ax: Axes, labels: list[str] | None = None) -> None:
    """A legend one can read at the report's width: 9 pt, each entry naming its n where given."""
    handles, current = ax.get_legend_handles_labels()
    ax.legend(handles, labels or current, fontsize=9, framealpha=0.9)


def samples_panel(ax: Axes, samples: np.ndarray, centers: np.ndarray | None, color: tuple,
                  label: str = "generated") -> None:
    """An image grid (H, W, 3 uint8), or 2-D points over the true modes."""
    if samples.ndim == 3:
        ax.imshow(samples, interpolation="nearest")
        ax.set_axis_off()
        return
    ax.scatter(samples[:, 0], samples[:, 1], s=3, alpha=0.5, color=color, label=label)
    if centers is not None:
        ax.scatter(centers[:, 0], centers[:, 1], s=40, marker="x", color="tab:red", label="true modes")
    ax.set_xlim(-POINTS_LIMIT, POINTS_LIMIT)
    ax.set_ylim(-POINTS_LIMIT, POINTS_LIMIT)
    ax.set_aspect("equal")
    ax.legend(fontsize=7, loc="upper right")


def samples(pictures: dict[str, np.ndarray | None], centers: np.ndarray | None, titles: dict[str, str],
            colors: dict[str, tuple], path: Path, real: np.ndarray | None = None) -> Path:
    """Each variant's final samples side by side (None: the variant has no stored samples), after the
    real data's picture when there is one: what the samples should look like."""
    shown = ({"real data": real} if real is not None else {}) | pictures
    fig, axes = panels(len(shown), 4, (3.6, 3.8))
    for ax, (variant, picture) in zip(axes, shown.items()):
        ax.set_title(titles.get(variant, variant), fontsize=9)
        if picture is None:
            note(ax, "no stored samples")
        else:
            real_panel = real is not None and variant == "real data"
            samples_panel(ax, picture, centers, REAL_COLOR if real_panel else colors[variant],
                          "real" if real_panel else "generated")
    return save(fig, path)
