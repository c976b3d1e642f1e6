"""Read-only counts of a sweep's studies, for the progress bars and the closing summary."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import optuna
from optuna.trial import TrialState

from harness.config.resolve import ExperimentConfig
from harness.sweep.studies import VariantStudies, retried_numbers, slot_trials
from harness.stores import keys


@dataclass(frozen=True)
class StageCounts:
    budget: int
    complete: int
    pruned: int
    failed: int
    running: int
    requeued: int  # trials of dead workers, re-run under a new number
    values: tuple[float, ...]

    @property
    def finished(self) -> int:
        return self.complete + self.pruned + self.failed


def stage_counts(study: optuna.Study, budget: int) -> StageCounts:
    trials = study.get_trials(deepcopy=False)
    slots = slot_trials(trials)
    by_state = {state: [t for t in slots if t.state == state] for state in TrialState}
    return StageCounts(budget=budget, complete=len(by_state[TrialState.COMPLETE]),
                       pruned=len(by_state[TrialState.PRUNED]), failed=len(by_state[TrialState.FAIL]),
                       running=len(by_state[TrialState.RUNNING]), requeued=len(retried_numbers(trials)),
                       values=tuple(t.value for t in by_state[TrialState.COMPLETE]))


@dataclass(frozen=True)
class VariantStatus:
    variant: str
    search: StageCounts
    confirm: StageCounts
    best: float | None
    direction: str

    @property
    def usable(self) -> bool:
        """A complete run to compare: a confirmation run, or a search run where no confirmation is planned."""
        return (self.confirm.complete if self.confirm.budget else self.search.complete) > 0

    def line(self) -> str:
        s, c = self.search, self.confirm
        best = "-" if self.best is None else f"{self.best:.4g}"
        confirm = "-"
        if c.values:
            spread = statistics.stdev(c.values) if len(c.values) > 1 else 0.0
            confirm = f"{statistics.mean(c.values):.4g} ± {spread:.2g} (n={len(c.values)})"
        search = (f"search {s.finished}/{s.budget} (complete {s.complete}, pruned {s.pruned}, failed {s.failed}, "
                  f"re-queued {s.requeued})  best {best}") if s.budget else "no search (its own values)"
        return f"{self.variant:<16} {search}  confirm {c.finished}/{c.budget}: {confirm}"


def variant_status(exp: ExperimentConfig, studies: VariantStudies) -> VariantStatus:
    budget = int(studies.search.user_attrs.get(keys.BUDGET, 0))
    search = stage_counts(studies.search, budget)
    seeds = 0 if "skipped" in studies.confirm.user_attrs else exp.sweep.seeds
    best = None
    if search.values:
        pick = min if studies.search.direction == optuna.study.StudyDirection.MINIMIZE else max
        best = pick(search.values)
    direction = "minimize" if studies.search.direction == optuna.study.StudyDirection.MINIMIZE else "maximize"
    return VariantStatus(studies.variant, search, stage_counts(studies.confirm, seeds), best, direction)
