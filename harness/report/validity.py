"""Would the verdict survive a bigger budget? Convergence, equal training time, and the search budget.

`assess` reads the stored evaluation histories once; the sections format the result, and
`verdict_notes` scopes the verdict: a ranking of variants still improving holds at this budget
only, a winner at equal steps may lose at equal training time, and a search whose expected best
was still rising may not have found a variant's good settings. The rules: docs/validity.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
import pandas as pd

from harness.report import budget, convergence, equal_time, tables
from harness.report.render import Block, Text
from harness.report.sections import ReportInputs, no_search_text
from harness.report.stats import MIN_SEEDS, summarize
from harness.report.tables import confirm_evals
from harness.stores.keys import SEARCH

DOCS = "docs/validity.md"


@dataclass(frozen=True)
class Validity:
    steps: int  # generator steps per run, from the config
    convergence: pd.DataFrame  # convergence.csv, indexed by variant
    seconds: float  # T, the common training time (NaN: no confirmation history)
    at_time: pd.DataFrame  # equal_time.runs_at: every confirmation run at T
    time_results: pd.DataFrame  # per variant at T: n, mean, std, ci_low, ci_high, step, rank
    time_pairs: pd.DataFrame  # tables.compare_ranked on the values at T
    curves: dict[str, pd.DataFrame]  # equal_time.mean_curve per variant
    budget: pd.DataFrame  # variant, k, expected_best, sd, trials
    evaluations: dict[str, pd.DataFrame]  # per variant, every confirmation evaluation (train_seconds, value, ...)


def time_summary(at_time: pd.DataFrame, histories: dict[str, pd.DataFrame], ranked: list[str],
                 direction: str, bounds: tuple[float, float]) -> pd.DataFrame:
    rows = []
    for variant in ranked:
        runs = at_time[at_time.variant == variant]
        s = summarize(runs.value.tolist(), bounds)
        rows.append({"variant": variant, "n": s.n, "mean": s.mean, "std": s.std, "ci_low": s.ci_low,
                     "ci_high": s.ci_high, "step": float(runs.step.mean()) if len(runs) else math.nan,
                     "runs": len(runs), "speed_spread": equal_time.speed_spread(histories[variant])})
    frame = pd.DataFrame(rows, columns=["variant", "n", "mean", "std", "ci_low", "ci_high", "step", "runs",
                                        "speed_spread"])
    frame = frame.set_index("variant")
    frame.insert(0, "rank", frame["mean"].rank(method="min", ascending=direction == "minimize").astype("Int64"))
    return frame


def budget_frame(inputs: ReportInputs, direction: str) -> pd.DataFrame:
    t = inputs.sweep.trials
    frames = []
    for info in inputs.sweep.variants:
        values = t[(t.variant == info.variant) & (t.stage == SEARCH) & (t.outcome == "complete")].value.tolist()
        frames.append(budget.budget_curve(values, direction).assign(variant=info.variant, trials=len(values)))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    frame = frame.reindex(columns=["variant", "k", "expected_best", "sd", "trials"])
    return frame.astype({"k": "int64", "expected_best": "float64", "sd": "float64", "trials": "int64"})


def assess(inputs: ReportInputs) -> Validity:
    """Every number the validity sections and the verdict's scope need, read once."""
    objective, direction = tables.objective_of(inputs.sweep)
    histories = confirm_evals(inputs.sweep)
    ranked = tables.ranked_variants(inputs.results)
    compared = pd.concat([histories[v] for v in ranked]) if ranked else inputs.sweep.evals.iloc[0:0]
    seconds = equal_time.common_time(compared)
    at_time = equal_time.runs_at(compared, seconds)
    time_results = time_summary(at_time, histories, ranked, direction,
                                tables.metric_ranges(inputs.sweep)[objective])
    values = {v: at_time[at_time.variant == v].value.tolist() for v in ranked}
    time_ranked = tables.ranked_variants(time_results.dropna(subset=["mean"]))
    return Validity(inputs.exp.train.steps,
                    convergence.convergence_table(histories, direction).set_index("variant"), seconds, at_time,
                    time_results, tables.compare_ranked(values, time_ranked, direction),
                    {v: equal_time.mean_curve(histories[v]) for v in ranked}, budget_frame(inputs, direction),
                    {v: histories[v] for v in ranked})


def not_converged(v: Validity, ranked: list[str]) -> list[str]:
    return [name for name in ranked if name in v.convergence.index
            and v.convergence.loc[name, "status"] != convergence.CONVERGED]


def names_text(names: list[str]) -> str:
    bold = [f"**{n}**" for n in names]
    return bold[0] if len(bold) == 1 else f"{', '.join(bold[:-1])} and {bold[-1]}"


def convergence_note(v: Validity, ranked: list[str], experiment: str) -> str:
    moving = not_converged(v, ranked)
    if not moving:
        return (f"**Convergence:** every ranked variant had converged by the rule in `{DOCS}` (each seed's trend "
                f"over the last {convergence.WINDOW_FRACTION:.0%} of training, with its one-sided "
                f"{1 - convergence.ALPHA:.0%} bounds within ± its threshold, from at least {convergence.MIN_SEEDS} "
                f"seeds), so the ranking at {v.steps} generator steps is not an artifact of stopping early.")
    parts = []
    for name in moving:
        row = v.convergence.loc[name]
        if row.status == convergence.IMPROVING:
            parts.append(f"**{name}** is still improving (its late gain over steps {tables.num(row.from_step, 4)}–"
                         f"{tables.num(row.final_step, 4)} was {tables.num(row.improvement, 3)} ± "
                         f"{tables.num(row.improvement_se, 2)}, one-sided p = {tables.num(row.p_improving, 2)}, more "
                         f"than its threshold {tables.num(row.threshold, 3)})")
    unknown = v.convergence.loc[[n for n in moving if v.convergence.loc[n, "status"] != convergence.IMPROVING]]
    for reason, rows in unknown.groupby("reason", sort=False):
        verb = "is" if len(rows) == 1 else "are"
        parts.append(f"whether {names_text(list(rows.index))} {verb} still improving cannot be told ({reason})")
    return (f"**Scope:** {'; '.join(parts)}. Every call involving {'it' if len(moving) == 1 else 'them'} "
            f"therefore holds at {v.steps} generator steps only and a longer run may change it; try "
            f"{longer_run(v, experiment)} (see Convergence).")


def seeds_note(inputs: ReportInputs, ranked: list[str]) -> str | None:
    """What it would take to call a difference where a ranked variant has fewer than MIN_SEEDS finished seeds."""
    objective, _ = tables.objective_of(inputs.sweep)
    counts = inputs.results[f"{objective}_n"]
    short = [name for name in ranked if counts[name] < MIN_SEEDS]
    if not short or len(ranked) < 2:
        return None
    have = ", ".join(f"**{name}** has {counts[name]}" for name in short)
    asked = min(inputs.sweep.info(name).seeds for name in short)
    action = (f"run the sweep with `--set sweep.seeds={MIN_SEEDS}`, which adds the missing confirmation seeds"
              if asked < MIN_SEEDS else f"let the {asked} seeds the sweep asked for finish (re-run the sweep to "
                                        "resume it)")
    return (f"**Seeds:** {have} finished seed(s): too few for a bootstrap interval, a call or a `converged`. "
            f"It takes {MIN_SEEDS} seeds per variant: {action}.")


def longer_run(v: Validity, experiment: str) -> str:
    """The overrides of the suggested longer sweep: more steps, under a new name, because a study
    holds one recipe (a resumed sweep refuses changed steps; harness.sweep.recipe_guard)."""
    suggested = convergence.BUDGET_FACTOR * v.steps
    return f"`--set train.steps={suggested} --set name={experiment}-steps{suggested}`"


def time_note(v: Validity, ranked: list[str], objective: str) -> str:
    led = v.time_results[v.time_results["n"] > 0].sort_values("rank", kind="stable")
    if not math.isfinite(v.seconds) or led.empty:
        return ("**Equal training time:** no comparison, because no confirmation run stored its training-time "
                "history.")
    where = (f"At equal training time (T = {v.seconds:.3g} s of pure training, the most that every confirmation "
             f"run reached; {objective} interpolated at T)")
    short = [n for n in ranked if v.time_results.loc[n, "n"] < min(v.time_results.loc[n, "runs"], MIN_SEEDS)]
    if short:
        return (f"{where} the variants cannot all be compared: {names_text(short)} had too few runs with an "
                f"evaluation by T (a first evaluation later than the shortest run's end); evaluate more often "
                f"(`train.eval_every`) to compare at equal training time. The verdict above is at equal steps only.")
    caution = speed_caution(v, ranked)
    leader = led.index[0]
    if leader == ranked[0]:
        return (f"{where} **{leader}** leads too ({tables.num(led.loc[leader, 'mean'])}): the equal-step and "
                f"equal-time views agree.{caution}")
    pair = v.time_pairs[(v.time_pairs.a == leader) & (v.time_pairs.b == ranked[0])]
    called = f" Their difference at T: {pair.conclusion.iloc[0]}." if len(pair) else ""
    return (f"{where} the views **disagree**: **{leader}** leads ({tables.num(led.loc[leader, 'mean'])} at about "
            f"{tables.num(led.loc[leader, 'step'], 3)} steps), while **{ranked[0]}**, first at equal steps, scores "
            f"{tables.num(led.loc[ranked[0], 'mean'])} at about {tables.num(led.loc[ranked[0], 'step'], 3)} steps."
            f"{called} Which view matters depends on whether steps or training time is the budget you have."
            f"{caution}")


def speed_caution(v: Validity, ranked: list[str]) -> str:
    """A warning when one variant's seeds trained at visibly different speeds (a busy machine)."""
    spread = v.time_results.speed_spread.reindex(ranked)
    uneven = spread[spread > equal_time.SPEED_SPREAD_LIMIT]
    if uneven.empty:
        return ""
    worst = uneven.idxmax()
    return (f" **Caution:** the seeds of {names_text(list(uneven.index))} trained at speeds differing by up to "
            f"{uneven.max():.0%} (coefficient of variation of seconds per step, {worst}), though each does the same "
            "work per step: the machine's load changed during the sweep, so this equal-time comparison is "
            "unreliable. Re-run on an otherwise idle machine to compare at equal time.")


def budget_note(v: Validity, ranked: list[str], direction: str) -> str:
    rising, flat, unclear = [], [], []
    for name in ranked:
        curve = v.budget[v.budget.variant == name]
        state = budget.still_rising(curve, direction)
        (rising if state else unclear if state is None else flat).append(name)
    parts = []
    if rising:
        parts.append(f"the search budget may be too small for {', '.join(rising)}: its expected best still moved "
                     f"by more than {budget.RISING_FLOOR:.0%} with the last search trial, so more "
                     "`sweep.trials_per_variant` may find better settings")
    if unclear:
        counts = ", ".join(f"{name} (n = {int((v.budget.variant == name).sum())})" for name in unclear)
        parts.append(f"too few complete search trials to judge the search of {counts}: it takes "
                     f"{budget.MIN_TRIALS} per variant")
    if not parts:
        return ("**Search budget:** every ranked variant's expected best had flattened by its last search trial "
                "(see Search budget).")
    if flat:
        parts.append(f"the expected best of {', '.join(flat)} had flattened")
    return f"**Search budget:** {'; '.join(parts)} (see Search budget)."


def verdict_notes(inputs: ReportInputs, v: Validity) -> list[Block]:
    """The verdict's scope: convergence, the equal-time view, and the search budget."""
    ranked = tables.ranked_variants(inputs.results)
    if not ranked:
        return []
    objective, direction = tables.objective_of(inputs.sweep)
    seeds = seeds_note(inputs, ranked)
    search = budget_note(v, ranked, direction) if inputs.sweep.searched else no_search_note(inputs)
    return [Text(convergence_note(v, ranked, inputs.exp.name)), *([Text(seeds)] if seeds else []),
            Text(time_note(v, ranked, objective)), Text(search)]


def no_search_note(inputs: ReportInputs) -> str:
    """The search-budget question where none was planned: nothing to judge, and what the claim is about."""
    return (f"**Search budget:** no search: the claim is about the stated values. {no_search_text(inputs)}; "
            "another value of a knob may rank the cells differently.")
