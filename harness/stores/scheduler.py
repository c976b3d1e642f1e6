"""Where a run ran: the batch scheduler's job, array task and node, read from the environment it gives a job.

Slurm sets `SLURM_ARRAY_JOB_ID` and `SLURM_ARRAY_TASK_ID` in every task of a job array (the ids
`squeue` and `scancel` show as `1234_1`), `SLURM_JOB_ID` in every job and `SLURMD_NODENAME` to the
node. `harness/launch` submits the sweep's workers as such an array; these functions turn that
environment into the MLflow tags every run carries (`harness.slurm_job_id`, `harness.slurm_node`) and
the label a progress line names a worker by. They are pure functions of a mapping (`os.environ` in
use, a dict in the tests) and import the standard library only, so any layer may call them.
"""

from __future__ import annotations

from collections.abc import Mapping

SLURM_JOB_ID = "slurm_job_id"  # tag harness.slurm_job_id: '<array job>_<task>' in an array, else '<job>'
SLURM_NODE = "slurm_node"  # tag harness.slurm_node: the node the job ran on


def env_value(env: Mapping[str, str], name: str) -> str | None:
    """A variable's value, or None when it is unset, empty or not one printable word (nothing a tag should hold)."""
    value = env.get(name, "").strip()
    return value if value and value.isprintable() and " " not in value else None


def slurm_job_id(env: Mapping[str, str]) -> str | None:
    """`1234_1` in task 1 of array job 1234, `1234` in a job that is no array, None outside Slurm."""
    array_job, task = env_value(env, "SLURM_ARRAY_JOB_ID"), env_value(env, "SLURM_ARRAY_TASK_ID")
    if array_job and task:
        return f"{array_job}_{task}"
    return env_value(env, "SLURM_JOB_ID")


def scheduler_tags(env: Mapping[str, str]) -> dict[str, str]:
    """{SLURM_JOB_ID: ..., SLURM_NODE: ...} for a run inside a Slurm job (the node only where Slurm names
    it); {} elsewhere. Keys without the `harness.` prefix, as `harness.stores.keys.tags` takes them."""
    job = slurm_job_id(env)
    if job is None:
        return {}
    node = env_value(env, "SLURMD_NODENAME")
    return {SLURM_JOB_ID: job, **({SLURM_NODE: node} if node else {})}


def task_label(env: Mapping[str, str]) -> str | None:
    """How a progress line names the worker's Slurm task: 'slurm 1234_1 on gpu07'; None outside Slurm."""
    tags = scheduler_tags(env)
    if not tags:
        return None
    node = tags.get(SLURM_NODE)
    return f"slurm {tags[SLURM_JOB_ID]}" + (f" on {node}" if node else "")
