"""One study, one recipe: refuse to resume a variant's studies under settings that change its results.

Re-running the sweep command resumes: the stored trials count toward the budget. That is right
when the command is the same, and wrong when a result-changing key differs: `--set
train.steps=4800` on a settled 1,200-step sweep would queue nothing and re-report the old runs as
if they were the new ones, and a partly run sweep would mix both. So the first sweep records each
variant's resolved recipe on its search study, and every later one compares before it writes
anything. Plumbing (device, checkpoint intervals, paths, the extra metrics, the classifier's
threshold) and the `sweep` section (budgets may grow) are not part of the recipe; the logging,
evaluation and sample intervals are (harness.config.recipe.MEASUREMENT), since curves of one study
must have been measured alike.
"""

from __future__ import annotations

import json
from typing import Any

from harness.stores import keys
from harness.config.resolve import ExperimentConfig
from harness.core.errors import ConfigError
from harness.config.recipe import (PLUMBING, comparable, recipe,  # noqa: F401  (PLUMBING is re-exported)
                                   recipe_text, with_later_keys)
from harness.config.knob_space import searched
from harness.core.schema import RunConfig
from harness.stores.urls import redact


def recipe_mismatch(exp: ExperimentConfig, variant: str, stored: str, where: str) -> ConfigError | None:
    """The error for a variant whose stored recipe differs from the config's, naming the first key."""
    old = with_later_keys(json.loads(stored))
    new = comparable(old, json.loads(recipe_text(exp.run(variant))))
    # A key both sides hold comes first: it is the cause (train.optimizer), a key one side lacks its
    # consequence (Adam's betas, which only apply under Adam).
    differing = sorted((key for key in old.keys() | new.keys() if old.get(key, "absent") != new.get(key, "absent")),
                       key=lambda key: (key not in old or key not in new, key))
    if not differing:
        return None
    key = differing[0]
    more = f" (and {len(differing) - 1} more key(s))" if len(differing) > 1 else ""
    return ConfigError(key, f"{new.get(key, 'absent')!r} differs from {old.get(key, 'absent')!r}, with which "
                            f"experiment {exp.name!r} (variant {variant}) already ran in {redact(where)}{more}; a study "
                            f"holds one recipe: give this one a new name (--set name={exp.name}-2) or another "
                            "sweep.storage")


def check_recipes(exp: ExperimentConfig, stored: dict[str, str | None], where: str) -> None:
    """Raise the first variant's mismatch; `stored` maps variant -> its search study's recipe (None: new)."""
    for variant, text in stored.items():
        if text is not None and (error := recipe_mismatch(exp, variant, text, where)) is not None:
            raise error


def stored_recipe(storage: Any, study_name: str) -> str | None:
    """The recipe recorded on a search study, None when the study (or the record) does not exist yet."""
    return recipe_attr(stored_attrs(storage, study_name))


def recipe_attr(attrs: dict[str, Any]) -> str | None:
    """The recipe in a search study's user attributes, None where none is recorded."""
    value = attrs.get(keys.RECIPE)
    return None if value is None else str(value)


def stored_attrs(storage: Any, study_name: str) -> dict[str, Any]:
    """A study's user attributes; {} when it does not exist yet."""
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return {}
    return storage.get_study_user_attrs(study_id)


def search_mode_mismatch(exp: ExperimentConfig, variant: str, stored_budget: Any, where: str) -> ConfigError | None:
    """A cell's search study ran with a search or without one (budget 0) for good: its confirmation seeds
    re-train the search's best values, or the cell's own, and one study cannot hold both meanings."""
    if stored_budget is None or (int(stored_budget) > 0) == searched(exp):
        return None
    before = "without a search" if int(stored_budget) == 0 else f"a search of {int(stored_budget)} trials"
    allowed = "at least 1" if int(stored_budget) else "0"
    return ConfigError("sweep.trials_per_variant", f"{exp.sweep.trials_per_variant!r}: experiment {exp.name!r} "
                       f"(cell {variant}) already ran {before} in {redact(where)}; allowed here: {allowed}, or a new "
                       f"name (--set name={exp.name}-2) or another sweep.storage")


def record_or_check(exp: ExperimentConfig, study: Any, run: RunConfig, where: str) -> None:
    """Under the sweep's init lock: record a new study's recipe, or refuse a changed one (a racing sweep)."""
    if (error := search_mode_mismatch(exp, run.variant, study.user_attrs.get(keys.BUDGET), where)) is not None:
        raise error
    stored = keys.text_attr(study, keys.RECIPE)
    if stored is None:
        study.set_user_attr(keys.RECIPE, recipe_text(run))
    elif (error := recipe_mismatch(exp, run.variant, stored, where)) is not None:
        raise error
