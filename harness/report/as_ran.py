"""The experiment as it ran: the report describes what the stores recorded, not today's YAML.

A sweep records on each variant's search study its recipe (the keys that decide results) and the
sweep settings it queued its budget with (harness.config.recipe). The report puts those in place of the
config it was given (steps, seeds, budget, sampler, dataset, seed, objective), so a report made
without the sweep's `--set` flags, or after the YAML was edited, still says what ran, and it says in
one line where the config given today differs (docs/report.md, "What ran"). Keys the stores did not
record (a sweep made before the records existed) keep today's values, and the report says so.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from harness.config.resolve import ExperimentConfig, resolve_run
from harness.config.recipe import MEASUREMENT, comparable, recipe_text, sweep_settings_text
from harness.report.load import StoredRecord
from harness.core.schema import KnobSpace, SweepConfig
from harness.core.strict import flatten, replace

ABSENT = "absent"
MAX_LISTED = 8  # differences named in the one line; the rest are counted


@dataclass(frozen=True)
class AsRan:
    exp: ExperimentConfig  # the given config with the stored settings in place
    differences: tuple[str, ...]  # "train.steps: 1200 given, 40 stored", one per differing key
    unrecorded: tuple[str, ...]  # what the stores lack, described from today's config instead
    recorded_hash: str | None  # a hash of the stored records: what ran, whatever the YAML says today
    steps: dict[str, int]  # generator steps per variant, as recorded (empty when nothing was)


def as_ran(given: ExperimentConfig, records: dict[str, StoredRecord], stored_variants: set[str]) -> AsRan:
    """What ran, from the stored records of `given`'s variants; `stored_variants` are all the store holds."""
    recipes = [r.recipe for r in records.values() if r.recipe is not None]
    sweeps = [r.sweep for r in records.values() if r.sweep is not None]
    exp = with_recipe(given, recipes[0], {r["train.steps"] for r in recipes}) if recipes else given
    exp = dataclasses.replace(exp, sweep=stored_sweep(exp.sweep, sweeps[0])) if sweeps else exp
    unrecorded = tuple(what for what, found in (("recipe", recipes), ("sweep settings", sweeps))
                       if records and not found)
    found = differences(given, records) + left_out(given, stored_variants)
    steps = {variant: r.recipe["train.steps"] for variant, r in records.items() if r.recipe is not None}
    return AsRan(replanned(exp) if exp is not given else exp, tuple(found), unrecorded,
                 records_hash(records) if recipes else None, steps)


def replanned(exp: ExperimentConfig) -> ExperimentConfig:
    """`exp` with its plan (`exp.run`) resolved from its own settings: the given config's plan holds today's
    data and steps, and the report's readers of `exp.run` must see those that ran."""
    return dataclasses.replace(exp, runs={spec.name: resolve_run(exp, spec.name) for spec in exp.variants})


def with_recipe(exp: ExperimentConfig, recipe: dict[str, Any], steps: set[int]) -> ExperimentConfig:
    """`exp` with a stored recipe's experiment-wide keys: data, seed, objective, and the steps when every
    variant ran the same number (variants may override train.steps; then each keeps its own)."""
    data = {key[5:]: value for key, value in recipe.items() if key.startswith("data.")}
    measured = {key[6:]: recipe[key] for key in MEASUREMENT if key in recipe}  # eval_every, ... as they ran
    train = replace(exp.train, {**measured, **({"steps": next(iter(steps))} if len(steps) == 1 else {})})
    sweep = dataclasses.replace(exp.sweep, objective=recipe.get("sweep.objective", exp.sweep.objective))
    return dataclasses.replace(exp, seed=recipe.get("seed", exp.seed), data=replace(exp.data, data), train=train,
                               sweep=sweep)


def stored_sweep(sweep: SweepConfig, record: dict[str, Any]) -> SweepConfig:
    """The sweep section with the stored budget, seeds, sampler, pruner and space (JSON lists back to tuples)."""
    space = {knob: KnobSpace(**{**spec, "choices": None if spec.get("choices") is None else tuple(spec["choices"])})
             for knob, spec in record.get("space", {}).items()}
    scalars = {key: value for key, value in record.items() if key != "space"}
    return dataclasses.replace(sweep, **scalars, space=space)


def differences(given: ExperimentConfig, records: dict[str, StoredRecord]) -> list[str]:
    """One entry per key where the given config differs from a stored record, naming the variants
    when only some differ."""
    found: dict[tuple[str, str, str], list[str]] = {}
    for variant, record in records.items():
        recipe_today = json.loads(recipe_text(resolve_run(given, variant)))
        today = {"recipe": recipe_today if record.recipe is None else comparable(record.recipe, recipe_today),
                 "sweep": flatten({"sweep": json.loads(sweep_settings_text(given))})}
        stored = {"recipe": record.recipe, "sweep": None if record.sweep is None else flatten({"sweep": record.sweep})}
        for kind in ("recipe", "sweep"):
            if stored[kind] is None:
                continue
            for key in sorted(today[kind].keys() | stored[kind].keys()):
                now, then = today[kind].get(key, ABSENT), stored[kind].get(key, ABSENT)
                if now != then:
                    found.setdefault((key, text(now), text(then)), []).append(variant)
    return [f"{key}{'' if len(variants) == len(records) else ' (' + ', '.join(variants) + ')'}: {now} given, "
            f"{then} stored" for (key, now, then), variants in found.items()]


def text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def left_out(given: ExperimentConfig, stored_variants: set[str]) -> list[str]:
    others = sorted(stored_variants - {spec.name for spec in given.variants})
    return [f"variants: the stores also hold {', '.join(others)}, not in the given config's variants "
            "(left out of this report)"] if others else []


def records_hash(records: dict[str, StoredRecord]) -> str:
    plain = {variant: {"recipe": r.recipe, "sweep": r.sweep} for variant, r in sorted(records.items())}
    return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:12]


def differences_line(ran: AsRan) -> str | None:
    """The one line a report prints when the given config differs from what ran; None when it does not."""
    if not ran.differences:
        return None
    listed = "; ".join(ran.differences[:MAX_LISTED])
    more = f"; and {len(ran.differences) - MAX_LISTED} more" if len(ran.differences) > MAX_LISTED else ""
    return f"the config given differs from what ran, and the report describes what ran: {listed}{more}"
