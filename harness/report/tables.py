"""The report's tables as DataFrames: numeric ones (also written as CSV) and their display forms.

Display frames hold short strings (4 significant digits, `mean ± std`, `[low, high]`), the best
value of each metric in bold (`**`, respecting the metric's direction); the renderer lays them out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from harness.config.recipe import read_recipe
from harness.core.schema import DataConfig
from harness.core.strict import replace
from harness.data import DATASETS
from harness.metrics import METRICS
from harness.report import convergence
from harness.report.load import METRIC, PARAM, StoredSweep, VariantInfo
from harness.report.stats import (CONFIDENCE, MIN_SEEDS, compare, conclusion, holm, param_importances,
                                  smallest_mann_whitney_p, summarize, too_few_text)
from harness.stores import keys
from harness.stores.keys import CONFIRM, SEARCH, SOURCE_TRIAL

DASH = "–"
OWN_VALUES = "its own (no search)"  # a cell's values where its seeds record no knob (a design without search)
FAILED_OUTCOMES = ("error", "failed", "killed", "interrupted")
PENDING_OUTCOMES = ("running", "waiting")
STATS = ("n", "mean", "std", "ci_low", "ci_high")
MIN_IMPORTANCE_TRIALS = 2  # PED-ANOVA compares the best trials with the rest: one trial has no rest


def num(value: Any, digits: int = 4) -> str:
    """A number with `digits` significant digits; a dash for missing values."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)) or value is pd.NA:
        return DASH
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def better_text(direction: str) -> str:
    """How a reader compares values of a metric with this direction: `lower is better`, `higher is better`."""
    return f"{'lower' if direction == 'minimize' else 'higher'} is better"


def objective_of(sweep: StoredSweep) -> tuple[str, str]:
    """(objective, direction): resolved from the config, the same for every variant of one dataset."""
    return sweep.variants[0].objective, sweep.variants[0].direction


def metric_names(sweep: StoredSweep) -> list[str]:
    """The objective first, then every other registered metric the trials recorded, in registry order."""
    objective, _ = objective_of(sweep)
    present = {c.removeprefix(METRIC) for c in sweep.trials.columns if c.startswith(METRIC)}
    return [objective] + [m for m in METRICS.names() if m in present and m != objective]


def current_confirm_rows(sweep: StoredSweep, info: VariantInfo) -> pd.DataFrame:
    """Confirmation runs, whatever their outcome, of the variant's current best search trial; every one
    where the study names no source trial (a design without search: the seeds ran the cell's own values)."""
    t = sweep.trials
    rows = t[(t.variant == info.variant) & (t.stage == CONFIRM)]
    source = None if info.confirm is None else info.confirm.user_attrs.get(SOURCE_TRIAL)
    return rows if source is None else rows[rows.source_trial == source]


def confirm_trials(sweep: StoredSweep, info: VariantInfo) -> pd.DataFrame:
    """Completed confirmation runs of the variant's current best search trial."""
    rows = current_confirm_rows(sweep, info)
    return rows[rows.outcome == "complete"]


def best_trial(sweep: StoredSweep, info: VariantInfo) -> pd.Series | None:
    """The variant's best run: its best confirmation run, else its best search trial, else None."""
    t = sweep.trials
    for rows in (confirm_trials(sweep, info),
                 t[(t.variant == info.variant) & (t.stage == SEARCH) & (t.outcome == "complete")]):
        if len(rows):
            ordered = rows.sort_values(["value", "number"], ascending=[info.direction == "minimize", True])
            return ordered.iloc[0]
    return None


def best_params(sweep: StoredSweep, info: VariantInfo) -> dict[str, Any]:
    """The knobs the confirmation runs re-measure (or, before those exist, the best search trial's)."""
    row = best_trial(sweep, info)
    if row is None:
        return {}
    return {c.removeprefix(PARAM): row[c] for c in sweep.trials.columns if c.startswith(PARAM) and pd.notna(row[c])}


def stage_counts(sweep: StoredSweep, variant: str, stage: str) -> dict[str, int]:
    """Trials by outcome; a failure that was re-queued (re-run under a new number) is not a failure."""
    rows = sweep.trials[(sweep.trials.variant == variant) & (sweep.trials.stage == stage)]
    outcomes, requeued = rows.outcome, rows.retried_as.notna()
    return {"complete": int((outcomes == "complete").sum()), "pruned": int((outcomes == "pruned").sum()),
            "diverged": int((outcomes == "diverged").sum()),
            "failed": int((outcomes.isin(FAILED_OUTCOMES) & ~requeued).sum()), "requeued": int(requeued.sum()),
            "pending": int(outcomes.isin(PENDING_OUTCOMES).sum())}


def counts_text(row: Any) -> str:
    extras = [f"{row.search_requeued} re-queued" if row.search_requeued else "",
              f"{row.search_pending} pending" if row.search_pending else ""]
    extra = ", ".join(e for e in extras if e)
    text = f"{row.search_complete} / {row.search_pruned} / {row.search_diverged} / {row.search_failed}"
    return text + (f" (+{extra})" if extra else "")


LOST_OUTCOMES = ("diverged", "error")  # a killed or interrupted seed is re-queued, not lost


def lost_confirm_seeds(sweep: StoredSweep, info: VariantInfo) -> int:
    """Confirmation runs of the current best that diverged or failed: the statistics leave them out,
    which flatters an unstable recipe unless the table says so."""
    rows = current_confirm_rows(sweep, info)
    return int(rows.outcome.isin(LOST_OUTCOMES).sum())


def status(sweep: StoredSweep, info: VariantInfo) -> str:
    if info.search is None:
        return "not started"
    if info.confirm_skipped:
        return f"confirmation skipped: {info.confirm_skipped}"
    pending = sum(stage_counts(sweep, info.variant, stage)["pending"] for stage in (SEARCH, CONFIRM))
    done, lost = len(confirm_trials(sweep, info)), lost_confirm_seeds(sweep, info)
    note = f"; {lost} seed(s) diverged or failed, left out of the statistics" if lost else ""
    if pending:
        return f"in progress: {pending} trial(s) pending, {done}/{info.seeds} seeds done{note}"
    return ("complete" if done >= info.seeds else f"{done}/{info.seeds} seeds done") + note


def stored_data(sweep: StoredSweep) -> DataConfig | None:
    """The data settings the sweep ran with, from the recipe its search studies recorded.

    None where none did, and for a dataset that describes itself from its files (a folder's classes):
    the recipe leaves out `data.root`, and a folder found elsewhere would give a wrong bound, so its
    data-dependent metric bounds stay open."""
    for info in sweep.variants:
        recipe = read_recipe(keys.text_attr(info.search, keys.RECIPE))
        if recipe:
            try:
                data = replace(DataConfig(), {k.removeprefix("data."): v for k, v in recipe.items()
                                              if k.startswith("data.")})
            except TypeError:  # a data key this harness no longer has: describe no bound from it
                return None
            return data if data.name in DATASETS and DATASETS.get(data.name).describe is None else None
    return None


def metric_ranges(sweep: StoredSweep) -> dict[str, tuple[float, float]]:
    """Each reported metric's (lower, upper) as its registry entry declares it for the data that ran."""
    data = stored_data(sweep)
    return {metric: METRICS.get(metric).value_range(data) for metric in metric_names(sweep)}


def variant_results(sweep: StoredSweep) -> pd.DataFrame:
    """One row per variant (config order): per metric n/mean/std/95% CI over seeds (clipped to the
    metric's range), rank, counts, timing."""
    rows = []
    ranges = metric_ranges(sweep)
    for info in sweep.variants:
        confirmed = confirm_trials(sweep, info)
        row: dict[str, Any] = {"variant": info.variant}
        for metric in metric_names(sweep):
            column = "value" if metric == info.objective else METRIC + metric
            values = confirmed[column].dropna().tolist() if column in confirmed else []
            summary = summarize(values, ranges[metric])
            row.update({f"{metric}_{s}": getattr(summary, s) for s in STATS})
        finished = sweep.trials[(sweep.trials.variant == info.variant) & sweep.trials.seconds.notna()
                                & ~sweep.trials.outcome.isin(PENDING_OUTCOMES)]
        row["median_trial_seconds"] = float(finished.seconds.median()) if len(finished) else math.nan
        row.update({f"search_{k}": v for k, v in stage_counts(sweep, info.variant, SEARCH).items()})
        row.update({f"confirm_{k}": v for k, v in stage_counts(sweep, info.variant, CONFIRM).items()})
        row["best_params"] = params_text(best_params(sweep, info))
        row["status"] = status(sweep, info)
        rows.append(row)
    frame = pd.DataFrame(rows).set_index("variant")
    objective, direction = objective_of(sweep)
    ranks = frame[f"{objective}_mean"].rank(method="min", ascending=direction == "minimize")
    frame.insert(0, "rank", ranks.astype("Int64"))
    return frame


def params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={num(v, 3)}" for k, v in sorted(params.items())) or DASH


def bold_best(cells: pd.Series, means: pd.Series, direction: str) -> pd.Series:
    """Bold the cells whose mean is the best (ties all bold); nothing when every variant scores the same."""
    if means.notna().sum() == 0:
        return cells
    best = means.min() if direction == "minimize" else means.max()
    if (means[means.notna()] == best).all() and means.notna().sum() > 1:
        return cells  # a column where nobody is better marks nobody
    return cells.where(means != best, "**" + cells + "**")


def mean_std(frame: pd.DataFrame, metric: str) -> pd.Series:
    return mean_std_cells(frame[f"{metric}_mean"], frame[f"{metric}_std"])


def mean_std_cells(mean: pd.Series, std: pd.Series) -> pd.Series:
    """`mean ± std` per row; the mean alone where the std is undefined (one seed)."""
    return pd.Series([num(m) if not math.isfinite(s) else f"{num(m)} ± {num(s, 2)}" for m, s in zip(mean, std)],
                     index=mean.index)


def interval(low: pd.Series, high: pd.Series) -> pd.Series:
    return pd.Series([DASH if not math.isfinite(lo) else f"[{num(lo)}, {num(hi)}]" for lo, hi in zip(low, high)],
                     index=low.index)


def display_results(results: pd.DataFrame, sweep: StoredSweep) -> pd.DataFrame:
    """The main table as a reader sees it."""
    objective, direction = objective_of(sweep)
    out = pd.DataFrame({"Rank": results["rank"].map(num), "Variant": results.index})
    out[f"{objective} (mean ± std)"] = bold_best(mean_std(results, objective), results[f"{objective}_mean"],
                                                 direction)
    out[f"{CONFIDENCE:.0%} CI"] = interval(results[f"{objective}_ci_low"], results[f"{objective}_ci_high"])
    out["Seeds"] = results[f"{objective}_n"].map(str)
    for metric in metric_names(sweep)[1:]:
        cells = mean_std(results, metric) + " " + interval(results[f"{metric}_ci_low"], results[f"{metric}_ci_high"])
        cells = cells.str.replace(f" {DASH}", "", regex=False)
        out[metric] = bold_best(cells, results[f"{metric}_mean"], METRICS.get(metric).direction)
    if sweep.searched:
        out["Best hyperparameters"] = results["best_params"]
        out["Search: complete / pruned / diverged / failed"] = [counts_text(r) for r in results.itertuples()]
    else:  # no search: the seeds ran the cell's own values, and no search count is missing
        out["Values"] = results["best_params"].replace(DASH, OWN_VALUES)
    out["Median s / trial"] = results["median_trial_seconds"].map(lambda s: num(s, 3))
    out["Status"] = results["status"]
    return out.sort_values("Rank", key=lambda r: pd.to_numeric(r, errors="coerce"), kind="stable",
                           ignore_index=True)


def ranked_variants(results: pd.DataFrame) -> list[str]:
    ranked = results[results["rank"].notna()].sort_values("rank", kind="stable")
    return list(ranked.index)


def confirm_evals(sweep: StoredSweep) -> dict[str, pd.DataFrame]:
    """Per variant, the evaluation histories of its current completed confirmation runs."""
    evals, out = sweep.evals, {}
    for info in sweep.variants:
        numbers = set(confirm_trials(sweep, info).number.astype(int))
        out[info.variant] = evals[(evals.variant == info.variant) & (evals.stage == CONFIRM)
                                  & evals.number.isin(numbers)]
    return out


def pairwise(sweep: StoredSweep, results: pd.DataFrame) -> pd.DataFrame:
    """Every pair of variants with confirmation runs, better-ranked first: difference, CI, tests, and
    the scope of the call where a side had not converged (harness.report.convergence)."""
    _, direction = objective_of(sweep)
    values = {info.variant: confirm_trials(sweep, info).value.tolist() for info in sweep.variants}
    table = convergence.convergence_table(confirm_evals(sweep), direction).set_index("variant")
    why = {name: status_phrase(row) for name, row in table.iterrows()}
    return compare_ranked(values, ranked_variants(results), direction, table.status.to_dict(), why)


def status_phrase(row: pd.Series) -> str:
    """A variant's convergence in a few words with its numbers: `still improving: late gain 0.333 ± 0 >
    threshold 0.0361`, `convergence unknown: too few seeds (n = 2)`."""
    if row.status == convergence.IMPROVING:
        return (f"still improving: late gain {num(row.improvement, 3)} ± {num(row.improvement_se, 2)} > threshold "
                f"{num(row.threshold, 3)}")
    if row.status == convergence.CONVERGED:
        return "converged"
    return f"convergence unknown: {str(row.reason).split(': ')[0]}"


STATUS_WORDS = {convergence.IMPROVING: "still improving", convergence.UNKNOWN: "convergence unknown"}


def scope_text(a: str, b: str, status: dict[str, str] | None, why: dict[str, str] | None = None) -> str:
    """Why a call between a and b holds at this budget only: each side that had not converged ('' if none)."""
    if status is None:
        return ""
    words = {**{name: STATUS_WORDS.get(s, "convergence unknown") for name, s in status.items()}, **(why or {})}
    return "; ".join(f"{name} {words.get(name, 'convergence unknown')}"
                     for name in (a, b) if status.get(name) != convergence.CONVERGED)


def compare_ranked(values: dict[str, list[float]], ranked: list[str], direction: str,
                   status: dict[str, str] | None = None, why: dict[str, str] | None = None) -> pd.DataFrame:
    """Every pair of the ranked variants, better-ranked first, compared on `values` (Holm over the pairs).

    `status`: each variant's convergence status; a call whose either side is not `converged` is made
    "at this budget" and its `scope` says why (in `why`'s words where given). None: no convergence
    scope (the equal-time view)."""
    pairs = [(a, b) for i, a in enumerate(ranked) for b in ranked[i + 1:]]
    comparisons = [compare(values[a], values[b]) for a, b in pairs]
    adjusted = holm([c.welch_p for c in comparisons])
    rows = []
    for (a, b), c, p in zip(pairs, comparisons, adjusted):
        scope = scope_text(a, b, status, why)
        rows.append({"a": a, "b": b, **vars(c), "welch_p_holm": p,
                     "mann_whitney_min_p": smallest_mann_whitney_p(c.n_a, c.n_b),
                     "conclusion": conclusion(c, p, direction, a, b, scoped=bool(scope)), "scope": scope})
    columns = ["a", "b", "n_a", "n_b", "diff", "ci_low", "ci_high", "welch_p", "welch_p_holm", "mann_whitney_p",
               "mann_whitney_min_p", "conclusion", "scope"]
    return pd.DataFrame(rows, columns=columns)


def p_value(p: float) -> str:
    return num(p, 2)


def bootstrap_cells(frame: pd.DataFrame) -> pd.Series:
    """The bootstrap interval, or why there is none: fewer than MIN_SEEDS seeds on a side."""
    shown = interval(frame.ci_low, frame.ci_high)
    few = (frame.n_a < MIN_SEEDS) | (frame.n_b < MIN_SEEDS)
    return shown.where(~few, [too_few_text(a, b) for a, b in zip(frame.n_a, frame.n_b)])


def display_pairwise(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"A": frame.a, "B": frame.b,
                        "Seeds (A, B)": [f"{a}, {b}" for a, b in zip(frame.n_a, frame.n_b)],
                        "Mean A − B": frame["diff"].map(num),
                        f"{CONFIDENCE:.0%} bootstrap CI": bootstrap_cells(frame),
                        "Welch p": frame.welch_p.map(p_value), "Welch p (Holm)": frame.welch_p_holm.map(p_value),
                        "Mann-Whitney p (smallest possible)": [
                            f"{p_value(p)} ({p_value(least)})" for p, least in
                            zip(frame.mann_whitney_p, frame.mann_whitney_min_p)],
                        "Conclusion": frame.conclusion})
    if "scope" in frame and frame.scope.astype(bool).any():
        out["Scope"] = frame.scope.where(frame.scope.astype(bool), DASH)
    return out


def importances(sweep: StoredSweep) -> tuple[pd.DataFrame, list[str]]:
    """Knob x variant importances of the search trials (NaN: the knob does not apply), and notes."""
    columns: dict[str, dict[str, float]] = {}
    notes = []
    for info in sweep.variants:
        complete = stage_counts(sweep, info.variant, SEARCH)["complete"] if info.search else 0
        if not info.distributions:
            notes.append(f"{info.variant}: no knob searched")
        elif complete < MIN_IMPORTANCE_TRIALS:
            notes.append(f"{info.variant}: {complete} complete search trial(s); importances need at least "
                         f"{MIN_IMPORTANCE_TRIALS}")
        else:
            try:
                columns[info.variant] = param_importances(info.search)
            except Exception as exc:  # noqa: BLE001 - Optuna refuses degenerate studies in several ways
                notes.append(f"{info.variant}: Optuna could not compute importances ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''})")
    knobs = sorted({k for info in sweep.variants for k in info.distributions})
    frame = pd.DataFrame(columns, index=pd.Index(knobs, name="knob"), dtype="float64")
    return frame, notes


def display_importances(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.map(lambda v: num(v, 2)).reset_index()
    return out.rename(columns={"knob": "Knob"})


def failures(sweep: StoredSweep) -> pd.DataFrame:
    """Trials that did not complete (pruned, diverged, errors, dead workers), with their reasons."""
    t = sweep.trials
    rows = t[~t.outcome.isin(("complete", *PENDING_OUTCOMES))]
    return rows[["variant", "stage", "number", "outcome", "reason", "retried_as", "mlflow_run_id"]].reset_index(
        drop=True)


def display_failures(frame: pd.DataFrame, run_cell: Callable[[Any], str]) -> pd.DataFrame:
    return pd.DataFrame({"Variant": frame.variant, "Stage": frame.stage, "Trial": frame.number.map(num),
                         "Outcome": frame.outcome, "Reason": frame.reason.fillna(DASH),
                         "Re-queued as": frame.retried_as.map(num), "MLflow run": frame.mlflow_run_id.map(run_cell)})


def runs(sweep: StoredSweep) -> pd.DataFrame:
    """Every trial with an MLflow run: where each number of the report comes from."""
    t = sweep.trials[sweep.trials.mlflow_run_id.notna()]
    return t[["variant", "stage", "number", "seed", "outcome", "value", "mlflow_run_id"]].reset_index(drop=True)


def display_runs(frame: pd.DataFrame, run_cell: Callable[[Any], str]) -> pd.DataFrame:
    return pd.DataFrame({"Variant": frame.variant, "Stage": frame.stage, "Trial": frame.number.map(num),
                         "Seed": frame.seed.map(num), "Outcome": frame.outcome, "Objective": frame.value.map(num),
                         "MLflow run": frame.mlflow_run_id.map(run_cell)})
