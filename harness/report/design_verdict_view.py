"""The verdict per factor of a factorial design: the best level by marginal mean, whether it may be
called (`harness.report.design_effects.factor_call`), and its scope from the report's validity checks
(`harness.report.validity.Validity`: convergence, equal training time, search budget).
docs/report-designs.md, "Verdict per factor".
"""

from __future__ import annotations

import math

import pandas as pd

from harness.report import budget, design as d, design_anova as a, design_effects as e, tables
from harness.report.design_analysis_view import method_name
from harness.report.render import Block, Bullets, Heading, Text
from harness.report.sections import ReportInputs
from harness.report.stats import ALPHA
from harness.report.validity import Validity, not_converged


def test_text(row: pd.Series, anova: a.Anova) -> str:
    """`ANOVA on the values: F(2, 18) = 12.3, p = 0.0004, partial η² = 0.58`."""
    return (f"{method_name(anova)}: F({tables.num(row.df)}, {tables.num(anova.residual_df)}) = {tables.num(row.F, 3)}, "
            f"p = {tables.num(row.p, 2)}, partial η² = {tables.num(row.partial_eta_sq, 2)}")


def level_text(row: pd.Series) -> str:
    """A level's marginal mean: `0.84 [0.8, 0.88] (n = 9 seeds, 3 cells)`."""
    ci = "" if not math.isfinite(row.ci_low) else f" [{tables.num(row.ci_low)}, {tables.num(row.ci_high)}]"
    return f"{tables.num(row['mean'])}{ci} (n = {row.n} seeds, {row.cells} cell{'' if row.cells == 1 else 's'})"


def claim_text(call: e.Call, anova: a.Anova, moving: list[str], others: str) -> str:
    """The call itself: best (at this budget where a compared cell had not converged), or why not."""
    if call.outcome == e.UNTESTED:
        return f"**Not tested**: {anova.reason}; the marginal means alone call nothing."
    test = test_text(call.test, anova)
    if call.outcome == e.TIED:
        return f"**No clear difference** between its levels ({test}; not below {ALPHA}): treat them as tied."
    if call.outcome == e.OVERLAP:
        return (f"The factor is significant ({test}), but the marginal intervals of {call.best} and {call.runner_up} "
                f"overlap (they hold the spread over {others} too), so **{call.best} is not called better than "
                f"{call.runner_up}**; the matrix compares them within each level of {others}.")
    if moving:
        return (f"The factor is significant ({test}) and the two intervals do not overlap: **{call.best} is best at "
                f"this budget**, averaged over {others}, since not every compared cell had converged.")
    return (f"The factor is significant ({test}) and the two intervals do not overlap: **{call.best} is best**, "
            f"averaged over {others}.")


def interaction_text(call: e.Call, anova: a.Anova, others: str) -> str:
    if call.interaction is None:
        return ""
    return (f"The interaction {call.interaction.effect} is significant ({test_text(call.interaction, anova)}): which "
            f"level of {call.factor} is best depends on {others}, so read the matrix and Robustness, not only this "
            "average.")


def equal_time_text(checks: Validity, design: d.Design, seeds: d.SeedFrame, call: e.Call) -> str:
    """Whether the best level at equal steps leads at equal training time too (validity's runs at T)."""
    at = d.with_levels(checks.at_time, design)
    if not math.isfinite(checks.seconds) or at.empty:
        return "No equal-time view: no confirmation run stored its training-time history."
    where = f"At equal training time (T = {checks.seconds:.3g} s, {seeds.objective} interpolated at T)"
    short = runs_short_of(at, seeds.frame)
    if short:  # a level's mean over the runs that reached T would stand for other cells than its mean at equal steps
        return (f"{where} the levels are not compared: not every finished run has a value at T ({', '.join(short)}), "
                "so a level's mean there would pool other cells than its mean at equal steps.")
    effects = e.main_effects(at, design, seeds.direction)
    rows = effects[(effects.factor == call.factor) & (effects.n > 0)].set_index("level")
    leader = rows.sort_values("mean", ascending=e.better_first(seeds.direction), kind="stable").index[0]
    if leader == call.best:
        return f"{where} {call.best} leads too: {tables.num(rows.loc[leader, 'mean'])} (n = {rows.loc[leader, 'n']})."
    best = (f"{tables.num(rows.loc[call.best, 'mean'])} (n = {rows.loc[call.best, 'n']})" if call.best in rows.index
            else "no value at T")
    return (f"{where} the views **disagree**: **{leader}** leads with {tables.num(rows.loc[leader, 'mean'])} (n = "
            f"{rows.loc[leader, 'n']}), {call.best} has {best}; which matters depends on whether steps or training "
            "time is the budget.")


def runs_short_of(at: pd.DataFrame, seeds: pd.DataFrame) -> list[str]:
    """Cells with fewer values at T than finished seeds: `vanilla.F (1 of 3)`, in the seed frame's order."""
    if seeds.empty:
        return []
    reached = at.groupby("cell").size()
    finished = seeds.groupby("cell", sort=False).size()
    return [f"{cell} ({int(reached.get(cell, 0))} of {n})" for cell, n in finished.items() if reached.get(cell, 0) < n]


def budget_text(inputs: ReportInputs, checks: Validity, compared: list[str], direction: str) -> str:
    """Where the compared cells' values came from: their own (no search), or a search, and whether it sufficed."""
    budgets = {info.variant: info.budget for info in inputs.sweep.variants
               if info.variant in compared and info.budget is not None}  # None: not started, nothing stored
    own = [cell for cell, b in budgets.items() if b == 0]
    if own and len(own) == len(budgets):
        return ("No search (`sweep.trials_per_variant: 0`, stored budget 0): each cell ran its own configured values, "
                "so the claim is about those values only, not about each level at its best settings.")
    searched = sorted({b for b in budgets.values() if b})
    if not searched:
        return ""
    rising, unclear = [], []
    for cell in (c for c in compared if budgets.get(c)):
        curve = checks.budget[checks.budget.variant == cell]
        state = budget.still_rising(curve, direction)
        rising += [cell] if state else []
        unclear += [f"{cell} (n = {len(curve)})"] if state is None else []
    parts = [f"Each cell's values are the best of its own search ({'/'.join(map(str, searched))} trials per cell)"]
    parts += [f"cells {', '.join(own)} ran their own values (no search)"] if own else []
    parts += [f"the search may be too small for {', '.join(rising)}: the expected best still moved by more than "
              f"{budget.RISING_FLOOR:.0%} with the last trial"] if rising else []
    parts += [f"too few complete search trials to judge {', '.join(unclear)}: it takes {budget.MIN_TRIALS}"
              ] if unclear else []
    return "; ".join(parts) + "."


def factor_verdict(inputs: ReportInputs, checks: Validity, design: d.Design, seeds: d.SeedFrame,
                   effects: pd.DataFrame, anova: a.Anova, factor: str) -> str:
    """One factor's verdict: the best level by marginal mean with its numbers, the call, and its scope."""
    call = e.factor_call(effects, anova, factor, seeds.direction)
    if call.outcome == e.NOTHING:
        return (f"**{factor}**: fewer than two of its levels have finished seeds (with a value: "
                f"{call.best or 'none'}); nothing to compare.")
    rows = effects[effects.factor == factor].set_index("level")
    index = design.factors.index(factor)
    compared = [cell for combo, cell in design.cells.items() if combo[index] in (call.best, call.runner_up)]
    others = " × ".join(f for f in design.factors if f != factor)
    moving = [f"{cell} {tables.status_phrase(checks.convergence.loc[cell])}"
              for cell in not_converged(checks, compared)]  # each compared cell not converged, and its numbers
    parts = [f"**{factor}**: **{call.best}** has the best marginal {seeds.objective} "
             f"({tables.better_text(seeds.direction)}), {level_text(rows.loc[call.best])}; the runner-up "
             f"**{call.runner_up}** {level_text(rows.loc[call.runner_up])}.", claim_text(call, anova, moving, others),
             interaction_text(call, anova, others),
             f"Not converged: {'; '.join(moving)}." if moving else "Every compared cell had converged.",
             equal_time_text(checks, design, seeds, call), budget_text(inputs, checks, compared, seeds.direction)]
    return " ".join(p for p in parts if p)


def verdict_section(inputs: ReportInputs, checks: Validity, design: d.Design, seeds: d.SeedFrame,
                    effects: pd.DataFrame, anova: a.Anova) -> list[Block]:
    text = (f"Per factor, the level with the best marginal mean, and what may be said of it: **best** only where "
            f"the factor's effect is significant (p < {ALPHA}, the analysis above) and the best level's interval is "
            "apart from the runner-up's; **at this budget** where a compared cell had not converged (Convergence); "
            "with the equal-time view and the search budget of the compared cells (the cells at the two levels).")
    items = tuple(factor_verdict(inputs, checks, design, seeds, effects, anova, f) for f in design.factors)
    return [Heading("Verdict per factor", 3), Text(text), Bullets(items)]
