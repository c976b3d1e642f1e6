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
    # wgan_gp is still improving in the stored histories: its call holds at this budget, and says why
    assert pairs.conclusion.tolist()[1] == "wgan_gp better at this budget"
    improving = "wgan_gp still improving: late gain 0.333 ± 0 > threshold 0.0361"
    few = "wgan_gp_sched convergence unknown: too few seeds (n = 2)"
    assert pairs.scope.tolist() == [f"{improving}; {few}", improving, few]
    assert pairs.conclusion.iloc[0].startswith("too few seeds to tell")
    assert (pairs.welch_p_holm >= pairs.welch_p).all()


def test_the_pairwise_table_shows_no_bootstrap_interval_below_three_seeds(sweep: StoredSweep) -> None:
    pairs = tables.pairwise(sweep, tables.variant_results(sweep))
    shown = tables.display_pairwise(pairs)
    assert shown["95% bootstrap CI"].tolist()[0] == "too few seeds (n = 3 and 2)"  # wgan_gp_sched has 2
    assert shown["95% bootstrap CI"].tolist()[1].startswith("[")
    assert math.isnan(pairs.ci_low.iloc[0]) and math.isnan(pairs.ci_low.iloc[2])
    assert shown["Mann-Whitney p (smallest possible)"].tolist() == ["0.2 (0.2)", "0.1 (0.1)", "0.2 (0.2)"]


@pytest.mark.parametrize("n", [1, 2, 3, 10])
def test_a_call_is_scoped_only_where_a_side_had_not_converged(n: int) -> None:
    """a beats b and c by far; b is converged, c still improving: only the call against c is scoped."""
    values = {"a": [1.0 + 0.01 * i for i in range(n)], "b": [5.0 + 0.01 * i for i in range(n)],
              "c": [9.0 + 0.01 * i for i in range(n)]}
    status = {"a": "converged", "b": "converged", "c": "improving"}
    pairs = tables.compare_ranked(values, ["a", "b", "c"], "minimize", status).set_index(["a", "b"])
    if n < 3:
        assert pairs.conclusion.str.startswith(f"too few seeds to tell (n = {n}; need ≥ 3 each)").all()
        assert pairs.ci_low.isna().all()
    else:
        assert pairs.loc[("a", "b"), "conclusion"] == "a better"
        assert pairs.loc[("a", "c"), "conclusion"] == "a better at this budget"
    assert pairs.loc[("a", "b"), "scope"] == "" and pairs.loc[("a", "c"), "scope"] == "c still improving"
    unscoped = tables.compare_ranked(values, ["a", "b", "c"], "minimize")  # equal time: no convergence scope
    assert (unscoped.scope == "").all()


def test_stored_data_is_read_from_the_recorded_recipe(sweep: StoredSweep) -> None:
    assert tables.stored_data(sweep).name == "ring8"
    assert tables.metric_ranges(sweep) == {"w1": (0.0, math.inf), "modes": (0.0, 8.0), "hq_fraction": (0.0, 1.0),
                                           "reverse_kl": (0.0, pytest.approx(math.log(8)))}


def test_data_that_describes_itself_from_its_files_leaves_its_bounds_open() -> None:
    """A folder's classes come from its files, and the recipe leaves data.root out: no bound is guessed."""
    import json
    from types import SimpleNamespace

    def recorded(data: dict) -> SimpleNamespace:
        recipe = json.dumps({f"data.{k}": v for k, v in data.items()})
        return SimpleNamespace(variants=[SimpleNamespace(search=SimpleNamespace(user_attrs={"recipe": recipe}))])

    assert tables.stored_data(recorded({"name": "folder", "image_size": 32})) is None
    assert tables.stored_data(recorded({"name": "digits"})).name == "digits"
    assert tables.stored_data(SimpleNamespace(variants=[SimpleNamespace(search=None)])) is None


def test_every_interval_is_clipped_to_its_metrics_range(sweep: StoredSweep) -> None:
    """modes on ring8 is at most 8: seeds at 8, 8, 5 once gave [2.70, 11.30]; reverse_kl is at least 0."""
    trials = sweep.trials.copy()
    seeds = trials.index[(trials.variant == "vanilla") & (trials.stage == "confirm")]
    trials.loc[seeds, "metric.modes"] = [8.0, 8.0, 5.0]
    trials.loc[seeds, "metric.reverse_kl"] = [0.01, 0.5, 0.02]
    results = tables.variant_results(dataclasses.replace(sweep, trials=trials))
    row = results.loc["vanilla"]
    half = 4.302652729911275 * math.sqrt(3) / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n), sd = sqrt(3)
    assert row.modes_ci_low == pytest.approx(7 - half) and row.modes_ci_high == 8.0
    assert row.reverse_kl_ci_low == 0.0
    for metric, (low, high) in tables.metric_ranges(sweep).items():
        assert (results[f"{metric}_ci_low"].dropna() >= low).all()
        assert (results[f"{metric}_ci_high"].dropna() <= high).all()


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
