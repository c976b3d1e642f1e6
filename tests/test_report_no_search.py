"""A design without search (`sweep.trials_per_variant: 0`): the report reads each cell's seeds, and never
reports a search that was not planned as missing.

Stores of 1, 2, 3 and 10 seeds per cell (tests.report_support.build_no_search_stores: recipe (2) x setting
(2), 5 evaluations per run); every number checked here is computed in this file from the stored values,
with numpy and scipy, not by the report's own functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from harness.report import write_report
from harness.report.load import load_sweep
from harness.report.summary import parent_summaries
from tests.report_support import (GENERATED_AT, NO_SEARCH_CELLS, NO_SEARCH_IMPROVING, NO_SEARCH_SECONDS_PER_STEP,
                                  NO_SEARCH_STEPS, no_search_curve, no_search_stores, no_search_value, normalize)

SEEDS = (1, 2, 3, 10)
# What a report of a sweep that searched says, or what it says when a search is missing: each is false here.
FALSE_SENTENCES = ("No search trial is stored yet", "No complete search trial is stored yet",
                   "too few complete search trials", "search trials/variant", "Search: complete",
                   "the search's best hyperparameters", "sensitivity and history from the `search` rows",
                   "Trial counts are of the search", "expected best", "confirmation seeds;", "no finished confirmation",
                   "too few evaluations")


@dataclass(frozen=True)
class Made:
    seeds: int
    text: str  # report.md, run IDs, folder and table padding masked

    def section(self, title: str) -> str:
        """One `## title` section's text, up to the next one."""
        start = self.text.index(f"\n## {title}\n")
        end = self.text.find("\n## ", start + 1)
        return self.text[start:end if end > 0 else None]

    def row(self, title: str, cell: str) -> str:
        """The line of `cell` in section `title`'s table (first or second column: after a rank or not)."""
        return next(line for line in self.section(title).splitlines() if f"| {cell} |" in line[:40])


@pytest.fixture(scope="module", params=SEEDS, ids=[f"{n}-seeds" for n in SEEDS])
def made(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Made:
    exp, folder = no_search_stores(tmp_path_factory, request.param)
    path = write_report(exp, exp.sweep.storage, exp.tracking.uri, folder / f"report-{request.param}",
                        generated_at=GENERATED_AT)
    return Made(request.param, normalize(path.read_text(encoding="utf-8"), folder))


def values(cell: str, seeds: int) -> np.ndarray:
    return np.array([no_search_value(cell, seed) for seed in range(1, seeds + 1)])


def summary_texts(x: np.ndarray) -> tuple[str, str]:
    """(`mean ± sd`, `[low, high]`) as the report prints them: 4 significant digits, the sd 2; the mean
    alone and a dash from one value."""
    mean = float(x.mean())
    if x.size == 1:
        return f"{mean:.4g}", "–"
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.975, x.size - 1)) * sd / math.sqrt(x.size)
    return f"{mean:.4g} ± {sd:.2g}", f"[{mean - half:.4g}, {mean + half:.4g}]"


def test_no_false_sentence_about_a_search_that_was_not_planned(made: Made) -> None:
    for sentence in FALSE_SENTENCES:
        assert sentence not in made.text, sentence


def test_the_report_says_no_search_ran_and_what_the_seeds_ran(made: Made) -> None:
    seeds = "1 seed" if made.seeds == 1 else f"{made.seeds} seeds"
    said = (f"The design ran no search (`sweep.trials_per_variant: 0`): each of its 4 cells trained its own "
            f"values with {seeds}")
    assert said in made.section("Results") and said in made.section("Sensitivity")
    assert said in made.section("Optimization history")
    assert (f"| Budget | no search (`sweep.trials_per_variant: 0`) + {seeds}/cell, each running the cell's own "
            "values; 50 generator steps/run |") in made.text
    assert "| Variants | recipe (2) × setting (2) = 4 cells: vanilla.A, vanilla.B, wgan_gp.A, wgan_gp.B |" in made.text
    assert "**Search budget:** no search: the claim is about the stated values." in made.section("Verdict")
    assert made.section("Search budget").split("\n\n")[1].startswith(
        "No search: the claim is about the stated values.")
    assert "there are no `search` rows: the design ran no search" in made.section("Runs behind the numbers")


def test_results_are_the_seeds_mean_and_interval_by_n(made: Made) -> None:
    for cell in NO_SEARCH_CELLS:
        mean_sd, interval = summary_texts(values(cell, made.seeds))
        row = made.row("Results", cell)
        assert mean_sd in row and f"| {interval} | {made.seeds} |" in row and "| its own (no search) |" in row
        assert row.endswith("| complete |")


def test_the_verdict_describes_the_best_cell_and_says_why_few_seeds_test_nothing(made: Made) -> None:
    best = min(NO_SEARCH_CELLS, key=lambda cell: values(cell, made.seeds).mean())
    mean_sd, interval = summary_texts(values(best, made.seeds))
    verdict = made.section("Verdict")
    if made.seeds == 1:
        assert f"**{best}** ranks first on w1 (lower is better): {mean_sd} (1 seed: no spread and no CI" in verdict
    else:
        assert f"**{best}** ranks first on w1 (lower is better): {mean_sd} (95% CI {interval}, {made.seeds} seeds)" \
            in verdict
    if made.seeds < 3:
        assert "**too few seeds to tell**" in verdict
        assert ("It takes 3 seeds per variant: run the sweep with `--set sweep.seeds=3`, which adds the missing "
                "confirmation seeds.") in verdict
        assert f"too few seeds to tell (n = {made.seeds}; need ≥ 3 each)" in made.section("Pairwise comparison")


def test_welch_tests_the_seeds_from_two_seeds_on(made: Made) -> None:
    row = next(line for line in made.section("Pairwise comparison").splitlines()
               if line.startswith("| wgan_gp.B | wgan_gp.A |"))
    a, b = values("wgan_gp.B", made.seeds), values("wgan_gp.A", made.seeds)
    assert f"| {made.seeds}, {made.seeds} | {a.mean() - b.mean():.4g} |" in row
    if made.seeds >= 2:
        assert f"| {stats.ttest_ind(a, b, equal_var=False).pvalue:.2g} |" in row


def test_convergence_is_judged_from_the_seeds_five_evaluations(made: Made) -> None:
    window = [s for s in NO_SEARCH_STEPS if s >= NO_SEARCH_STEPS[-1] / 2]  # the last half: 30, 40, 50
    for cell in NO_SEARCH_CELLS:
        curve = no_search_curve(cell, no_search_value(cell, 1))
        slope = stats.linregress(window, curve[-len(window):]).slope
        gain = -slope * (window[-1] - window[0])  # a falling w1 is a gain
        row = made.row("Convergence", cell)
        assert f"| {made.seeds} | {len(window)} | 30–50 |" in row and f"| {gain:.3g} ± 0 |" in row
        if cell == NO_SEARCH_IMPROVING:
            assert "| improving |" in row
        elif made.seeds >= 3:
            assert "| converged |" in row
        else:  # the existing rule: converged needs 3 seeds, whatever the search
            assert "| unknown |" in row and f"too few seeds (n = {made.seeds})" in row


def test_equal_training_time_is_computed_from_the_seeds(made: Made) -> None:
    finals = {cell: NO_SEARCH_STEPS[-1] * rate for cell, rate in NO_SEARCH_SECONDS_PER_STEP.items()}
    at = min(finals.values())
    assert f"T = {at:.4g} s is the largest time every run reached" in made.section("Equal training time")
    for cell, rate in NO_SEARCH_SECONDS_PER_STEP.items():
        seconds = [s * rate for s in NO_SEARCH_STEPS]
        at_t = np.array([np.interp(at, seconds, no_search_curve(cell, no_search_value(cell, seed)))
                         for seed in range(1, made.seeds + 1)])
        mean_sd, interval = summary_texts(at_t)
        row = made.row("Equal training time", cell)
        assert f"| {mean_sd} | {interval} | {made.seeds} of {made.seeds} |" in row


@pytest.mark.parametrize("seeds", SEEDS)
def test_parent_summaries_read_seeds_without_a_source_trial(seeds: int,
                                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    exp, _ = no_search_stores(tmp_path_factory, seeds)
    sweep = load_sweep(exp, exp.sweep.storage)
    assert sweep.trials.source_trial.isna().all() and not sweep.searched
    summaries = {s.variant: s for s in parent_summaries(sweep)}
    ranked = sorted(NO_SEARCH_CELLS, key=lambda cell: values(cell, seeds).mean())
    for cell in NO_SEARCH_CELLS:
        x, metrics = values(cell, seeds), summaries[cell].metrics
        assert metrics["summary/w1_seeds"] == seeds and metrics["summary/w1_mean"] == pytest.approx(x.mean())
        assert ("summary/w1_sd" in metrics) == (seeds > 1)
        if seeds > 1:
            assert metrics["summary/w1_sd"] == pytest.approx(x.std(ddof=1))
        status = "improving" if cell == NO_SEARCH_IMPROVING else "converged" if seeds >= 3 else "unknown"
        assert summaries[cell].tags == {"convergence": status, "rank": str(ranked.index(cell) + 1)}


def test_run_names_carry_the_cells_levels(tmp_path_factory: pytest.TempPathFactory) -> None:
    exp, folder = no_search_stores(tmp_path_factory, 3, mlflow=True)
    path = write_report(exp, exp.sweep.storage, exp.tracking.uri, folder / "report", generated_at=GENERATED_AT)
    text = path.read_text(encoding="utf-8")
    for cell in NO_SEARCH_CELLS:
        x = values(cell, 3)
        seed = int(np.argmin(x)) + 1
        recipe, setting = cell.split(".")
        assert f"- confirm s{seed} · {recipe} · {setting}, w1 {x.min():.4g} (run `" in text
    assert "training curves of each variant's best run" in text and Path(path.parent / "samples.png").exists()
