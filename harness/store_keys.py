"""The names the stores hold: Optuna study names, stages, user-attribute keys and MLflow tags, in one place.

The sweep writes them and the report reads them; both go through the constants and typed helpers
here instead of bare strings, so a renamed key cannot leave a reader behind. Imports nothing heavy.
"""

from __future__ import annotations

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

# Trial user attributes
STAGE = "stage"
SEED = "seed"
MLFLOW_RUN_ID = "mlflow_run_id"
OUTCOME = "outcome"
REASON = "reason"
DEVICE = "device"
WORKER = "worker"
FINAL_METRICS = "final_metrics"
EVAL_HISTORY = "eval_history"  # the objective and the cost counters at each evaluation (report: validity)


# MLflow run tags. The harness's own carry a prefix so that they never collide with MLflow's or a
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
# The tags the report reads back into its runs table.
REPORTED_TAGS = (ROLE, VARIANT, STAGE, TRIAL_NUMBER, SEED, OUTCOME, GIT_COMMIT, DEVICE, VERSIONS)


def tag(key: str) -> str:
    """The MLflow tag name of one of the keys above."""
    return TAG_PREFIX + key


def tags(values: dict[str, Any]) -> dict[str, str]:
    """MLflow tags from {key: value}, names prefixed and values as the strings MLflow stores."""
    return {tag(key): str(value) for key, value in values.items()}


class HasUserAttrs(Protocol):
    @property
    def user_attrs(self) -> dict[str, Any]: ...


def study_names(experiment: str, variant: str) -> tuple[str, str]:
    """(search, confirm) study names of one variant of experiment `experiment`."""
    return f"{experiment}/{variant}", f"{experiment}/{variant}/confirm"


def text_attr(owner: HasUserAttrs | None, key: str) -> str | None:
    """A string user attribute of a study or trial, or None when absent (or the owner is)."""
    value = None if owner is None else owner.user_attrs.get(key)
    return None if value is None else str(value)


def int_attr(owner: HasUserAttrs | None, key: str, default: int | None = None) -> int | None:
    """An integer user attribute (budget, seed, source_trial), or `default`."""
    value = None if owner is None else owner.user_attrs.get(key)
    return default if value is None else int(value)
