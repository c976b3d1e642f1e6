"""The parent runs' summaries: the results table's numbers per variant, ready for MLflow."""

from __future__ import annotations

import pytest

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
    clip = summaries["wgan_clip"]  # nothing confirmed: no number that MLflow would sort as NaN
    assert clip.tags["rank"] == "-" and "summary/w1_mean" not in clip.metrics and clip.metrics["summary/w1_seeds"] == 0
