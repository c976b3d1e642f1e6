"""The report's sections for the validity checks: Convergence, Equal training time, Search budget."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.report import budget, convergence, tables, validity_figures
from harness.report.render import Block, Heading, Image, Table, Text
from harness.report.sections import ReportInputs, no_search_text
from harness.report.stats import CONFIDENCE
from harness.report.validity import DOCS, Validity
from harness.report.visuals import colors, variant_names


def convergence_section(inputs: ReportInputs, v: Validity) -> list[Block]:
    c = v.convergence
    bound = f"{1 - convergence.ALPHA:.0%}"
    text = (f"Was each variant still improving when training stopped? Each confirmation run's evaluations in the "
            f"last {convergence.WINDOW_FRACTION:.0%} of its training get a least-squares line; the run's **late "
            f"gain** is the line's change over that window, positive = better, and the variant's is the mean over "
            f"its seeds, ± its standard error (between seeds; the fit's own with one seed). The **threshold** is "
            f"the larger of the between-seed standard deviation of the final values and "
            f"{convergence.RELATIVE_FLOOR:.0%} of their mean. `improving` (still improving): the gain is "
            f"significantly above 0 (one-sided t-test, p < {convergence.ALPHA}) and above the threshold; "
            f"`converged`: at least {convergence.MIN_SEEDS} seeds, and the gain's one-sided {bound} bounds lie "
            f"within ± threshold; `unknown` otherwise (fewer than {convergence.MIN_WINDOW_EVALUATIONS} evaluations "
            f"in a window, fewer than {convergence.MIN_SEEDS} seeds, getting worse, or too noisy), with the reason. "
            f"Rule and tests: `{DOCS}`.")
    display = pd.DataFrame({
        "Variant": c.index, "Status": c.status, "Seeds": c.seeds.map(tables.num),
        "Evaluations in window": c.evaluations.map(tables.num),
        "Window (steps)": [tables.DASH if pd.isna(a) else f"{tables.num(a, 4)}–{tables.num(b, 4)}"
                           for a, b in zip(c.from_step, c.final_step)],
        "Mean final": c.value_final.map(tables.num),
        "Late gain ± SE": [tables.DASH if pd.isna(g) else f"{tables.num(g, 3)} ± {tables.num(se, 2)}"
                           for g, se in zip(c.improvement, c.improvement_se)],
        f"{bound} bounds": tables.interval(c.improvement_low, c.improvement_high),
        "p (improving)": c.p_improving.map(lambda x: tables.num(x, 2)),
        "Threshold": c.threshold.map(lambda x: tables.num(x, 3)),
        "Try steps": c.suggested_steps.map(lambda x: tables.num(x, 6)), "Why": c.reason})
    return [Heading("Convergence"), Text(text), Table(display, "convergence.csv", c, index=True)]


def equal_time_section(inputs: ReportInputs, v: Validity, out_dir: Path) -> list[Block]:
    objective, _ = tables.objective_of(inputs.sweep)
    blocks: list[Block] = [Heading("Equal training time")]
    if v.time_results.empty or v.time_results["n"].sum() == 0:
        return blocks + [Text("No confirmation run stored its evaluation history with training times yet.")]
    validity_figures.time_curves(v.curves, objective, v.seconds, colors(inputs), out_dir / "time_curve.png",
                                 v.evaluations)
    r = v.time_results
    display = pd.DataFrame({"Rank": r["rank"].map(tables.num), "Variant": r.index,
                            f"{objective} at T (mean ± std)": tables.mean_std_cells(r["mean"], r["std"]),
                            f"{CONFIDENCE:.0%} CI": tables.interval(r.ci_low, r.ci_high), "Runs with a value at T":
                            [f"{n} of {runs}" for n, runs in zip(r["n"], r.runs)],
                            "Generator steps at T (mean)": r.step.map(lambda s: tables.num(s, 4))})
    text = (f"The same confirmation runs compared at **equal pure training time** (evaluation and logging "
            f"excluded) instead of equal generator steps. T = {v.seconds:.4g} s is the largest time every run "
            f"reached (the shortest run's total); each run's {objective} at T is linearly interpolated between its two "
            "evaluations around T, never extrapolated (a run whose first evaluation came after T has no value). "
            "Times are wall-clock on the machine that trained: compare them only within one sweep on one machine. "
            "In the figure, lines are the mean over seeds on a common time grid (band ± one sd), points the real "
            f"evaluations; seeds per variant: {seeds_text(v)}.")
    blocks += [Text(text), Image("time_curve.png", f"{objective} against training seconds"),
               Table(display.sort_values("Rank", key=lambda x: pd.to_numeric(x, errors="coerce"), kind="stable",
                                         ignore_index=True), "equal_time.csv", r, index=True)]
    if not v.time_pairs.empty:
        blocks.append(Table(tables.display_pairwise(v.time_pairs), "equal_time_pairwise.csv", v.time_pairs))
    return blocks


def budget_section(inputs: ReportInputs, v: Validity, out_dir: Path) -> list[Block]:
    objective, direction = tables.objective_of(inputs.sweep)
    blocks: list[Block] = [Heading("Search budget")]
    if not inputs.sweep.searched:
        return blocks + [Text(f"No search: the claim is about the stated values. {no_search_text(inputs)}, so "
                              "there is no search budget to judge (`sweep.trials_per_variant` above 0 searches "
                              "`sweep.space` first).")]
    if v.budget.empty:
        return blocks + [Text("No complete search trial is stored yet.")]
    validity_figures.budget_curves(v.budget, variant_names(inputs), objective, colors(inputs),
                                   out_dir / "budget_curve.png")
    rows = []
    for name in variant_names(inputs):
        curve = v.budget[v.budget.variant == name]
        rising = budget.still_rising(curve, direction)
        rows.append({"Variant": name, "Complete search trials": str(len(curve)),
                     "Expected best, 1 trial": tables.num(curve.expected_best.iloc[0]) if len(curve) else tables.DASH,
                     "Expected best, all": tables.num(curve.expected_best.iloc[-1]) if len(curve) else tables.DASH,
                     "Gain of the last trial": tables.num(budget.last_gain(curve, direction), 3),
                     "Still rising": (f"too few trials (n = {len(curve)})" if rising is None
                                      else "yes" if rising else "no")})
    text = (f"Expected best {objective} after k search trials (Dodge et al. 2019, \"Show Your Work\"): the "
            "expectation of the best of k trials drawn from the variant's complete search trials, computed exactly "
            "(no resampling); the band is ± one standard deviation of that best. Pruned, diverged and failed trials "
            f"are left out. A curve still moving at the last trial (gain above {budget.RISING_FLOOR:.0%} of the "
            f"value) says more trials would likely find better settings; with fewer than {budget.MIN_TRIALS} "
            f"complete trials nothing is said. Rule and tests: `{DOCS}`.")
    return blocks + [Text(text), Image("budget_curve.png", "expected best objective against search trials"),
                     Table(pd.DataFrame(rows), "budget_curve.csv", v.budget)]


def seeds_text(v: Validity) -> str:
    return ", ".join(f"{variant} {evals.number.nunique()}" for variant, evals in v.evaluations.items())
