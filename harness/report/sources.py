"""Never a poorer report over a better one without saying so.

A report made while the tracking store cannot be read (a server that is down, a wrong
`--tracking-uri`) has no training curves, samples or run links. Written over a report that had
them, it would silently replace the better one. So every report leaves `sources.json` beside it,
saying whether it read the tracking store, and a report that could not read it refuses (one line,
exit 2, nothing written) to replace one that did: start the server, or write it elsewhere with
`--out`. Where there is nothing better to keep, the poorer report is written and a warning says why.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.core.errors import UserError
from harness.report.sections import ReportInputs
from harness.stores.urls import redact

SOURCES = "sources.json"


def read_tracking(inputs: ReportInputs) -> bool:
    """Whether the report could read its experiment's runs from the tracking store."""
    return inputs.runs is not None


def tracking_gap(inputs: ReportInputs) -> str:
    return inputs.tracking_problem or f"no MLflow experiment named {inputs.exp.name!r} at {redact(inputs.tracking_uri)}"


def keep_better_report(out_dir: Path, fmt: str, inputs: ReportInputs) -> None:
    """Refuse to write when this report lacks the tracking store and the one in `out_dir` had it."""
    if read_tracking(inputs) or not (out_dir / f"report.{fmt}").is_file():
        return
    try:
        previous = json.loads((out_dir / SOURCES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # a report from before sources.json: nothing says it was better
    if previous.get("tracking_read") is True:
        raise UserError(f"tracking.uri: {tracking_gap(inputs)}; kept the report in {out_dir}, which has the runs' "
                        "curves, samples and links: start the tracking server and run again, or write this poorer "
                        "report elsewhere with --out")


def poorer_line(inputs: ReportInputs) -> str | None:
    """The warning of a report written without the tracking store; None when it read it."""
    if read_tracking(inputs):
        return None
    return f"{tracking_gap(inputs)}: this report has no training curves, samples or run links"


def write_sources(out_dir: Path, inputs: ReportInputs) -> None:
    """Where the report read from, for the next report's comparison (no time stamp: same stores, same file)."""
    sources = {"storage": redact(inputs.storage_url), "tracking": redact(inputs.tracking_uri),
               "tracking_read": read_tracking(inputs)}
    (out_dir / SOURCES).write_text(json.dumps(sources, indent=2) + "\n", encoding="utf-8")
