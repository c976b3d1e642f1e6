"""The report's text and table sections: header, verdict, what is missing, results, comparisons,
failures and the MLflow runs behind the numbers. Each section returns blocks for the renderer."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from harness.config.resolve import ExperimentConfig
from harness.data import DATASETS, dataset_entry
from harness.metrics import METRICS
from harness.tracking import read as mlflow_runs
from harness.report import stats, tables
from harness.report.as_ran import AsRan
from harness.report.load import StoredSweep
from harness.report.render import Block, Bullets, Heading, Table, Text
from harness.core.strict import to_plain
from harness.stores.keys import CONFIRM
from harness.config.samplers import sampler_text, search_budget
from harness.stores.urls import redact

UNKNOWN = "unknown"


@dataclass(frozen=True)
class ReportInputs:
    """Everything read from the stores, once; sections only format it."""

    exp: ExperimentConfig
    storage_url: str
    tracking_uri: str
    sweep: StoredSweep
    results: pd.DataFrame  # tables.variant_results
    runs: pd.DataFrame | None  # MLflow runs; None when the tracking store cannot be read
    tracking_problem: str | None
    experiment_id: str | None
    generated_at: datetime
    ran: AsRan | None = None  # what the stores recorded of how the sweep ran; `exp` already holds it

    def run_cell(self, run_id: Any) -> str:
        """An MLflow run ID as the report shows it: a link to a tracking server, else the bare ID."""
        if not isinstance(run_id, str) or not run_id:
            return tables.DASH
        url = mlflow_runs.run_url(self.tracking_uri, self.experiment_id, run_id)
        return f"[{run_id}]({url})" if url else f"`{run_id}`"


def experiment_hash(exp: ExperimentConfig) -> str:
    """A short hash of the experiment's content; where its results are stored is not part of it."""
    plain = to_plain(exp)
    plain["sweep"]["storage"] = plain["tracking"]["uri"] = None
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()[:12]


def distinct(values: pd.Series) -> str:
    found = sorted({str(v) for v in values.dropna() if str(v)})
    return ", ".join(found) if found else UNKNOWN


def wall_time(trials: pd.DataFrame) -> str:
    finished = trials[trials.complete.notna()]
    if finished.empty:
        return "none finished yet"
    span = (finished.complete.max() - trials.start.min()).total_seconds()
    return f"{span:.0f} s, first trial start to last end ({finished.seconds.sum():.0f} s summed over trials)"


def counted(n: int, word: str) -> str:
    """`1 seed`, `3 seeds`."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def no_search_text(inputs: ReportInputs) -> str:
    """What a design without search ran, in numbers (docs/report.md, "A design without search")."""
    cells = len(inputs.sweep.variants)
    each = "its cell" if cells == 1 else f"each of its {cells} cells"
    return (f"The design ran no search (`sweep.trials_per_variant: 0`): {each} trained its own values with "
            f"{counted(inputs.exp.sweep.seeds, 'seed')}")


def budget_text(inputs: ReportInputs) -> str:
    sweep = inputs.exp.sweep
    if not inputs.sweep.searched:
        return (f"no search (`sweep.trials_per_variant: 0`) + {counted(sweep.seeds, 'seed')}/cell, each running "
                f"the cell's own values; {steps_text(inputs)}")
    budgets = sorted({info.budget for info in inputs.sweep.variants if info.budget is not None})
    trials = "/".join(map(str, budgets)) if budgets else str(sweep.trials_per_variant or "grid")
    sampler = sampler_text(inputs.exp, budgets[-1] if budgets else search_budget(inputs.exp))
    return (f"{trials} search trials/variant ({sampler}; {sweep.pruner} pruner) + {sweep.seeds} "
            f"confirmation seeds; {steps_text(inputs)}")


def steps_text(inputs: ReportInputs) -> str:
    """Generator steps per run as recorded; per variant where a variant's own train.steps differed."""
    steps = inputs.ran.steps if inputs.ran is not None else {}
    if len(set(steps.values())) > 1:
        return "generator steps/run: " + ", ".join(f"{variant} {n}" for variant, n in steps.items())
    return f"{inputs.exp.train.steps} generator steps/run"


def measurement_text(inputs: ReportInputs) -> str:
    """When the runs evaluated, sampled and logged, as recorded (what convergence and equal time read)."""
    train = inputs.exp.train
    return (f"evaluated every {train.eval_every} generator steps, sample grids every {train.sample_every}, "
            f"losses logged every {train.log_every}")


def given_text(inputs: ReportInputs) -> str:
    """How the config given to the report relates to what the stores say ran (docs/report.md, "What ran")."""
    ran = inputs.ran
    if ran is None or ran.recorded_hash is None and not ran.unrecorded:
        return "nothing stored yet to compare with"
    parts = ["differs from what ran, which this report describes: " + "; ".join(ran.differences)
             if ran.differences else "matches what ran"]
    if ran.unrecorded:
        parts.append(f"the stores hold no {' or '.join(ran.unrecorded)} (a sweep older than these records), so "
                     "those are described from the given config")
    return "; ".join(parts)


def config_text(inputs: ReportInputs) -> str:
    """The experiment's name and a hash of what ran (of the stored records; of the given config without them)."""
    recorded = inputs.ran.recorded_hash if inputs.ran is not None else None
    return f"`{inputs.exp.name}` (hash `{recorded or experiment_hash(inputs.exp)}`)"


def device_text(inputs: ReportInputs) -> str:
    recorded = inputs.sweep.trials.device
    if recorded.notna().any():
        return distinct(recorded)
    if inputs.runs is not None and inputs.runs.device.notna().any():
        return distinct(inputs.runs.device)
    return f"{UNKNOWN} (not recorded by the sweep; config train.device={inputs.exp.train.device})"


def classifier_text(inputs: ReportInputs) -> str:
    """The evaluation classifier's held-out accuracy and the threshold it had to pass, as the runs logged them."""
    if "labels" not in dataset_entry(inputs.exp.data).properties:
        return f"none ({inputs.exp.data.name} has no labels; its metrics need no classifier)"
    runs = inputs.runs
    if runs is None or "classifier_test_accuracy" not in runs or runs.classifier_test_accuracy.isna().all():
        return f"{UNKNOWN} (not logged by the runs)"
    logged = runs.dropna(subset=["classifier_test_accuracy"])
    pairs = sorted({(float(a), float(m)) for a, m in zip(logged.classifier_test_accuracy, logged.classifier_min_accuracy)})
    return "; ".join(f"{a:.1%} held-out accuracy (threshold {m:.1%})" for a, m in pairs)


def trial_runs(inputs: ReportInputs) -> pd.DataFrame | None:
    runs = inputs.runs
    return None if runs is None else runs[runs.role == "trial"]


def models_text(inputs: ReportInputs) -> str:
    """Each variant's architecture and parameter counts, as its runs logged them (model.*_params)."""
    runs = trial_runs(inputs)
    if runs is None or runs.generator_params.isna().all():
        return f"{UNKNOWN} (not logged by the runs)"
    sizes = {}
    for variant, group in runs.dropna(subset=["generator_params"]).groupby("variant", sort=False):
        sizes[variant] = "; ".join(sorted({f"{a} (G {int(g):,}, D {int(d):,} parameters)" for a, g, d in
                                           zip(group.arch, group.generator_params, group.critic_params)}))
    if len(set(sizes.values())) == 1:
        return f"{next(iter(sizes.values()))}, every variant"
    return "; ".join(f"{variant}: {text}" for variant, text in sizes.items())


def protocols_text(inputs: ReportInputs) -> str | None:
    """How the metrics that carry a protocol (fid, is, ...) were computed: N, reference split, detector."""
    runs = trial_runs(inputs)
    if runs is None or runs.protocols.isna().all():
        return None
    lines = sorted({line for text in runs.protocols.dropna() for line in str(text).splitlines()})
    return "; ".join(lines)


def shape_text(sizes: Iterable[tuple[str, int]]) -> str:
    """A design's factors with their numbers of levels: `recipe (3) × setting (6)`."""
    return " × ".join(f"{factor} ({levels})" for factor, levels in sizes)


def variants_text(exp: ExperimentConfig) -> str:
    """The cells by name; a design of several factors first states them: `recipe (3) × setting (6) = 18 cells`."""
    names = ", ".join(v.name for v in exp.variants)
    if len(exp.factors) < 2:
        return names
    crossed = math.prod(len(f.levels) for f in exp.factors)
    count = counted(crossed, "cell") + ("" if crossed == len(exp.variants) else f", {len(exp.variants)} of them "
                                                                                  "in this design")
    return f"{shape_text((f.name, len(f.levels)) for f in exp.factors)} = {count}: {names}"


def header(inputs: ReportInputs) -> list[Block]:
    exp = inputs.exp
    objective, direction = tables.objective_of(inputs.sweep)
    commits = UNKNOWN
    if inputs.runs is not None:
        commits = distinct(inputs.runs[inputs.runs.role == "trial"].git_commit.str.slice(0, 12))
    data = f"{exp.data.name} ({DATASETS.get(exp.data.name).kind}" + (
        f", {exp.data.image_size}×{exp.data.image_size})" if exp.data.image_size else ")")
    fields = {"Config": config_text(inputs), "Given config": given_text(inputs), "Dataset": data,
              "Evaluation classifier": classifier_text(inputs), "Objective": f"{objective} ({direction})",
              "Variants": variants_text(exp),
              "Models": models_text(inputs), "Budget": budget_text(inputs), "Measurement": measurement_text(inputs),
              "Optuna storage": f"`{redact(inputs.storage_url)}`",
              "MLflow tracking": f"`{redact(inputs.tracking_uri)}`",
              "Generated": inputs.generated_at.strftime("%Y-%m-%d %H:%M %Z").strip(),
              "Git commit (of the runs)": commits, "Device": device_text(inputs),
              "Total wall time": wall_time(inputs.sweep.trials)}
    protocols = protocols_text(inputs)
    if protocols:
        fields["Metric protocols"] = protocols
    table = pd.DataFrame({"Field": list(fields), "Value": list(fields.values())})
    return [Heading(f"GAN ablation report: {exp.name}", 1), Table(table)]


def described(results: pd.DataFrame, variant: str, objective: str) -> str:
    row = results.loc[variant]
    if row[objective + "_n"] == 1:  # "0.82 ± – (95% CI –, 1 seeds)" would read as a number gone missing
        return f"{tables.num(row[objective + '_mean'])} (1 seed: no spread and no CI from one value)"
    ci = tables.interval(results[objective + "_ci_low"], results[objective + "_ci_high"])[variant]
    return (f"{tables.num(row[objective + '_mean'])} ± {tables.num(row[objective + '_std'], 2)} "
            f"({stats.CONFIDENCE:.0%} CI {ci}, {row[objective + '_n']} seeds)")


def interval_text(pair: pd.Series) -> str:
    """The bootstrap interval of a difference, or why there is none."""
    if min(pair.n_a, pair.n_b) < stats.MIN_SEEDS:
        return f"no bootstrap CI: {stats.too_few_text(pair.n_a, pair.n_b)}"
    return f"{stats.CONFIDENCE:.0%} bootstrap CI [{tables.num(pair.ci_low)}, {tables.num(pair.ci_high)}]"


def verdict(inputs: ReportInputs, pairs: pd.DataFrame, scoped: bool = False) -> list[Block]:
    """Which variant wins at equal generator steps, by how much, and how sure we are, in a few sentences.

    A call is made "at this budget" only when its pair's `scope` (tables.pairwise) names a side that
    had not converged; `scoped` makes every call so for pairs that carry no scope."""
    results = inputs.results
    objective, direction = tables.objective_of(inputs.sweep)
    ranked = tables.ranked_variants(results)
    if not ranked:
        return [Heading("Verdict"), Text("No confirmation run has finished yet, so there is no verdict.")]
    first = ranked[0]
    text = (f"At equal generator steps ({inputs.exp.train.steps} per run), **{first}** ranks first on {objective} "
            f"({tables.better_text(direction)}): {described(results, first, objective)}.")
    if len(ranked) == 1:
        return [Heading("Verdict"), Text(text + " It is the only variant with finished confirmation runs, so "
                                                "there is nothing to compare it with yet.")]
    second = ranked[1]
    pair = pairs[(pairs.a == first) & (pairs.b == second)].iloc[0]
    runner_up = results.loc[second, objective + "_mean"]
    relative = f" ({abs(pair['diff']) / abs(runner_up):.1%} of the runner-up's mean)" if runner_up else ""
    text += (f" The runner-up **{second}** scores {described(results, second, objective)}; the difference is "
             f"{tables.num(pair['diff'])}{relative}, {interval_text(pair)}. {sureness(pair, first, second, scoped)}")
    others = [against(row, scoped) for row in pairs[(pairs.a == first) & (pairs.b != second)].itertuples()]
    if others:
        text += f" Against the others: {'; '.join(others)}."
    return [Heading("Verdict"), Text(text)]


def scope_of(pair: Any, scoped: bool) -> str:
    """Why the pair's call holds at this budget only ('' where it does not), from the pair's own scope."""
    scope = getattr(pair, "scope", None)
    if isinstance(scope, str):
        return scope
    return "a ranked variant had not converged" if scoped else ""


def sureness(pair: pd.Series, first: str, second: str, scoped: bool = False) -> str:
    welch = f"Welch's t-test p = {tables.num(pair.welch_p, 2)} (Holm-adjusted {tables.num(pair.welch_p_holm, 2)})"
    if pair.conclusion.startswith("too few seeds"):
        return (f"With {pair.n_a} and {pair.n_b} finished seeds that is **too few seeds to tell** (the report "
                f"calls a difference only with at least {stats.MIN_SEEDS} seeds per variant).")
    if pair.conclusion.startswith(f"{first} better"):
        scope = scope_of(pair, scoped)
        if scope:
            return (f"{welch} and the interval excludes zero: **{first} is better at this budget** ({scope}), a "
                    "call the scope below limits.")
        return f"{welch} and the interval excludes zero: **{first} is better** with reasonable confidence."
    return f"{welch}: **no clear difference** between {first} and {second} with these seeds; treat them as tied."


def against(pair: Any, scoped: bool = False) -> str:
    """One clause of the verdict: the winner against a lower-ranked variant."""
    if pair.conclusion.startswith("too few seeds"):
        return f"too few seeds to tell against {pair.b} ({stats.seeds_text(pair.n_a, pair.n_b)})"
    if " better" in pair.conclusion:
        scope = scope_of(pair, scoped)
        budget, why = (" at this budget", f"; {scope}") if scope else ("", "")
        return (f"better{budget} than {pair.b} by {tables.num(abs(pair.diff))} (Holm-adjusted Welch p = "
                f"{tables.num(pair.welch_p_holm, 2)}{why})")
    return f"no clear difference from {pair.b} (Holm-adjusted Welch p = {tables.num(pair.welch_p_holm, 2)})"


def missing(inputs: ReportInputs) -> list[Block]:
    items = [f"{variant}: {row.status}" for variant, row in inputs.results.iterrows() if row.status != "complete"]
    if inputs.tracking_problem:
        items.append(f"MLflow: {inputs.tracking_problem}; training curves, samples and run links are missing")
    elif inputs.experiment_id is None:
        items.append(f"MLflow: no experiment named {inputs.exp.name!r}; training curves and samples are missing")
    if not items:
        return []
    return [Heading("What is missing"), Text("These results are partial; the report shows what is stored."),
            Bullets(tuple(items))]


def directions_text(metrics: list[str]) -> str:
    """`lower is better for w1, fid; higher is better for modes`: the minimized metrics first."""
    parts = []
    for direction in ("minimize", "maximize"):
        named = [m for m in metrics if METRICS.get(m).direction == direction]
        parts += [f"{tables.better_text(direction)} for {', '.join(named)}"] if named else []
    return "; ".join(parts)


def range_text(name: str, bounds: tuple[float, float]) -> str | None:
    """`w1 ≥ 0`, `modes in [0, 8]`; None where the metric is unbounded."""
    low, high = (tables.num(b) for b in bounds)
    if math.isfinite(bounds[0]) and math.isfinite(bounds[1]):
        return f"{name} in [{low}, {high}]"
    if math.isfinite(bounds[0]) or math.isfinite(bounds[1]):
        return f"{name} ≥ {low}" if math.isfinite(bounds[0]) else f"{name} ≤ {high}"
    return None


def ranges_text(inputs: ReportInputs) -> str:
    """What the intervals were clipped to, from the metrics' registry entries and the data that ran."""
    ranges = [text for name, bounds in tables.metric_ranges(inputs.sweep).items()
              if (text := range_text(name, bounds)) is not None]
    if not ranges:
        return "No reported metric declares a range, so no interval is clipped."
    return (f"Each interval is **clipped** to the range its metric can take ({'; '.join(ranges)}), as declared "
            "in the metric's registry entry.")


def results_section(inputs: ReportInputs) -> list[Block]:
    metrics = tables.metric_names(inputs.sweep)
    level = f"{stats.CONFIDENCE:.0%}"
    searched = inputs.sweep.searched
    source = ("One row per variant, from its **confirmation runs**: the search's best hyperparameters re-trained "
              "with fresh seeds." if searched else
              f"One row per cell, from its seeds. {no_search_text(inputs)}, so each row measures the cell's stated "
              "values, not the best values a search might find for it.")
    counts = "Trial counts are of the search; median" if searched else "Median"
    text = (f"{source} Cells are mean ± sample standard deviation over seeds, with a **{level} confidence "
            "interval of the mean** from Student's t (n − 1 degrees of freedom, so none from one seed); other "
            f"metrics show `mean ± std [{level} CI]`. {ranges_text(inputs)} Bold marks the best value per column "
            f"({directions_text(metrics)}); rank is by {metrics[0]}. {counts} time is wall time per finished trial.")
    return [Heading("Results"), Text(text),
            Table(tables.display_results(inputs.results, inputs.sweep), "results.csv", inputs.results, index=True)]


def smallest_p_text(pairs: pd.DataFrame) -> str:
    """The exact Mann-Whitney test's smallest possible p for each pair of seed counts that ran."""
    sizes = sorted({(max(int(a), int(b)), min(int(a), int(b))) for a, b in zip(pairs.n_a, pairs.n_b) if a and b},
                   reverse=True)
    found = [f"{tables.num(stats.smallest_mann_whitney_p(a, b), 2)} with {a} and {b} seeds" for a, b in sizes]
    return f"its smallest possible p is {', '.join(found)}" if found else "no pair has seeds on both sides"


def pairwise_section(pairs: pd.DataFrame) -> list[Block]:
    text = (f"Every pair of variants with confirmation runs (A ranked above B). Mean A − B with a **percentile "
            f"bootstrap {stats.CONFIDENCE:.0%} CI** (`scipy.stats.bootstrap`, {stats.BOOTSTRAP_RESAMPLES:,} "
            f"resamples of each variant's seeds, RNG seed {stats.BOOTSTRAP_SEED}; none with fewer than "
            f"{stats.MIN_SEEDS} seeds on a side, where it is little more than the range of the differences); "
            f"**Welch's t-test** (unequal variances, two-sided) with Holm's correction over the {len(pairs)} "
            f"pair(s), and the **Mann-Whitney U test** (two-sided, exact; {smallest_p_text(pairs)}). A pair is "
            f"called only when both sides have at least {stats.MIN_SEEDS} seeds, the CI excludes zero and the "
            f"Holm-adjusted Welch p < {stats.ALPHA}; the call holds **at this budget** only when a side had not "
            "converged (Scope, and Convergence below).")
    if pairs.empty:
        return [Heading("Pairwise comparison"), Text("Fewer than two variants have confirmation runs: nothing to "
                                                     "compare yet.")]
    return [Heading("Pairwise comparison"), Text(text), Table(tables.display_pairwise(pairs), "pairwise.csv", pairs)]


def failures_section(inputs: ReportInputs) -> list[Block]:
    frame = tables.failures(inputs.sweep)
    text = ("Trials that did not complete, with the reason stored by the sweep: pruned (the pruner stopped a "
            "poor trial), diverged (a non-finite loss or objective), error, or killed (its worker died; the "
            "trial was re-queued under a new number).")
    if frame.empty:
        return [Heading("Failed, diverged and pruned trials"), Text("None: every finished trial completed.")]
    display = tables.display_failures(frame, inputs.run_cell)
    return [Heading("Failed, diverged and pruned trials"), Text(text), Table(display, "failures.csv", frame)]


def runs_section(inputs: ReportInputs) -> list[Block]:
    parents = [f"{info.variant}: parent run {inputs.run_cell(info.parent_run_id)}" for info in inputs.sweep.variants
               if info.parent_run_id]
    search_rows = ("sensitivity and history from the `search` rows" if inputs.sweep.searched
                   else "and there are no `search` rows: the design ran no search")
    text = (f"MLflow experiment `{inputs.exp.name}` at `{redact(inputs.tracking_uri)}`. The results table and the "
            f"comparisons come from the `{CONFIRM}` rows, {search_rows}; every trial with its knobs and final "
            "metrics is in [trials.csv](trials.csv).")
    if inputs.tracking_uri.startswith("sqlite:///"):
        text += f" Browse them with `mlflow ui --backend-store-uri {redact(inputs.tracking_uri)}`."
    blocks: list[Block] = [Heading("Runs behind the numbers"), Text(text)]
    blocks += [Bullets(tuple(parents))] if parents else []
    frame = tables.runs(inputs.sweep)
    return blocks + [Table(tables.display_runs(frame, inputs.run_cell), "runs.csv", frame)]
