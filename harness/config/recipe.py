"""What a run's settings are, in the flat `section.key` form the stores hold.

Three views of one resolved run: every key that applies to it (its MLflow params come from
here, so wgan_clip never shows a lambda_gp), the *recipe* (the keys that decide its results,
recorded on each variant's search study and checked when a sweep resumes) and the sweep settings
that shape what a report describes (budgets, seeds, sampler). The sweep writes them; the report
reads them back, so both sides agree on one definition. Imports no registry beyond the resolver's.
"""

from __future__ import annotations

import json
from typing import Any

from harness.config.knob_space import knob_applies, space_key
from harness.core.schema import ExperimentConfig, RunConfig
from harness.core.strict import flatten, to_plain

# Keys that never change a run's results, so they may differ between sweeps of one experiment
# (workers on different machines have their own data paths and devices).
PLUMBING = ("data.root", "data.download", "train.device", "train.checkpoint_every", "train.checkpoint_every_seconds",
            "eval.metrics", "eval.cache_dir", "eval.classifier_min_accuracy")
# Keys that decide what a run records, not how it trains: the points of its curves (which the
# convergence and equal-time checks read, and at which the pruner decides) and its sample grids. They
# are part of the recipe, so the report can say what ran; a recipe stored before they were recorded
# lacks them, and nothing is known of the values it used, so they are compared only where stored.
MEASUREMENT = ("train.log_every", "train.eval_every", "train.sample_every")
# Recipe keys added after stores were first written, with the value every run before them had: a
# study recorded without `train.optimizer` trained with Adam, so it reads as "adam" and still resumes.
LATER_KEYS: dict[str, Any] = {"train.optimizer": "adam"}
# The `sweep` keys that decide what a sweep queued, and so what its report describes. The others
# (workers, storage, heartbeats, retries, report) are how it ran, not what.
DESCRIBED_SWEEP_KEYS = ("trials_per_variant", "sampler", "startup_trials", "pruner", "pruner_startup_trials",
                        "seeds", "space")


def applicable_settings(run: RunConfig) -> dict[str, Any]:
    """Every resolved `data`, `model`, `train` and `eval` key of the run, knobs only where they apply."""
    sections = {"data": to_plain(run.data), "model": to_plain(run.model), "train": to_plain(run.train),
                "eval": to_plain(run.eval)}
    return {key: value for key, value in sorted(flatten(sections).items()) if applies(run, key)}


def applies(run: RunConfig, key: str) -> bool:
    """A dotted key counts unless it is a knob the run's entries do not read (train.lambda_gp on vanilla,
    model.width on a resnet)."""
    section, _, name = key.partition(".")
    knobs = getattr(getattr(run, section, None), "knobs", {})
    return name not in knobs or knob_applies(run, space_key(section, name))


def recipe(run: RunConfig) -> dict[str, Any]:
    """The resolved settings that decide a variant's results, as {dotted key: value}."""
    flat = {"seed": run.seed, "sweep.objective": run.objective, **applicable_settings(run)}
    return {key: value for key, value in sorted(flat.items()) if key not in PLUMBING}


def recipe_text(run: RunConfig) -> str:
    return json.dumps(recipe(run), sort_keys=True, default=str)


def with_later_keys(settings: dict[str, Any]) -> dict[str, Any]:
    """Flat settings stored by an earlier harness (a recipe, a checkpoint's config), with each key
    added since at the value that run had."""
    return {**LATER_KEYS, **settings}


def comparable(stored: dict[str, Any], today: dict[str, Any]) -> dict[str, Any]:
    """`today`'s recipe without the measurement keys that `stored` (an older record) does not hold."""
    return {key: value for key, value in today.items() if key in stored or key not in MEASUREMENT}


def read_recipe(text: str | None) -> dict[str, Any] | None:
    """A stored recipe (None when none was recorded), with the keys added since it was written."""
    return None if text is None else with_later_keys(json.loads(text))


def sweep_settings(exp: ExperimentConfig) -> dict[str, Any]:
    """The described `sweep` keys as plain values (the space as {knob: {low, high, log, step, choices}})."""
    plain = to_plain(exp.sweep)
    return {key: plain[key] for key in DESCRIBED_SWEEP_KEYS}


def sweep_settings_text(exp: ExperimentConfig) -> str:
    return json.dumps(sweep_settings(exp), sort_keys=True, default=str)
