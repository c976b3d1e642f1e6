"""The parent runs' summaries: the results table's numbers per variant, ready for MLflow."""

from __future__ import annotations

import dataclasses
import math

import pytest

from harness.core.schema import DataConfig
from harness.report import tables
from harness.report.load import load_sweep
from harness.report.summary import parent_summaries
from tests.report_support import shared_stores


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    return shared_stores(tmp_path_factory)


def test_each_variant_gets_its_seeds_statistics_rank_and_convergence(stores: tuple) -> None:
    exp, _ = stores
    summaries = {s.variant: s for s in parent_summaries(load_sweep(exp, exp.sweep.storage))}
    gp = summaries["wgan_gp"]
    assert gp.metrics["summary/w1_mean"] == pytest.approx(0.85) and gp.metrics["summary/w1_seeds"] == 3
    assert gp.metrics["summary/w1_sd"] == pytest.approx(0.036056, abs=1e-6)
    assert gp.metrics["summary/w1_ci_low"] < 0.85 < gp.metrics["summary/w1_ci_high"]
    assert {"summary/modes_mean", "summary/hq_fraction_sd", "summary/reverse_kl_ci_high"} <= set(
        gp.metrics)  # every metric, not only the objective
    assert gp.tags == {"convergence": "improving", "rank": "1"}
    assert summaries["vanilla"].tags == {"convergence": "converged", "rank": "3"}
    assert summaries["wgan_gp_sched"].tags == {"convergence": "unknown", "rank": "2"}  # 2 seeds: never converged
    clip = summaries["wgan_clip"]  # nothing confirmed: no number that MLflow would sort as NaN
    assert clip.tags["rank"] == "-" and "summary/w1_mean" not in clip.metrics and clip.metrics["summary/w1_seeds"] == 0


def test_the_summary_intervals_stay_inside_the_metrics_declared_range(stores: tuple,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """On a 10-class dataset class_coverage cannot pass 10 nor class_kl go below 0: a sweep once logged
    summary/class_coverage_ci_high = 14.85. Seeds at 7, 10, 10 give mean 9, sd sqrt(3), and a t interval
    of 9 +- 4.30 = [4.70, 13.30], which the summary clips at 10."""
    exp, _ = stores
    sweep = load_sweep(exp, exp.sweep.storage)
    trials = sweep.trials.copy()
    seeds = trials.index[(trials.variant == "vanilla") & (trials.stage == "confirm")]
    trials.loc[seeds, "metric.class_coverage"] = [7.0, 10.0, 10.0]
    trials.loc[seeds, "metric.class_kl"] = [0.01, 0.5, 0.02]
    monkeypatch.setattr(tables, "stored_data", lambda sweep: DataConfig(name="digits"))
    metrics = {s.variant: s for s in parent_summaries(dataclasses.replace(sweep, trials=trials))}["vanilla"].metrics
    assert metrics["summary/class_coverage_mean"] == 9.0
    assert metrics["summary/class_coverage_ci_low"] == pytest.approx(9 - 4.302652729911275)
    assert metrics["summary/class_coverage_ci_high"] == 10.0
    assert metrics["summary/class_kl_ci_low"] == 0.0 and math.isfinite(metrics["summary/class_kl_ci_high"])
