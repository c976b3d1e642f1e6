"""The report's tables: results over seeds, ranks and bold respecting direction, pairs, counts."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from harness.report import tables
from harness.report.load import StoredSweep, load_sweep
from tests.report_support import shared_stores


@pytest.fixture(scope="session")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> StoredSweep:
    exp, _ = shared_stores(tmp_path_factory)
    return load_sweep(exp, exp.sweep.storage)


def test_results_summarize_the_confirmation_runs(sweep: StoredSweep) -> None:
    results = tables.variant_results(sweep)
    assert list(results.index) == ["vanilla", "wgan_clip", "wgan_gp", "wgan_gp_sched"]
    assert results.loc["vanilla", "w1_n"] == 3 and results.loc["vanilla", "w1_mean"] == pytest.approx(1.32)
    assert results.loc["wgan_gp_sched", "w1_n"] == 2  # the running third seed is not counted
    assert results.loc["wgan_clip", "w1_n"] == 0 and math.isnan(results.loc["wgan_clip", "w1_mean"])
    assert results["rank"].tolist()[:1] == [3] and results.loc["wgan_gp", "rank"] == 1  # lower w1 is better
    assert results.loc["wgan_gp", "best_params"] == "lambda_gp=31.6, n_critic=2"


def test_trial_counts_and_status(sweep: StoredSweep) -> None:
    results = tables.variant_results(sweep)
    gp = results.loc["wgan_gp"]
    assert (gp.search_complete, gp.search_pruned, gp.search_diverged, gp.search_failed, gp.search_requeued) == (
        2, 1, 1, 0, 1)
    assert results.loc["wgan_gp_sched", "search_failed"] == 1
    assert results.loc["wgan_clip", "status"] == "in progress: 4 trial(s) pending, 0/3 seeds done"
    assert results.loc["vanilla", "status"] == "complete"


def test_a_diverged_confirmation_seed_is_named_in_the_status_not_silently_dropped(sweep: StoredSweep) -> None:
    trials = sweep.trials.copy()
    seed = trials.index[(trials.variant == "vanilla") & (trials.stage == "confirm")][0]
    trials.loc[seed, ["outcome", "value"]] = ["diverged", math.nan]
    results = tables.variant_results(dataclasses.replace(sweep, trials=trials))
    assert results.loc["vanilla", "w1_n"] == 2
    assert results.loc["vanilla", "status"] == "2/3 seeds done; 1 seed(s) diverged or failed, left out of the statistics"


def test_display_bolds_the_best_per_metric_direction(sweep: StoredSweep) -> None:
    shown = tables.display_results(tables.variant_results(sweep), sweep)
    assert shown.Variant.tolist() == ["wgan_gp", "wgan_gp_sched", "vanilla", "wgan_clip"]  # by rank, unranked last
    assert shown["w1 (mean ± std)"].iloc[0].startswith("**0.85 ± ")
    assert shown["modes"].iloc[0].startswith("**")  # modes: higher is better, wgan_gp has the most
    assert not shown["modes"].iloc[2].startswith("**")
    assert shown["95% CI"].iloc[3] == tables.DASH


def test_pairwise_calls_only_pairs_with_enough_seeds(sweep: StoredSweep) -> None:
    pairs = tables.pairwise(sweep, tables.variant_results(sweep))
    assert list(zip(pairs.a, pairs.b)) == [("wgan_gp", "wgan_gp_sched"), ("wgan_gp", "vanilla"),
                                           ("wgan_gp_sched", "vanilla")]
    assert pairs.conclusion.tolist()[1] == "wgan_gp better"
    assert pairs.conclusion.iloc[0].startswith("too few seeds to tell")
    assert (pairs.welch_p_holm >= pairs.welch_p).all()


def test_importances_per_knob_and_variant_with_notes(sweep: StoredSweep) -> None:
    frame, notes = tables.importances(sweep)
    assert list(frame.index) == ["lambda_gp", "n_critic"]
    assert list(frame.columns) == ["vanilla", "wgan_gp", "wgan_gp_sched"]
    assert math.isnan(frame.loc["lambda_gp", "vanilla"]) and frame.loc["n_critic", "vanilla"] == pytest.approx(1)
    assert frame["wgan_gp"].sum() == pytest.approx(1)
    assert notes == ["wgan_clip: 0 complete search trial(s); importances need at least 2"]


def test_failures_list_every_unfinished_trial_with_its_reason(sweep: StoredSweep) -> None:
    frame = tables.failures(sweep)
    assert frame.outcome.tolist() == ["diverged", "interrupted", "pruned", "error"]
    shown = tables.display_failures(frame, lambda run_id: "run")
    assert shown["Re-queued as"].tolist() == [tables.DASH, "4", tables.DASH, tables.DASH]


@pytest.mark.parametrize(("value", "text"), [(1.23456, "1.235"), (None, tables.DASH), (math.nan, tables.DASH),
                                             (3, "3"), (1e-5, "1e-05")])
def test_numbers_are_short(value: object, text: str) -> None:
    assert tables.num(value) == text


def test_a_column_where_every_variant_ties_has_no_bold() -> None:
    cells = pd.Series(["1", "1", "2"])
    assert tables.bold_best(cells, pd.Series([0.0, 0.0, math.nan]), "minimize").tolist() == ["1", "1", "2"]
    assert tables.bold_best(cells, pd.Series([0.0, 1.0, 0.0]), "maximize").tolist() == ["1", "**1**", "2"]
