"""Progress of a running sweep, fed by polling the Optuna storage: bars on a terminal, lines in a log.

Polling the storage (rather than hooking the workers) shows every worker's progress, including
other machines', and works the same for in-process and spawned workers. When stdout is a terminal
each variant gets a bar; otherwise (a file, `tee`, `nohup`, a scheduler's log) every finished run
gets a line (harness.sweep.progress_log), since a redrawn bar leaves nothing readable in a file.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from tqdm import tqdm

from harness.config.resolve import ExperimentConfig
from harness.sweep.progress_log import RunLog
from harness.sweep.status import variant_status
from harness.sweep.studies import VariantStudies, make_storage, open_studies


class Bars:
    """One tqdm bar per variant: runs finished of its budget, and counts by outcome."""

    def __init__(self, exp: ExperimentConfig) -> None:
        self.exp = exp
        self.bars = {spec.name: tqdm(desc=f"{spec.name:<16}", total=0, position=i, unit="run", disable=None,
                                     dynamic_ncols=True, leave=True) for i, spec in enumerate(exp.variants)}

    def update(self, all_studies: list[VariantStudies]) -> None:
        for studies in all_studies:
            status = variant_status(self.exp, studies)
            bar = self.bars[status.variant]
            bar.total = status.search.budget + status.confirm.budget
            bar.n = status.search.finished + status.confirm.finished
            best = "-" if status.best is None else f"{status.best:.4g}"
            bar.set_postfix_str(f"done {status.search.complete + status.confirm.complete} pruned "
                                f"{status.search.pruned + status.confirm.pruned} failed "
                                f"{status.search.failed + status.confirm.failed} best {best}", refresh=False)
            bar.refresh()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


class ProgressMonitor:
    def __init__(self, exp: ExperimentConfig, storage_url: str, interval_s: float = 2.0,
                 out: TextIO | None = None) -> None:
        self.exp, self.storage_url, self.interval_s = exp, storage_url, interval_s
        self.out = out or sys.stdout
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True, name="sweep-progress")

    def __enter__(self) -> "ProgressMonitor":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(timeout=10)

    def run(self) -> None:
        """Poll until stopped. A storage that fails is skipped quietly until it answers again: the workers'
        retries already say so, once per attempt, and a display must not add tracebacks of its own."""
        view = Bars(self.exp) if self.out.isatty() else RunLog(self.exp, self.out)
        all_studies = None
        try:
            while True:
                all_studies = self.poll(view, all_studies)
                if self.stop_event.wait(self.interval_s):
                    break
            self.poll(view, all_studies)  # final state
        finally:
            view.close()

    def poll(self, view: "Bars | RunLog", all_studies: list | None) -> list | None:
        """Update the view; the studies, opened on the first poll that reaches the storage (None until then)."""
        try:
            if all_studies is None:
                storage = make_storage(self.storage_url, self.exp)
                all_studies = [open_studies(self.exp, storage, spec.name) for spec in self.exp.variants]
            view.update(all_studies)
        except Exception:  # noqa: BLE001 - a lost or busy storage: the next poll tries again
            pass
        return all_studies
