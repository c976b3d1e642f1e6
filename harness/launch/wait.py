"""`launch slurm --wait`: follow a job array to its end and answer with the sweep's exit code.

The tasks are read with `scontrol show job` (no accounting database needed; `sacct` where the
controller has forgotten a task). Each ended task gets a harness exit code (`task_code`), and the
array one code by a fixed order (`array_code`), documented in docs/scale-out.md:

1. a bug (1) in any task, then bad input or a lost service (2): something to fix, whatever the others did;
2. else a task that saw the sweep settled: 3 if some variant had nothing usable, else 0. A settled
   sweep stays settled, so a task stopped before or after it (preempted, cancelled while pending) does
   not matter: the others finished its trials;
3. else the budget is undone: 4 where a worker was lost (node failure, out of memory, SIGKILL), else
   the stop signal's code, 143 (time limit, preemption, scancel), 130 or 129. Run the same launch again.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from harness.core.errors import (EXIT_BUG, EXIT_HANGUP, EXIT_INTERRUPTED, EXIT_NOTHING_USABLE, EXIT_TERMINATED,
                                 EXIT_UNFINISHED, EXIT_USER_ERROR, UserError)

HARNESS_CODES = (0, EXIT_BUG, EXIT_USER_ERROR, EXIT_NOTHING_USABLE, EXIT_UNFINISHED, EXIT_HANGUP, EXIT_INTERRUPTED,
                 EXIT_TERMINATED)
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "PREEMPTED", "DEADLINE", "NODE_FAIL", "BOOT_FAIL",
         "OUT_OF_MEMORY"}
STOPPED = {"CANCELLED", "TIMEOUT", "PREEMPTED", "DEADLINE"}  # the scheduler sent SIGTERM (then SIGKILL)
LOST = {"NODE_FAIL", "BOOT_FAIL", "OUT_OF_MEMORY"}  # the worker died without a word: its trial goes back by heartbeat
ORDER = (EXIT_BUG, EXIT_USER_ERROR, EXIT_NOTHING_USABLE, 0, EXIT_UNFINISHED, EXIT_TERMINATED, EXIT_INTERRUPTED,
         EXIT_HANGUP)
SIGNAL_CODES = {1: EXIT_HANGUP, 2: EXIT_INTERRUPTED, 9: EXIT_UNFINISHED, 15: EXIT_TERMINATED}
MISSES_BEFORE_SACCT = 3  # a task absent from this many polls in a row was forgotten
GIVE_UP_S = 600.0  # scontrol failing this long in a row: the controller is gone, not busy


@dataclass(frozen=True)
class TaskState:
    task: int
    state: str  # Slurm's JobState: PENDING, RUNNING, COMPLETED, TIMEOUT, ...
    exit_code: str = "0:0"  # Slurm's ExitCode: '<status>:<signal>'
    node: str = ""
    restarts: int = 0

    @property
    def ended(self) -> bool:
        return self.state in ENDED


def task_code(state: str, exit_code: str) -> int:
    """One ended task's harness exit code, from Slurm's state and its 'status:signal' ExitCode."""
    status, _, signal = exit_code.partition(":")
    status_n, signal_n = int(status or 0), int(signal or 0)
    if state == "COMPLETED":
        return 0
    if state in LOST:
        return EXIT_UNFINISHED
    if state in STOPPED:  # unless the sweep itself failed on the way out (a bug, a lost service)
        return status_n if status_n in (EXIT_BUG, EXIT_USER_ERROR) else EXIT_TERMINATED
    if signal_n:
        return SIGNAL_CODES.get(signal_n, EXIT_BUG)  # SIGSEGV and the like: a crash
    if status_n in HARNESS_CODES:
        return status_n
    return EXIT_USER_ERROR  # the script itself failed (127: no such interpreter on the node): the environment


def array_code(codes: list[int]) -> int:
    """The array's exit code from its tasks' (the order in this module's docstring)."""
    present = set(codes)
    return next((code for code in ORDER if code in present), EXIT_UNFINISHED)


def expand(task_ids: str) -> list[int]:
    """'0-3,7%2' -> [0, 1, 2, 3, 7]: the tasks a (pending) record of an array stands for."""
    out: list[int] = []
    for part in task_ids.partition("%")[0].split(","):
        low, _, high = part.partition("-")
        if low.isdigit():
            out.extend(range(int(low), int(high.partition(":")[0] or low) + 1))
    return out


def parse_records(text: str) -> dict[int, TaskState]:
    """`scontrol show job -o` of an array: one TaskState per task id, pending ranges expanded."""
    found: dict[int, TaskState] = {}
    for line in text.splitlines():
        fields = dict(re.findall(r"(\w[\w/:]*)=(\S*)", line))
        if "ArrayTaskId" not in fields:
            continue
        node = fields.get("BatchHost", "") if fields.get("BatchHost") not in ("(null)", None) else ""
        for task in expand(fields["ArrayTaskId"]):
            found[task] = TaskState(task, fields.get("JobState", "UNKNOWN"), fields.get("ExitCode", "0:0"), node,
                                    int(fields.get("Restarts", "0") or 0))
    return found


def scontrol_tasks(job_id: str) -> dict[int, TaskState] | None:
    """The array's tasks as the controller knows them; {} once it forgot the job; None when it did not answer."""
    try:
        done = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None
    except OSError as exc:
        raise UserError(f"scontrol: cannot run it to follow job {job_id} ({exc.strerror}); the array runs on") from None
    if done.returncode != 0:
        return {} if "Invalid job id" in done.stderr else None
    return parse_records(done.stdout)


def sacct_tasks(job_id: str) -> dict[int, TaskState]:
    """Ended tasks from the accounting database, for those the controller forgot ({} without one)."""
    try:
        done = subprocess.run(["sacct", "-j", job_id, "-X", "-n", "-P", "-o", "JobID,State,ExitCode,NodeList"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    found = {}
    for line in done.stdout.splitlines() if done.returncode == 0 else []:
        job, state, exit_code, node = (line.split("|") + ["", "", "", ""])[:4]
        task = job.partition("_")[2]
        if task.isdigit():
            found[int(task)] = TaskState(int(task), state.split()[0] if state else "UNKNOWN", exit_code, node)
    return found


def describe(task: TaskState, log: Path) -> str:
    where = f" on {task.node}" if task.node and task.state != "PENDING" else ""
    again = f", start {task.restarts + 1}" if task.restarts else ""
    if not task.ended:
        return f"task {task.task}: {task.state}{where}{again}"
    code = task_code(task.state, task.exit_code)
    said = last_error(log)
    return (f"task {task.task}: {task.state}{where} (ExitCode {task.exit_code}), exit {code}"
            f"{f': {said}' if said and code else ''}")


def last_error(log: Path) -> str | None:
    """The task's last `error:` line, so that a failed task's reason shows without opening its log."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()[-200:]
    except OSError:
        return None
    return next((line.strip() for line in reversed(lines) if line.startswith("error:")), None)


def follow(job_id: str, workers: int, log_of: Callable[[int], Path], poll_s: float,
           out: TextIO | None = None) -> dict[int, TaskState]:
    """Poll until every task has ended, printing a line whenever one changes; the tasks' last states."""
    out = out or sys.stdout  # looked up now, not at import: whatever stdout is when the wait begins
    seen: dict[int, TaskState] = {}
    misses: dict[int, int] = {}  # polls in a row that did not list a task we have not seen end
    silent_since: float | None = None
    while True:
        tasks = scontrol_tasks(job_id)
        if tasks is None:  # the controller is busy or restarting: try again, within reason
            silent_since = silent_since or time.monotonic()
            if time.monotonic() - silent_since > GIVE_UP_S:
                raise UserError(f"scontrol has not answered about job {job_id} for {GIVE_UP_S:.0f} s")
            time.sleep(poll_s)
            continue
        silent_since = None
        for task, state in sorted(tasks.items()):
            if seen.get(task) != state:
                seen[task] = state
                print(describe(state, log_of(task)), file=out, flush=True)
        for task in range(workers):
            unseen = task not in tasks and not (task in seen and seen[task].ended)
            misses[task] = misses.get(task, 0) + 1 if unseen else 0
        gone = [task for task, count in misses.items() if count >= MISSES_BEFORE_SACCT or (count and not tasks)]
        if gone:  # forgotten by the controller before we saw them end (MinJobAge, a restart)
            seen.update(forgotten(job_id, gone, log_of, out))
            misses.update({task: 0 for task in gone})
        if all(task in seen and seen[task].ended for task in range(workers)):
            return seen
        time.sleep(poll_s)


def forgotten(job_id: str, missing: list[int], log_of: Callable[[int], Path], out: TextIO) -> dict[int, TaskState]:
    """Tasks the controller no longer lists: their end from sacct, or else counted as lost."""
    known = sacct_tasks(job_id)
    found = {}
    for task in missing:
        found[task] = known.get(task) or TaskState(task, "NODE_FAIL", "0:0")
        if task not in known:
            print(f"task {task}: its end was not seen (the controller forgot it and no accounting has it); "
                  f"counted as lost, see {log_of(task)}", file=out, flush=True)
    return found
