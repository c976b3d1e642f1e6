"""The ablation report: `python -m harness.report CONFIG` or `write_report(...)` at the end of a sweep.

Reads the stored results (the Optuna storage and MLflow, never by training) and writes
`reports/<name>/report.md` with its figures and CSV tables beside it.

May import `harness.tracking` (its read side) and everything below it, never the sweep.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from harness.config.resolve import ExperimentConfig
from harness.tracking import read as mlflow_runs
from harness.report import design_view, sections, tables, validity, validity_sections, visuals
from harness.report.as_ran import as_ran, differences_line
from harness.report.load import load_sweep, stored_records
from harness.report.sources import keep_better_report, poorer_line, write_sources
from harness.report.render import CSV_FLOAT, FORMATS, Block, write_document
from harness.report.sections import ReportInputs

__all__ = ["FORMATS", "build", "gather", "write_report"]


def gather(exp: ExperimentConfig, storage_url: str, tracking_uri: str,
           generated_at: datetime | None = None) -> ReportInputs:
    """Read both stores once (the tracking store may be unreadable: the report says so).

    `exp` is the config given; the inputs hold the experiment as it ran (harness.report.as_ran)."""
    ran = as_ran(exp, *stored_records(exp, storage_url))
    exp = ran.exp
    sweep = load_sweep(exp, storage_url)
    problem = mlflow_runs.tracking_problem(tracking_uri)
    runs = experiment_id = None
    if problem is None:
        try:
            experiment_id = mlflow_runs.experiment_id(tracking_uri, exp.name)
            runs = mlflow_runs.load_runs(tracking_uri, exp.name) if experiment_id else None
        except Exception as exc:  # noqa: BLE001 - a broken or foreign database must not stop the report
            problem = f"cannot read MLflow at {mlflow_runs.redact(tracking_uri)} ({type(exc).__name__})"
    return ReportInputs(exp, storage_url, tracking_uri, sweep, tables.variant_results(sweep), runs, problem,
                        experiment_id, generated_at or datetime.now(timezone.utc), ran)


def build(inputs: ReportInputs, out_dir: Path) -> list[Block]:
    """The report's blocks, in reading order; figures are written into `out_dir` on the way."""
    pairs = tables.pairwise(inputs.sweep, inputs.results)
    checks = validity.assess(inputs)
    scoped = bool(validity.not_converged(checks, tables.ranked_variants(inputs.results)))
    return [*sections.header(inputs), *sections.verdict(inputs, pairs, scoped),
            *validity.verdict_notes(inputs, checks), *sections.missing(inputs),
            # The design's sections (a named factor: its levels; two or more: the analysis; none for a
            # `variants:` list): the one call site.
            *design_view.design_sections(inputs, checks, out_dir),
            *sections.results_section(inputs), *sections.pairwise_section(pairs),
            *validity_sections.convergence_section(inputs, checks),
            *validity_sections.equal_time_section(inputs, checks, out_dir),
            *validity_sections.budget_section(inputs, checks, out_dir),
            *visuals.sensitivity_section(inputs, out_dir), *visuals.dynamics_section(inputs, out_dir),
            *visuals.samples_section(inputs, out_dir), *visuals.history_section(inputs, out_dir),
            *sections.failures_section(inputs), *sections.runs_section(inputs)]


def write_report(exp: ExperimentConfig, storage_url: str, tracking_uri: str, out_dir: Path | None = None,
                 fmt: str = "md", generated_at: datetime | None = None) -> Path:
    """Write report.<fmt> (md or html), its figures and CSVs into out_dir (default reports/<name>/).

    Returns the report's path. Raises UserError when the Optuna storage cannot be read; a missing
    or unreachable MLflow store only leaves the sections that need it empty, with a note.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt {fmt!r}; allowed: {', '.join(FORMATS)}")
    inputs = gather(exp, storage_url, tracking_uri, generated_at)  # first: no empty folder when it fails
    out_dir = Path(out_dir) if out_dir is not None else Path("reports") / exp.name
    keep_better_report(out_dir, fmt, inputs)
    for line in (differences_line(inputs.ran), poorer_line(inputs)):
        if line:
            print(f"warning: {line}", file=sys.stderr, flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    blocks = build(inputs, out_dir)
    inputs.sweep.trials.to_csv(out_dir / "trials.csv", index=False, lineterminator="\n", float_format=CSV_FLOAT)
    path = write_document(blocks, out_dir, fmt, f"GAN ablation report: {exp.name}")
    write_sources(out_dir, inputs)
    return path
