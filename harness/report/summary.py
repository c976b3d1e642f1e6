"""What each variant's MLflow parent run summarizes at the end of a sweep: the report's own numbers.

The runs table of MLflow can only sort and compare runs by what they hold. A parent run holds no
training curve of its own, so it gets the results table's row: per metric the mean, the sample
standard deviation, the 95% CI (clipped to the range the metric's registry entry declares: a
class_coverage interval never passes the number of classes) and the number of confirmation seeds,
named `summary/<metric>_<stat>` (`summary/fd_classifier_mean`), and the rank and convergence status
as tags. The `summary/` prefix puts them in a chart section of their own in MLflow's chart view,
apart from the training curves. They come from the same functions as the report's results table, so
the two never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from harness.report import tables
from harness.report.convergence import convergence_table
from harness.report.load import StoredSweep
from harness.report.tables import confirm_evals
from harness.stores import keys

# The results table's statistics, under the names a parent run's metrics carry.
STAT_NAMES = {"mean": "mean", "std": "sd", "ci_low": "ci_low", "ci_high": "ci_high", "n": "seeds"}
SECTION = "summary"  # MLflow's chart view makes a section of each prefix before a "/"


@dataclass(frozen=True)
class ParentSummary:
    """One variant's summary: finite metrics only (MLflow would store NaN, and sort it first)."""

    variant: str
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def parent_summaries(sweep: StoredSweep) -> list[ParentSummary]:
    """Per variant with a parent run: its metrics over confirmation seeds, its rank and convergence status."""
    results = tables.variant_results(sweep)
    _, direction = tables.objective_of(sweep)
    status = convergence_table(confirm_evals(sweep), direction).set_index("variant").status
    out = []
    for info in sweep.variants:
        row = results.loc[info.variant]
        metrics = {f"{SECTION}/{metric}_{STAT_NAMES[stat]}": float(row[f"{metric}_{stat}"])
                   for metric in tables.metric_names(sweep) for stat in STAT_NAMES}
        tags = {keys.CONVERGENCE: str(status.get(info.variant, "unknown")),
                keys.RANK: str(int(row["rank"])) if pd.notna(row["rank"]) else "-"}
        out.append(ParentSummary(info.variant, {k: v for k, v in metrics.items() if math.isfinite(v)}, tags))
    return out
