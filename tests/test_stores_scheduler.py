"""Where a run ran: Slurm's environment as MLflow tags and a progress label (harness/stores/scheduler.py)."""

from __future__ import annotations

import pytest

from harness.stores.scheduler import SLURM_JOB_ID, SLURM_NODE, scheduler_tags, slurm_job_id, task_label
from tests.test_layers import loaded_by_import

ARRAY_TASK = {"SLURM_JOB_ID": "1236", "SLURM_ARRAY_JOB_ID": "1234", "SLURM_ARRAY_TASK_ID": "2",
              "SLURMD_NODENAME": "gpu07", "PATH": "/usr/bin"}


def test_an_array_task_is_named_by_its_array_job_and_task_as_squeue_shows_it() -> None:
    assert slurm_job_id(ARRAY_TASK) == "1234_2"  # not its own job id, 1236, which no user types
    assert scheduler_tags(ARRAY_TASK) == {SLURM_JOB_ID: "1234_2", SLURM_NODE: "gpu07"}
    assert task_label(ARRAY_TASK) == "slurm 1234_2 on gpu07"


def test_a_job_that_is_no_array_is_named_by_its_job_id() -> None:
    env = {"SLURM_JOB_ID": "99", "SLURMD_NODENAME": "cpu01"}
    assert scheduler_tags(env) == {SLURM_JOB_ID: "99", SLURM_NODE: "cpu01"}
    assert task_label(env) == "slurm 99 on cpu01"


def test_outside_slurm_there_are_no_tags_and_no_label() -> None:
    assert scheduler_tags({"PATH": "/usr/bin", "HOSTNAME": "laptop"}) == {}
    assert task_label({}) is None


@pytest.mark.parametrize("bad", ["", "  ", "12\n34", "a b"])
def test_an_empty_or_garbled_variable_counts_as_unset(bad: str) -> None:
    assert scheduler_tags({"SLURM_JOB_ID": bad}) == {}
    assert scheduler_tags({**ARRAY_TASK, "SLURM_ARRAY_TASK_ID": bad}) == {SLURM_JOB_ID: "1236", SLURM_NODE: "gpu07"}
    assert scheduler_tags({"SLURM_JOB_ID": "7", "SLURMD_NODENAME": bad}) == {SLURM_JOB_ID: "7"}
    assert task_label({"SLURM_JOB_ID": "7", "SLURMD_NODENAME": bad}) == "slurm 7"


def test_the_module_imports_the_standard_library_only() -> None:
    assert loaded_by_import("harness.stores.scheduler", ("torch", "optuna", "mlflow", "yaml")) == []
