"""The report's sections for a factorial design (two factors or more), in reading order, and the first
of them: the design, what each level sets and which values differ between cells.

The numbers come from `harness.report.design` (frames), `design_anova` and `design_effects`; the other
sections from `design_matrix_view` (the cell matrix and its heatmap), `design_analysis_view` (main
effects, the two-way analysis, robustness) and `design_verdict_view` (a verdict per factor, scoped by the
report's validity checks). A one-factor design (a `variants:` list) gets no section: the report stays as
it always was. docs/report-designs.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness.config.design import VARIANT_FACTOR
from harness.config.recipe import read_recipe
from harness.report import design as d, design_anova, design_effects, tables
from harness.report.design_analysis_view import anova_section, main_effects_section, robustness_section
from harness.report.design_matrix_view import matrix_section
from harness.report.design_verdict_view import verdict_section
from harness.report.render import Block, Heading, Table, Text
from harness.report.sections import ReportInputs, shape_text
from harness.report.validity import Validity
from harness.stores import keys

DOCS = "docs/report-designs.md"


def stored_design(inputs: ReportInputs) -> d.Design:
    """The design as stored: each cell's levels from its search study, or the config's where the cell
    has none yet; levels in the config's order."""
    specs = {spec.name: spec.levels for spec in inputs.exp.variants}
    cells = [(info.variant, info.levels if info.search is not None or not specs.get(info.variant)
              else specs[info.variant]) for info in inputs.sweep.variants]
    order = {factor.name: [level.name for level in factor.levels] for factor in inputs.exp.factors}
    return d.design_of(cells, order)


def design_sections(inputs: ReportInputs, checks: Validity, out_dir: Path) -> list[Block]:
    """Every design section, in reading order. A design of one factor gets its Design section only (the
    comparison of its levels is the report's own), and a `variants:` list, the factor `variant`, none: its
    report stays as it was before designs. Writes the matrix's figure into out_dir."""
    design = stored_design(inputs)
    if not design.factors or design.factors == (VARIANT_FACTOR,):
        return []
    blocks = design_section(inputs, design, recipes_of(inputs, design))
    if len(design.factors) < 2:
        return blocks
    seeds = d.seed_frame(inputs.sweep, design)
    bounds = tables.metric_ranges(inputs.sweep)[seeds.objective]
    why = {info.variant: tables.status(inputs.sweep, info) for info in inputs.sweep.variants}
    cells = d.cell_table(seeds.frame, design, bounds, why)
    effects = design_effects.main_effects(seeds.frame, design, seeds.direction, bounds)
    anova = design_anova.analyse(seeds.frame, design)
    return [*blocks, *matrix_section(cells, design, seeds, out_dir),
            *main_effects_section(effects, cells, seeds), *anova_section(anova),
            *robustness_section(cells, design, seeds),
            *verdict_section(inputs, checks, design, seeds, effects, anova)]


def recipes_of(inputs: ReportInputs, design: d.Design) -> dict[str, dict[str, Any]]:
    """Each started cell's stored recipe (the values it ran with, before any search), config order."""
    found = {info.variant: read_recipe(keys.text_attr(info.search, keys.RECIPE)) for info in inputs.sweep.variants
             if info.variant in design.cells.values()}
    return {cell: recipe for cell, recipe in found.items() if recipe}


def overrides_text(entry: dict[str, Any]) -> str:
    """What one level sets as stored: `preset sngan; train.lr=0.0002`."""
    parts = [f"preset `{entry['preset']}`"] if entry.get("preset") else []
    for section, values in entry.items():
        if isinstance(values, dict):
            parts += [f"{section}.{k}={d.as_text(v)}" for k, v in sorted(values.items())]
    return "; ".join(parts) if parts else "nothing (the experiment's own values)"


def level_rows(inputs: ReportInputs, design: d.Design, recipes: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per level: what it sets (the stored level overrides, else read off the cells' `recipes`)."""
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    for info in inputs.sweep.variants:
        for factor, entry in info.level_overrides.items():
            if isinstance(entry, dict) and entry.get("level") is not None:
                stored.setdefault((factor, str(entry["level"])), entry)
    derived = d.level_settings(recipes, design)
    rows = []
    for factor in design.factors:
        for level in design.levels[factor]:
            if (factor, level) in stored:
                sets = overrides_text(stored[(factor, level)])
            else:
                found = derived.get((factor, level)) or {}
                sets = ("; ".join(f"{k}={d.as_text(v)}" for k, v in found.items()) + " (read off the recipes)"
                        if found else tables.DASH)
            cells = sum(combo[design.factors.index(factor)] == level for combo in design.cells)
            rows.append({"Factor": factor, "Level": level, "Sets": sets, "Cells": str(cells)})
    return pd.DataFrame(rows)


def design_section(inputs: ReportInputs, design: d.Design, recipes: dict[str, dict[str, Any]]) -> list[Block]:
    """The Design section: the factors and cells, what each level sets, and the values that differ between
    the cells' stored `recipes`."""
    shape = shape_text((f, len(design.levels[f])) for f in design.factors)
    product = design.product()
    excluded = [combo for combo in product if combo not in design.cells]
    text = (f"A factorial design: {shape} = {len(product)} combinations, {len(design.cells)} of them cells of the "
            f"design" + (f" ({len(excluded)} excluded: {d.cells_text(excluded)})" if excluded else "") + ". Each "
            "cell is a variant of its own: a search study and a confirmation study. What each level sets, as "
            f"the sweep stored it; rules and formulas of the sections below: `{DOCS}`.")
    blocks: list[Block] = [Heading(f"Design: {' × '.join(design.factors)}"), Text(text),
                           Table(level_rows(inputs, design, recipes), "design_levels.csv")]
    differing = d.differing_settings(recipes)
    if differing.columns.size:
        searched = ("the values before a search; the searched knobs' confirmed values are in Results, Best "
                    "hyperparameters" if inputs.sweep.searched else "no search ran: every seed trained these values")
        blocks += [Text(f"The effective values that differ between cells, from the recipes the cells stored "
                        f"({searched}):"),
                   Table(differing.reset_index(), "design_settings.csv")]
    return blocks
