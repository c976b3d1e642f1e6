"""The design: factors and their levels, the cells they cross into, and `--only`'s choice among them.

`factors:` is an ordered mapping factor -> level -> override (the shape of a variant entry: `preset`,
`train`, `model`); the cells are the cartesian product in factor order, less `design: {exclude: [...]}`,
or exactly `design: {cells: [...]}`. `variants:` is the one-factor design whose factor is `variant`, and
its cells keep the variants' names, so the stores of earlier sweeps (`<name>/<variant>`) resume.

A cell layers, lowest first: the top-level sections, its levels' presets, its levels' own values. Two
levels that state one key with different values leave the cell without a value: refused, naming both.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from typing import Any

from harness.core.errors import ConfigError
from harness.core.schema import Factor, Level, ModelConfig, TrainConfig, VariantSpec
from harness.core.strict import join, parse_value, printable, rule, to_plain, unknown_key_message
from harness.recipes.presets import PRESETS

VARIANT_FACTOR = "variant"  # the factor of a `variants:` list
OVERRIDABLE_SECTIONS = {"model": ModelConfig, "train": TrainConfig}
# A factor names an MLflow tag (`harness.factor.<name>`) and a term of the report's model formula; a
# level is part of a cell's name, whose levels are joined by "." (so no level may hold one).
FACTOR_PATTERN = r"[A-Za-z][A-Za-z0-9_]*"
LEVEL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]*"
MAX_FACTOR_CHARS, MAX_LEVEL_CHARS = 40, 40
# The report's seed-level and cell tables have these columns beside one per factor (harness.report.design;
# a test there keeps the two lists together).
RESERVED_FACTORS = ("cell", "seed", "value", "n", "mean", "std", "ci_low", "ci_high", "missing")
MAX_CELLS = 1000  # each cell is an Optuna study pair and an MLflow parent run
CELL_JOIN = "."

PartialParser = Callable[[type, Any, str], dict[str, Any]]


def cell_name(levels: tuple[str, ...]) -> str:
    """A cell's name: its one level (a variant keeps its name), or its levels joined: `sngan.D`."""
    return CELL_JOIN.join(levels)


def parse_level(name: str, item: Any, path: str, parse_partial: PartialParser) -> Level:
    """One level: null (sets nothing), a preset's name, or a mapping of `preset` and sections."""
    if item is None:
        return Level(name)
    if isinstance(item, str):
        item = {"preset": item}
    if not isinstance(item, dict):
        raise ConfigError(path, f"{printable(repr(item))} must be a preset name or a mapping of preset, "
                                f"{', '.join(OVERRIDABLE_SECTIONS)}")
    allowed = ["preset", *OVERRIDABLE_SECTIONS]
    for key in item:
        if key not in allowed:
            raise ConfigError(join(path, str(key)), unknown_key_message(str(key), allowed))
    preset = item.get("preset")
    if preset is not None:
        preset = parse_value(str, preset, join(path, "preset"), rule(choices=PRESETS.names))
    overrides = {section: parse_partial(cls, {} if item.get(section) is None else item[section], join(path, section))
                 for section, cls in OVERRIDABLE_SECTIONS.items()}
    return Level(name, preset, {section: values for section, values in overrides.items() if values})


def design_name(value: Any, path: str, pattern: str, max_chars: int, what: str) -> str:
    """A factor's or level's name as written (YAML may read `1:` as an int), checked."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(path, f"{printable(repr(value))} is not a {what} name; allowed: letters, digits, '_'"
                                + (", '-'" if "-" in pattern else ""))
    name = str(value)
    if len(name) > max_chars:
        raise ConfigError(path, f"{name[:20]!r}... has {len(name)} characters; allowed: at most {max_chars}")
    if not re.fullmatch(pattern, name):
        allowed = "a letter, then letters, digits, '_'" if "-" not in pattern else "letters, digits, '_', '-'"
        raise ConfigError(path, f"{printable(repr(name))} is not a {what} name; allowed: {allowed}")
    return name


def parse_factors(raw: Any, parse_partial: PartialParser) -> tuple[Factor, ...]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError("factors", f"{printable(repr(raw))[:200]} must be a mapping of factor: {{level: "
                                     "override}}, e.g. {recipe: {sngan: {preset: sngan}}}")
    factors = []
    for key, levels in raw.items():
        name = design_name(key, join("factors", str(key)), FACTOR_PATTERN, MAX_FACTOR_CHARS, "factor")
        path = join("factors", name)
        if name in RESERVED_FACTORS:
            raise ConfigError(path, f"{name!r} names a column of the report's tables; allowed: any other name "
                                    f"(not {', '.join(RESERVED_FACTORS)})")
        if not isinstance(levels, dict) or not levels:
            raise ConfigError(path, f"{printable(repr(levels))[:200]} must be a non-empty mapping of level: "
                                    "override")
        parsed = tuple(parse_level(design_name(level, join(path, str(level)), LEVEL_PATTERN, MAX_LEVEL_CHARS,
                                               "level"), item, join(path, str(level)), parse_partial)
                       for level, item in levels.items())
        factors.append(Factor(name, parsed))
    check_size(factors)
    return tuple(factors)


def check_size(factors: list[Factor]) -> None:
    count = math.prod(len(f.levels) for f in factors)
    if count > MAX_CELLS:
        sizes = " x ".join(f"{f.name} ({len(f.levels)})" for f in factors)
        raise ConfigError("factors", f"{sizes} make {count} cells; allowed: at most {MAX_CELLS}")


def level_record(level: Level) -> dict[str, Any]:
    """What a level sets, as plain data: `{"preset": "sngan", "train": {"lr": 0.001}}` (no preset: no key)."""
    return {**({"preset": level.preset} if level.preset else {}),
            **{section: to_plain(values) for section, values in level.overrides.items()}}


def variants_factor(specs: tuple[VariantSpec, ...]) -> Factor:
    """A `variants:` list as the one factor `variant`: each variant a level of its own name."""
    return Factor(VARIANT_FACTOR, tuple(Level(s.name, s.preset, s.overrides) for s in specs))


Combo = tuple[tuple[Factor, Level], ...]


def parse_selection(raw: Any, factors: tuple[Factor, ...]) -> list[Combo]:
    """The cells of `design:` (absent: every cell), in factor order."""
    every = [tuple(zip(factors, levels)) for levels in itertools.product(*(f.levels for f in factors))]
    if raw is None:
        return every
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in ("exclude", "cells"):
        raise ConfigError("design", f"{printable(repr(raw))[:200]} must be {{exclude: [...]}} or {{cells: [...]}}")
    kind, entries = next(iter(raw.items()))
    if not isinstance(entries, list) or not entries:
        raise ConfigError(join("design", kind), f"{printable(repr(entries))[:200]} must be a non-empty list of "
                                                "{factor: level} mappings")
    wanted = [parse_entry(entry, factors, f"design.{kind}[{i}]", whole=kind == "cells")
              for i, entry in enumerate(entries)]
    if kind == "cells":
        return cells_listed(every, wanted)
    kept = [combo for combo in every if not any(matches(combo, entry) for entry in wanted)]
    if not kept:
        raise ConfigError("design.exclude", "excludes every cell; allowed: leave at least one")
    return kept


def cells_listed(every: list[Combo], wanted: list[dict[str, str]]) -> list[Combo]:
    for i, entry in enumerate(wanted):
        if entry in wanted[:i]:
            raise ConfigError(f"design.cells[{i}]", f"{entry} is listed twice")
    return [combo for combo in every if any(matches(combo, entry) for entry in wanted)]


def parse_entry(entry: Any, factors: tuple[Factor, ...], path: str, whole: bool) -> dict[str, str]:
    """{factor: level} of one design entry, every name checked; a listed cell names every factor."""
    names = [f.name for f in factors]
    if not isinstance(entry, dict) or not entry:
        raise ConfigError(path, f"{printable(repr(entry))[:200]} must be a mapping {{factor: level}}")
    out = {}
    for key, value in entry.items():
        factor = next((f for f in factors if f.name == str(key)), None)
        if factor is None:
            raise ConfigError(join(path, str(key)), unknown_key_message(str(key), names).replace("key", "factor"))
        levels = [lv.name for lv in factor.levels]
        if str(value) not in levels or isinstance(value, bool):
            raise ConfigError(join(path, factor.name), f"{printable(repr(value))} is not a level of {factor.name}; "
                                                       f"allowed: {', '.join(levels)}")
        out[factor.name] = str(value)
    if whole and len(out) != len(factors):
        missing = ", ".join(n for n in names if n not in out)
        raise ConfigError(path, f"names no level of {missing}; a listed cell names one level of every factor")
    return out


def matches(combo: Combo, entry: dict[str, str]) -> bool:
    return all(level.name == entry[factor.name] for factor, level in combo if factor.name in entry)


def merge_cell(combo: Combo) -> VariantSpec:
    """The cell of one combination of levels: one preset at most, and one value per key."""
    name = cell_name(tuple(level.name for _, level in combo))
    stated: dict[tuple[str, str], tuple[str, Any]] = {}  # (section, key) -> (factor=level, value)
    presets = [(f"{f.name}={lv.name}", lv.preset) for f, lv in combo if lv.preset]
    differing = [entry for entry in presets if entry[1] != presets[0][1]] if presets else []
    if differing:
        refuse_conflict(name, "preset", presets[0], differing[0])
    overrides: dict[str, dict[str, Any]] = {}
    for factor, level in combo:
        who = f"{factor.name}={level.name}"
        for section, values in level.overrides.items():
            for key, value in values.items():
                previous = stated.setdefault((section, key), (who, value))
                if previous[1] != value:
                    refuse_conflict(name, f"{section}.{key}", previous, (who, value))
                overrides.setdefault(section, {})[key] = value
    preset = next((level.preset for _, level in combo if level.preset), None)
    return VariantSpec(name, preset, overrides, tuple((f.name, lv.name) for f, lv in combo))


def refuse_conflict(cell: str, key: str, first: tuple[str, Any], second: tuple[str, Any]) -> None:
    raise ConfigError("factors", f"levels {first[0]} and {second[0]} both set {key} ({first[1]!r} vs "
                                 f"{second[1]!r}) in cell {cell}; allowed: one value per cell (set the key in one "
                                 "factor, or leave the cell out with design: {exclude: [...]})")


def design_cells(factors: tuple[Factor, ...], selection: Any) -> tuple[VariantSpec, ...]:
    return tuple(merge_cell(combo) for combo in parse_selection(selection, factors))


def parse_only(items: tuple[str, ...] | list[str], factors: tuple[Factor, ...]) -> dict[str, set[str]]:
    """`--only FACTOR=LEVEL[,LEVEL...]` (repeatable; one factor given twice keeps both lists) as {factor: levels}."""
    kept: dict[str, set[str]] = {}
    names = [f.name for f in factors]
    for item in items:
        factor_name, eq, levels = str(item).partition("=")
        factor = next((f for f in factors if f.name == factor_name.strip()), None)
        if not eq or factor is None:
            raise ConfigError("--only", f"{printable(repr(item))}: give FACTOR=LEVEL[,LEVEL...] with a factor of "
                                        f"the config; allowed factors: {', '.join(names)}")
        allowed = [lv.name for lv in factor.levels]
        for level in levels.split(","):
            if level.strip() not in allowed:
                raise ConfigError("--only", f"{printable(repr(level.strip()))} is not a level of {factor.name}; "
                                            f"allowed: {', '.join(allowed)}")
            kept.setdefault(factor.name, set()).add(level.strip())
    return kept


def narrow(factors: tuple[Factor, ...], cells: tuple[VariantSpec, ...], only: tuple[str, ...] | list[str],
           ) -> tuple[tuple[Factor, ...], tuple[VariantSpec, ...]]:
    """The factors' levels and the cells that `--only` keeps (nothing narrowed without it)."""
    kept = parse_only(only, factors)
    if not kept:
        return factors, cells
    chosen = tuple(c for c in cells if all(level in kept.get(factor, {level}) for factor, level in c.levels))
    if not chosen:
        raise ConfigError("--only", f"{' '.join(map(str, only))} keeps none of the design's cells "
                                    f"({', '.join(c.name for c in cells)})")
    used = {pair for cell in chosen for pair in cell.levels}
    return tuple(Factor(f.name, tuple(lv for lv in f.levels if (f.name, lv.name) in used)) for f in factors), chosen
