"""Progress for a log: one line per finished run, for when stdout is a file, a pipe or a scheduler's log.

A progress bar redraws one line of a terminal; under `tee`, `nohup` or a batch scheduler it writes
nothing a reader can use. This writes what the bars show as plain lines instead: which run ended,
how, its objective, how long it took, and when the sweep will likely end. Like the bars it reads
the Optuna storage, so it reports every worker's runs, other machines' included.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, TextIO

from optuna.trial import FrozenTrial, TrialState

from harness.stores import keys
from harness.sweep.status import variant_status
from harness.sweep.studies import CONFIRM, SEARCH, VariantStudies

FINISHED_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


@dataclass(frozen=True)
class FinishedRun:
    variant: str
    stage: str
    number: int
    seed: int | None
    outcome: str
    value: float | None
    seconds: float | None
    task: str | None = None  # the Slurm array task that ran it ('slurm 1234_1 on gpu07'), where one did
    levels: tuple[str, ...] = ()  # the cell's level names (its MLflow run name shows them)

    @property
    def key(self) -> tuple[str, str, int]:
        return self.variant, self.stage, self.number

    def describe(self, objective: str) -> str:
        """The run by its one name (its MLflow run's, the report's), how it ended, its objective and time."""
        value = "" if self.value is None else f", {objective} {self.value:.4g}"
        took = "" if self.seconds is None else f" in {duration(self.seconds)}"
        where = f" ({self.task})" if self.task else ""
        name = keys.run_name(self.stage, self.variant, self.number, self.seed or 0, self.levels)
        return f"{name}: {self.outcome}{value}{took}{where}"


def duration(seconds: float) -> str:
    """41s, 3m12s, 1h02m: short enough for a log line, exact enough for an ETA."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def finished_run(variant: str, stage: str, trial: FrozenTrial, levels: tuple[str, ...] = ()) -> FinishedRun:
    seconds = None
    if trial.datetime_start and trial.datetime_complete:
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
    outcome = "complete" if trial.state == TrialState.COMPLETE else str(
        trial.user_attrs.get(keys.OUTCOME, trial.state.name.lower()))
    return FinishedRun(variant, stage, trial.number, keys.int_attr(trial, keys.SEED), outcome, trial.value, seconds,
                       keys.text_attr(trial, keys.SCHEDULER_TASK), levels)


def finished_runs(studies: VariantStudies) -> list[FinishedRun]:
    """Every finished trial of a variant's two studies, search first."""
    return [finished_run(studies.variant, stage, trial, studies.levels)
            for stage, study in ((SEARCH, studies.search), (CONFIRM, studies.confirm))
            for trial in study.get_trials(deepcopy=False, states=FINISHED_STATES)]


def eta_text(run_seconds: list[float], left: int, running: int) -> str:
    """Time left from what completed runs took: their mean time, times the runs left, spread over the
    runs going on at once (every worker's, other machines' included). Nothing is estimated before a run
    has been measured: the time to the first one (imports, the evaluation classifier, the stores) says
    nothing about a run's length."""
    if left <= 0:
        return "0s"
    if not run_seconds:
        return "unknown until a run has completed"
    return duration(sum(run_seconds) / len(run_seconds) * left / max(1, running))


def running_now(all_studies: list[VariantStudies]) -> int:
    return sum(len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
               for studies in all_studies for study in (studies.search, studies.confirm))


class RunLog:
    """Prints a line per newly finished run; the runs finished before it started are summed up once."""

    def __init__(self, exp: Any, out: TextIO) -> None:
        self.exp, self.out = exp, out
        self.start = time.monotonic()
        self.seen: set[tuple[str, str, int]] | None = None  # None until the first look at the storage

    def update(self, all_studies: list[VariantStudies]) -> None:
        # The runs first: a run that ends between the two reads is then counted, never shown uncounted.
        runs = [run for studies in all_studies for run in finished_runs(studies)]
        statuses = [variant_status(self.exp, studies) for studies in all_studies]
        total = sum(s.search.budget + s.confirm.budget for s in statuses)
        finished = sum(s.search.finished + s.confirm.finished for s in statuses)
        if self.seen is None:
            self.seen = {run.key for run in runs}
            if finished:
                self.print(f"resuming: {finished} of {total} runs already finished")
            return
        objective = {s.variant: keys.text_attr(s.search, keys.OBJECTIVE) or "objective" for s in all_studies}
        elapsed = time.monotonic() - self.start
        measured = [run.seconds for run in runs if run.seconds is not None and run.outcome == "complete"]
        eta = eta_text(measured, total - finished, running_now(all_studies))
        new = [run for run in runs if run.key not in self.seen]
        for i, run in enumerate(new):  # runs that ended within one poll are numbered in turn
            self.seen.add(run.key)
            self.print(f"[{max(1, finished - len(new) + i + 1)}/{total}] {run.describe(objective[run.variant])}; "
                       f"sweep {duration(elapsed)} elapsed, ETA {eta}")

    def print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def close(self) -> None:
        return None
