"""The sbatch script of a sweep's job array: its settings, their checks, and the text a user keeps.

A generated script rather than submitit: researchers keep, read, edit and resubmit their job
scripts, and a plain script needs no extra dependency on the login node or in the image. Each
value that goes into it is checked here first, so that nothing a user typed can add a line or a
shell command to it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.errors import UserError
from harness.core.strict import printable

# sbatch options that `launch slurm` sets itself, and the flag that sets each (none: the script decides).
OWN_OPTIONS = {
    "array": "--workers", "a": "--workers", "signal": "--warn-seconds", "partition": "--partition",
    "p": "--partition", "time": "--time", "t": "--time", "cpus-per-task": "--cpus-per-worker",
    "c": "--cpus-per-worker", "mem": "--mem", "gres": "--gpus-per-worker", "gpus": "--gpus-per-worker",
    "gpus-per-task": "--gpus-per-worker", "gpus-per-node": "--gpus-per-worker", "G": "--gpus-per-worker",
    "requeue": "--requeue", "no-requeue": "--requeue", "output": None, "o": None, "error": None, "e": None,
    "open-mode": None, "chdir": None, "D": None, "wrap": None, "wait": "--wait (of launch)",
    "parsable": None}
TIME_FORMS = ("MINUTES", "MINUTES:SECONDS", "HOURS:MINUTES:SECONDS", "DAYS-HOURS", "DAYS-HOURS:MINUTES",
              "DAYS-HOURS:MINUTES:SECONDS")


@dataclass(frozen=True)
class SlurmJob:
    """Everything the script says: the array's resources and the sweep command each task runs."""

    name: str  # the experiment's; the job's name and the logs' folder derive from it
    workers: int
    command: list[str]  # the sweep's command line, as each task runs it (interpreter first)
    workdir: Path
    log_dir: Path
    made_by: str  # the launch command line, for the header
    partition: str | None = None
    time: str | None = None
    gpus: str = "0"  # per task: N or TYPE:N
    cpus: int = 2
    mem: str | None = None
    warn_seconds: int = 120
    requeue: bool = False
    extra: list[str] = field(default_factory=list)  # --sbatch-arg, verbatim
    single_node_host: str | None = None  # --single-node: every task runs on this node (its short host name)


def safe_name(text: str) -> str:
    """A job or folder name from an experiment name: letters, digits, '.', '_' and '-' only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "sweep"


def time_seconds(text: str) -> int | None:
    """Slurm's --time in seconds (None for UNLIMITED); a UserError naming the forms sbatch accepts."""
    if text.upper() in ("UNLIMITED", "INFINITE"):
        return None
    days, _, clock = text.rpartition("-") if "-" in text else ("", "", text)
    parts = clock.split(":")
    if not (re.fullmatch(r"\d{1,4}", days if "-" in text else "0") and all(re.fullmatch(r"\d{1,6}", p) for p in parts)
            and len(parts) <= 3):
        raise UserError(f"--time: {text!r} is not a Slurm time; allowed: {', '.join(TIME_FORMS)} or UNLIMITED")
    numbers = [int(p) for p in parts]
    if days:  # D-H, D-H:M, D-H:M:S
        hours, minutes, seconds = (numbers + [0, 0])[:3]
        total = int(days) * 86400 + hours * 3600 + minutes * 60 + seconds
    else:  # M, M:S, H:M:S
        total = {1: lambda n: n[0] * 60, 2: lambda n: n[0] * 60 + n[1],
                 3: lambda n: n[0] * 3600 + n[1] * 60 + n[2]}[len(numbers)](numbers)
    if total <= 0:
        raise UserError(f"--time: {text!r} is no time at all; allowed: at least 1 minute")
    return total


def check_formats(job: SlurmJob) -> None:
    """Each value is what sbatch accepts and holds nothing that could end its line of the script."""
    checks = [("--partition", job.partition, r"[\w.,-]+", "names separated by commas"),
              ("--mem", job.mem, r"\d+[KMGT]?", "a size such as 16G, 4000M or 0 (all of the node's)"),
              ("--gpus-per-worker", job.gpus, r"([A-Za-z][\w.-]*:)?\d{1,3}", "a count such as 1, or TYPE:COUNT "
                                                                             "such as a100:1")]
    for flag, value, pattern, allowed in checks:
        if value is not None and not re.fullmatch(pattern, value):
            raise UserError(f"{flag}: {value!r} is not allowed; allowed: {allowed}")
    if job.time is not None:
        limit = time_seconds(job.time)
        if limit is not None and job.warn_seconds >= limit:
            raise UserError(f"--warn-seconds: {job.warn_seconds} is not shorter than --time {job.time} ({limit} s); "
                            "the warning must come before the limit")
    for arg in job.extra:
        check_sbatch_arg(arg)


def check_sbatch_arg(arg: str) -> None:
    """A pass-through option: one option (with its value joined by '='), not one that launch sets itself."""
    if not re.fullmatch(r"--?[A-Za-z][\w-]*(=\S+)?|-[A-Za-z]\S+", arg):
        raise UserError(f"--sbatch-arg: {arg!r} is not one sbatch option; allowed: one option, its value joined by "
                        "'=' and without spaces, e.g. --sbatch-arg=--qos=high")
    name = arg[2:].partition("=")[0] if arg.startswith("--") else arg[1]
    if name in OWN_OPTIONS:
        use = OWN_OPTIONS[name]
        instead = f"use {use}" if use else "launch sets it itself (edit the kept script to change it)"
        raise UserError(f"--sbatch-arg: {arg!r}: {instead}")


def directives(job: SlurmJob) -> list[str]:
    """The #SBATCH lines, each preceded by why where it is not obvious (sbatch reads no comment after an option)."""
    lines = [f"--job-name=gan-ablate-{safe_name(job.name)}",
             "# one sweep worker per task", f"--array=0-{job.workers - 1}",
             "# %A: the array's job id, %a: the task (the folder must exist: launch makes it); a requeued "
             "task adds to its log",
             f"--output={job.log_dir / '%A_%a.log'}", "--open-mode=append",
             "# the config's relative paths (data, caches, SQLite) as at submission", f"--chdir={job.workdir}"]
    if job.single_node_host:
        lines += ["# --single-node: the SQLite stores are on this node", f"--nodelist={job.single_node_host}"]
    lines += [f"--partition={job.partition}"] if job.partition else []
    lines += [f"--time={job.time}"] if job.time else []
    lines += [f"--gres=gpu:{job.gpus}"] if job.gpus != "0" else []
    lines += [f"--cpus-per-task={job.cpus}", *([f"--mem={job.mem}"] if job.mem else [])]
    if job.warn_seconds:
        lines += [f"# SIGTERM to the sweep (exec below) {job.warn_seconds} s before the time limit: it re-queues "
                  "its trial",
                  f"--signal=B:TERM@{job.warn_seconds}"]
    lines += ["# a preempted task goes back to the queue and resumes", "--requeue"] if job.requeue else []
    lines += ["# --sbatch-arg", *job.extra] if job.extra else []
    return [line if line.startswith("#") else "#SBATCH " + line for line in lines]


def header(job: SlurmJob) -> list[str]:
    return [
        "#!/bin/bash",
        f"# {job.workers} sweep worker(s) of the experiment {job.name!r} as one Slurm job array; each task runs",
        "# the same sweep command against the shared stores, claims queued trials and stops when the sweep is",
        "# settled. Written by:",
        f"#   {printable(job.made_by)}",  # a newline in an override must not end the comment
        "# Submit it again, as it is or edited, to resume or finish the sweep (nothing finished runs twice):",
        "#   sbatch THIS_FILE",
        "# Exit codes of a task: those of `gan-ablate sweep` (docs/operations.md); 143 = stopped by SIGTERM",
        "# (time limit, preemption, scancel) with its running trial re-queued."]


def single_node_guard(host: str) -> list[str]:
    """A task of an edited script that lands on another node stops before it touches a SQLite store."""
    return ["# --single-node: the SQLite stores live on this node, and SQLite's locks do not reach other machines.",
            f'if [ "$(hostname -s)" != {shlex.quote(host)} ]; then',
            f'  echo "error: this task runs on $(hostname -s), but its SQLite stores live on {host}" >&2',
            "  exit 2", "fi"]


def render(job: SlurmJob) -> str:
    """The whole script: header, #SBATCH lines, environment, then `exec` of the sweep."""
    body = [
        "set -euo pipefail",
        'export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"  # torch threads: the task\'s CPUs, not the node\'s',
        "export PYTHONUNBUFFERED=1  # progress lines reach the log as they happen",
        'echo "gan-ablate launch: task ${SLURM_ARRAY_TASK_ID} of array job ${SLURM_ARRAY_JOB_ID} on $(hostname -s),'
        ' start $((${SLURM_RESTART_COUNT:-0} + 1))"']
    if job.single_node_host:
        body += single_node_guard(job.single_node_host)
    body += ["# exec: the sweep replaces this shell, so the warning before the time limit (--signal=B:TERM) and",
             "# preemption's SIGTERM reach it: it re-queues its running trial at once and exits 143.",
             "exec " + " \\\n  ".join(command_words(job.command))]
    return "\n".join([*header(job), *directives(job), "", *body, ""])


def command_words(command: list[str]) -> list[str]:
    """The command quoted for the shell: the interpreter, module and config on the first line, then one
    option (with its value) per continued line."""
    config = command.index("harness.sweep") + 2
    words = [" ".join(shlex.quote(word) for word in command[:config])]
    for word in command[config:]:
        if words[-1].startswith("--") and " " not in words[-1] and not word.startswith("--"):
            words[-1] += " " + shlex.quote(word)  # `--storage URL` on one line
        else:
            words.append(shlex.quote(word))
    return words
