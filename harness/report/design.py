"""A factorial design and its frames: the factors, levels and cells as stored, the seed-level frame, the
cell table and its matrices, and what each level sets.

Pure functions over the **seed-level frame**: one row per completed confirmation run, with its cell,
one column per factor (the cell's level), its seed and its objective value. Intervals are the
report's own (`harness.report.stats.summarize`: t-based, clipped to the metric's range, none from one
value). The analysis of these frames: `design_anova` (the ANOVA) and `design_effects` (main effects,
robustness, the calls). The rules, with their formulas: docs/report-designs.md.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.config.design import cell_name
from harness.report import tables
from harness.report.load import StoredSweep
from harness.report.stats import UNBOUNDED, summarize
from harness.report.tables import STATS

EXCLUDED = "excluded by the design"
NOT_RUN = "no finished confirmation run"
SHOWN_CELLS = 6  # cells named in a sentence before `and N more`

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Design:
    """The factors in order, each one's levels in order, and the cells the design holds."""

    factors: tuple[str, ...]
    levels: dict[str, tuple[str, ...]]
    cells: dict[tuple[str, ...], str]  # a cell's levels (factor order) -> its name, in config order

    def product(self) -> list[tuple[str, ...]]:
        """Every combination of levels (the full factorial), first factor slowest."""
        return list(itertools.product(*(self.levels[f] for f in self.factors)))

    def further(self) -> list[Pairs]:
        """One entry per matrix: the levels of the factors after the second ([()] with two factors)."""
        rest = self.factors[2:]
        return [tuple(zip(rest, combo)) for combo in itertools.product(*(self.levels[f] for f in rest))]


@dataclass(frozen=True)
class SeedFrame:
    frame: pd.DataFrame  # cell, <factor>..., seed, value
    objective: str
    direction: str  # minimize | maximize


def design_of(cells: Sequence[tuple[str, Pairs]], order: dict[str, Sequence[str]] | None = None) -> Design:
    """The design of cells given as (name, levels): the factors of the cell with the most; a cell whose
    factors differ (a study written before designs) is left out. Levels follow `order` where given
    (the config's), else their first appearance; only levels some cell holds are kept."""
    if not cells:
        return Design((), {}, {})
    factors = tuple(f for f, _ in max((levels for _, levels in cells), key=len))
    kept = {tuple(lv for _, lv in levels): name for name, levels in cells
            if tuple(f for f, _ in levels) == factors}
    levels = {}
    for i, factor in enumerate(factors):
        seen = list(dict.fromkeys(combo[i] for combo in kept))
        given = [lv for lv in (order or {}).get(factor, ()) if lv in seen]
        levels[factor] = tuple(given + [lv for lv in seen if lv not in given])
    return Design(factors, levels, kept)


def seed_frame(sweep: StoredSweep, design: Design) -> SeedFrame:
    """One row per completed confirmation run of the design's cells (tables.confirm_trials: the runs of
    the cell's current confirmed values, or all of them where no search chose the values)."""
    names = {name: combo for combo, name in design.cells.items()}
    rows = []
    for info in sweep.variants:
        if info.variant in names:
            done = tables.confirm_trials(sweep, info)
            rows += [(info.variant, *names[info.variant], seed, float(value))
                     for seed, value in zip(done.seed, done.value) if pd.notna(value) and math.isfinite(value)]
    frame = pd.DataFrame(rows, columns=["cell", *design.factors, "seed", "value"])
    frame = frame.astype({"seed": "Int64", "value": "float64"})
    objective, direction = tables.objective_of(sweep)
    return SeedFrame(frame, objective, direction)


def with_levels(values: pd.DataFrame, design: Design, cell_column: str = "variant") -> pd.DataFrame:
    """Rows of `values` (a cell-name column and `value`) as a seed-level frame: each cell's levels added,
    rows of cells outside the design and non-finite values left out (e.g. validity's runs at equal time)."""
    names = {name: combo for combo, name in design.cells.items()}
    rows = values[values[cell_column].isin(names) & np.isfinite(values.value.to_numpy(float))]
    frame = pd.DataFrame({"cell": rows[cell_column].to_numpy()})
    for i, factor in enumerate(design.factors):
        frame[factor] = [names[c][i] for c in frame.cell]
    frame["value"] = rows.value.to_numpy(float)
    return frame


def cell_table(seeds: pd.DataFrame, design: Design, bounds: tuple[float, float] = UNBOUNDED,
               why_missing: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per cell of the full factorial (product order): its levels, name, n, mean, std and
    CI over seeds, and, where it has no value, why (`excluded by the design`, or `why_missing[cell]`)."""
    rows = []
    for combo in design.product():
        name = design.cells.get(combo)
        values = seeds[seeds.cell == name].value.tolist() if name else []
        s = summarize(values, bounds)
        missing = "" if s.n else EXCLUDED if name is None else (why_missing or {}).get(name) or NOT_RUN
        rows.append({**dict(zip(design.factors, combo)), "cell": name or "", **{k: getattr(s, k) for k in STATS},
                     "missing": missing})
    return pd.DataFrame(rows, columns=[*design.factors, "cell", *STATS, "missing"])


def cells_text(combos: Sequence[tuple[str, ...]], counts: pd.Series | None = None) -> str:
    """The first SHOWN_CELLS combinations by cell name (with n from `counts`): `a.x (n = 1), b.y (n = 1)`."""
    shown = [cell_name(c) + ("" if counts is None else f" (n = {counts[c]})") for c in combos[:SHOWN_CELLS]]
    more = len(combos) - SHOWN_CELLS
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def select(frame: pd.DataFrame, fixed: Pairs) -> pd.DataFrame:
    """The rows of `frame` at the given levels of some factors."""
    keep = np.ones(len(frame), dtype=bool)
    for factor, level in fixed:
        keep &= (frame[factor] == level).to_numpy()
    return frame[keep]


def grid(cells: pd.DataFrame, design: Design, column: str) -> pd.DataFrame:
    """One matrix of `column`: rows the first factor's levels, columns the second's (one combination of
    the further factors' levels: select first)."""
    first, second = design.factors[:2]
    table = cells.pivot_table(index=first, columns=second, values=column, aggfunc="first", dropna=False)
    return table.reindex(index=list(design.levels[first]), columns=list(design.levels[second]))


# What each level sets ---------------------------------------------------------------------------------


def same_everywhere(recipes: list[dict[str, Any]]) -> dict[str, Any]:
    """The keys that every recipe holds with one value."""
    if not recipes:
        return {}
    return {k: v for k, v in recipes[0].items() if all(k in r and as_text(r[k]) == as_text(v) for r in recipes)}


def as_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str) if isinstance(value, (list, dict)) else str(value)


def level_settings(recipes: dict[str, dict[str, Any]], design: Design) -> dict[tuple[str, str], dict[str, Any]]:
    """What each level sets, read off the cells' stored recipes (for stores without the levels' own
    record): the keys with one value across every cell of a level that differ between the factor's levels."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for i, factor in enumerate(design.factors):
        held = {level: same_everywhere([recipes[name] for combo, name in design.cells.items()
                                        if combo[i] == level and name in recipes]) for level in design.levels[factor]}
        held = {level: values for level, values in held.items() if values}
        shared = set.intersection(*(set(v) for v in held.values())) if held else set()
        varying = sorted(k for k in shared if len({as_text(v[k]) for v in held.values()}) > 1)
        out.update({(factor, level): {k: held[level][k] for k in varying} if level in held else {}
                    for level in design.levels[factor]})
    return out


def differing_settings(recipes: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Cells x the recipe keys whose values are not the same in every cell (as text; – where a cell's
    recipe lacks the key), cells in the order given."""
    keys = sorted({k for r in recipes.values() for k in r})
    varying = [k for k in keys if len({as_text(r[k]) if k in r else None for r in recipes.values()}) > 1]
    rows = {cell: [as_text(r[k]) if k in r else tables.DASH for k in varying] for cell, r in recipes.items()}
    return pd.DataFrame.from_dict(rows, orient="index", columns=varying).rename_axis("cell")
