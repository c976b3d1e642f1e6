"""The names the stores hold: Optuna study names, stages, user-attribute keys and MLflow tags, in one place.

The sweep writes them and the report reads them; both go through the constants and typed helpers
here instead of bare strings, so a renamed key cannot leave a reader behind. Imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any, Literal, Protocol

Stage = Literal["search", "confirm"]
SEARCH: Stage = "search"
CONFIRM: Stage = "confirm"

# Study user attributes
BUDGET = "budget"  # search: the length of its queue
OBJECTIVE = "objective"  # search: the metric its values are
VARIANT = "variant"
MLFLOW_PARENT_RUN_ID = "mlflow_parent_run_id"  # search: the variant's MLflow parent run
SKIPPED = "skipped"  # confirm: why no confirmation run was queued
SOURCE_TRIAL = "source_trial"  # confirm (and its trials): the search trial whose params are confirmed
RECIPE = "recipe"  # search: the resolved settings its trials ran with (JSON), checked when a sweep resumes
SWEEP_SETTINGS = "sweep"  # search: the sweep settings its budget was queued with (JSON; harness.config.recipe)
# search: the cell's levels in factor order, [[factor, level], ...]; a study older than designs has none and is
# the one-factor design's cell [["variant", <variant>]].
LEVELS = "levels"
# search: what each of the cell's levels sets, {factor: {"level": name, "preset": name | None, "train": {...},
# "model": {...}}} (the report's Design section); the effective values are the recipe above.
LEVEL_OVERRIDES = "level_overrides"
ABOUT = "about"  # both: what the study is, in words, for whoever browses it (optuna-dashboard)
CONFIRM_ABOUT = ("confirmation (same params, different seeds): the search's best params re-trained with fresh "
                 "seeds. Every trial has the same params, so this study's hyperparameter importances and "
                 "optimization history mean nothing; compare its values across variants (the report).")
SEARCH_ABOUT = ("search: each trial tries other params (the config's own values first); its importances and "
                "history are the search's")

# Trial user attributes
STAGE = "stage"
SEED = "seed"
MLFLOW_RUN_ID = "mlflow_run_id"
OUTCOME = "outcome"
REASON = "reason"
DEVICE = "device"
WORKER = "worker"
SCHEDULER_TASK = "scheduler_task"  # the batch job task that claimed the trial last: 'slurm 1234_1 on gpu07'
FINAL_METRICS = "final_metrics"
EVAL_HISTORY = "eval_history"  # the objective and the cost counters at each evaluation (report: validity)


# MLflow run tags; a run's levels are tagged `harness.factor.<factor>` = level (FACTOR_TAG_PREFIX), so that
# MLflow's runs table groups by any factor. The harness's own carry a prefix so that they never collide with MLflow's or a
# user's; the variant, stage, seed, outcome, reason and device tags reuse the keys above.
TAG_PREFIX = "harness."
ROLE = "role"  # a variant's parent run ("study") or one trial's run ("trial")
ROLE_STUDY, ROLE_TRIAL = "study", "trial"
STUDY = "study"  # the Optuna study a run belongs to
TRIAL_NUMBER = "trial_number"
CONFIG_HASH = "config_hash"
KNOBS = "knobs"  # the knobs that apply to the trial's variant
GIT_COMMIT = "git_commit"
VERSIONS = "versions"  # harness, torch, optuna, mlflow and python versions
RESUMED_AT_STEP = "resumed_at_step"
CHECKPOINT = "checkpoint"  # the artifact slot of a trial's last committed checkpoint
CHECKPOINT_STEP = "checkpoint_step"
# MLflow run params beside the resolved config: the networks' sizes, and what each metric's value
# means (eval_info.<fact>: the yardstick's facts; eval_info.protocol.<metric>: N, reference split, ...).
GENERATOR_PARAMS = "model.generator_params"
CRITIC_PARAMS = "model.critic_params"
EVAL_INFO_PREFIX = "eval_info."
PROTOCOL_PREFIX = "protocol."
CONVERGENCE = "convergence"  # a parent run's status at the end of the sweep: converged, improving, unknown
RANK = "rank"  # a parent run's rank on the objective's mean over its confirmation seeds
ROLE_REFERENCE = "reference"  # the experiment's one run that shows the real data (its grid, once)
# The tags the report reads back into its runs table.
REPORTED_TAGS = (ROLE, VARIANT, STAGE, TRIAL_NUMBER, SEED, OUTCOME, GIT_COMMIT, DEVICE, VERSIONS)


def tag(key: str) -> str:
    """The MLflow tag name of one of the keys above."""
    return TAG_PREFIX + key


FACTOR_TAG_PREFIX = "factor."


def level_pairs(owner: HasUserAttrs | None, variant: str) -> tuple[tuple[str, str], ...]:
    """A search study's cell levels; a study written before designs is the one-factor design's cell."""
    value = None if owner is None else owner.user_attrs.get(LEVELS)
    return tuple((str(f), str(lv)) for f, lv in value) if value else (("variant", variant),)


def tags(values: dict[str, Any]) -> dict[str, str]:
    """MLflow tags from {key: value}, names prefixed and values as the strings MLflow stores."""
    return {tag(key): str(value) for key, value in values.items()}


class HasUserAttrs(Protocol):
    @property
    def user_attrs(self) -> dict[str, Any]: ...


# The confirmation study's name says what it is: optuna-dashboard lists studies by name, and would
# otherwise offer importances and a history for trials that all share one set of params.
CONFIRM_STUDY_SUFFIX = "confirmation (same params, different seeds)"
LEGACY_CONFIRM_SUFFIX = "confirm"  # the name before 2026-12: stores written then keep it


def study_names(experiment: str, variant: str) -> tuple[str, str]:
    """(search, confirm) study names of one variant of experiment `experiment`."""
    return f"{experiment}/{variant}", f"{experiment}/{variant}/{CONFIRM_STUDY_SUFFIX}"


def legacy_confirm_name(experiment: str, variant: str) -> str:
    return f"{experiment}/{variant}/{LEGACY_CONFIRM_SUFFIX}"


def confirm_study_name(experiment: str, variant: str, existing: Container[str]) -> str:
    """The confirmation study's name in a store whose study names are `existing`: the legacy name
    where only it exists (a sweep written before the rename), else today's."""
    legacy, current = legacy_confirm_name(experiment, variant), study_names(experiment, variant)[1]
    return legacy if legacy in existing and current not in existing else current


def run_name(stage: str, variant: str, trial_number: int, seed: int, levels: tuple[str, ...] = ()) -> str:
    """A trial's MLflow run name: the stage first, then what tells the runs of one cell apart, so
    that a narrow runs-table column still shows `confirm s2 · wgan_gp` apart from `search t2 · wgan_gp`;
    a cell of several factors shows its levels, `confirm s1 · sngan · D`."""
    which = f"t{trial_number}" if stage == SEARCH else f"s{seed}"
    return " · ".join((f"{stage} {which}", *(levels if len(levels) > 1 else (variant,))))


def text_attr(owner: HasUserAttrs | None, key: str) -> str | None:
    """A string user attribute of a study or trial, or None when absent (or the owner is)."""
    value = None if owner is None else owner.user_attrs.get(key)
    return None if value is None else str(value)


def int_attr(owner: HasUserAttrs | None, key: str, default: int | None = None) -> int | None:
    """An integer user attribute (budget, seed, source_trial), or `default`."""
    value = None if owner is None else owner.user_attrs.get(key)
    return default if value is None else int(value)
