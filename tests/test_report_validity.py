"""The validity checks on the stored golden sweep, and the verdict's scope in every case."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from harness.report import gather, validity
from harness.report.convergence import CONVERGED, IMPROVING, UNKNOWN
from tests.report_support import GENERATED_AT, shared_stores


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory):
    exp, _ = shared_stores(tmp_path_factory)
    return gather(exp, exp.sweep.storage, exp.tracking.uri, GENERATED_AT)


@pytest.fixture(scope="module")
def checks(inputs) -> validity.Validity:
    return validity.assess(inputs)


def test_assess_reads_the_confirmation_histories(checks: validity.Validity) -> None:
    status = checks.convergence.status
    assert status["wgan_gp"] == IMPROVING and status["vanilla"] == CONVERGED and status["wgan_clip"] == UNKNOWN
    # two flat seeds: never "converged" (the spread of 2 seeds once served as the threshold)
    assert status["wgan_gp_sched"] == UNKNOWN
    assert checks.convergence.loc["wgan_gp_sched", "reason"].startswith("too few seeds (n = 2): converged needs 3")
    # T is vanilla's 40 steps x 0.05 s; wgan_gp reached its first evaluation (10 steps x 0.2 s) exactly then
    assert checks.seconds == pytest.approx(2.0)
    assert checks.time_results.loc["wgan_gp", "mean"] == pytest.approx((0.86 + 0.81 + 0.88) / 3 + 0.5)
    assert checks.time_results.loc["vanilla", "step"] == pytest.approx(40.0)
    assert set(checks.budget.variant) == {"vanilla", "wgan_gp", "wgan_gp_sched"}
    assert checks.budget[checks.budget.variant == "vanilla"].trials.iloc[0] == 4


def test_verdict_is_scoped_when_a_ranked_variant_is_still_improving(inputs, checks) -> None:
    text = " ".join(block.text for block in validity.verdict_notes(inputs, checks))
    # window 20-40 of 0.85 + 0.5 (40 - s) / 30: a fall of 0.333 on every seed; threshold = sd of finals
    assert ("**wgan_gp** is still improving (its late gain over steps 20–40 was 0.333 ± 0, one-sided p = 0, more "
            "than its threshold 0.0361)") in text
    assert "whether **wgan_gp_sched** is still improving cannot be told (too few seeds (n = 2)" in text
    assert "holds at 40 generator steps only" in text
    assert f"try `--set train.steps=160 --set name={inputs.exp.name}-steps160`" in text  # a new name: see recipe_guard


def test_the_scope_says_what_it_would_take_to_call_a_difference(inputs, checks) -> None:
    text = " ".join(block.text for block in validity.verdict_notes(inputs, checks))
    assert ("**Seeds:** **wgan_gp_sched** has 2 finished seed(s): too few for a bootstrap interval, a call or a "
            "`converged`. It takes 3 seeds per variant: let the 3 seeds the sweep asked for finish") in text
    few = dataclasses.replace(inputs.sweep, variants=[dataclasses.replace(i, seeds=2) for i in inputs.sweep.variants])
    note = validity.seeds_note(dataclasses.replace(inputs, sweep=few), ["wgan_gp", "wgan_gp_sched", "vanilla"])
    assert note.endswith("It takes 3 seeds per variant: run the sweep with `--set sweep.seeds=3`, which adds the "
                         "missing confirmation seeds.")


def test_unknown_variants_are_scoped_too(inputs, checks) -> None:
    table = checks.convergence.copy()
    table["status"], table["reason"] = UNKNOWN, "too few evaluations: 2 per run, the rule needs 4"
    text = validity.convergence_note(dataclasses.replace(checks, convergence=table), ["wgan_gp", "vanilla"], "e2e")
    assert "whether **wgan_gp** and **vanilla** are still improving cannot be told" in text
    assert "try `--set train.steps=160 --set name=e2e-steps160`" in text


def test_all_converged_says_so(inputs, checks) -> None:
    table = checks.convergence.assign(status=CONVERGED)
    text = validity.convergence_note(dataclasses.replace(checks, convergence=table), ["wgan_gp", "vanilla"], "e2e")
    assert "every ranked variant had converged" in text and "still improving" not in text


def test_equal_time_disagreement_is_named(inputs, checks) -> None:
    text = validity.time_note(checks, ["wgan_gp", "wgan_gp_sched", "vanilla"], "w1")
    assert "At equal training time (T = 2 s" in text
    assert "**disagree**: **wgan_gp_sched** leads" in text
    assert "**wgan_gp**, first at equal steps, scores 1.35" in text


def test_equal_time_agreement_and_missing_values(inputs, checks) -> None:
    agree = checks.time_results.assign(rank=pd.array([1, 2, 3], dtype="Int64"))
    text = validity.time_note(dataclasses.replace(checks, time_results=agree), ["wgan_gp", "vanilla"], "w1")
    assert "**wgan_gp** leads too" in text and "views agree" in text
    short = checks.time_results.copy()
    short.loc["wgan_gp", "n"] = 1
    text = validity.time_note(dataclasses.replace(checks, time_results=short), ["wgan_gp", "vanilla"], "w1")
    assert "cannot all be compared: **wgan_gp**" in text and "train.eval_every" in text


def test_no_history_means_no_time_comparison(inputs, checks) -> None:
    empty = dataclasses.replace(checks, seconds=math.nan)
    assert "no comparison" in validity.time_note(empty, ["wgan_gp"], "w1")


def test_budget_note_names_rising_flat_and_unjudgeable_searches(inputs, checks) -> None:
    text = validity.budget_note(checks, ["wgan_gp", "wgan_gp_sched", "vanilla"], "minimize")
    assert "too few complete search trials to judge the search of wgan_gp (n = 2): it takes 3 per variant" in text
    assert "the expected best of wgan_gp_sched, vanilla had flattened" in text
    one = checks.budget[checks.budget.variant != "wgan_gp"]
    one = pd.concat([one, checks.budget[checks.budget.variant == "wgan_gp"].iloc[:1]])
    text = validity.budget_note(dataclasses.replace(checks, budget=one), ["wgan_gp", "vanilla"], "minimize")
    assert "wgan_gp (n = 1)" in text


def test_two_search_trials_are_never_called_flattened(inputs, checks) -> None:
    """Two trials a variant, one of them the config's own values, once read "had flattened"."""
    two = checks.budget[checks.budget.k <= 2]
    text = validity.budget_note(dataclasses.replace(checks, budget=two), ["wgan_gp", "vanilla"], "minimize")
    assert "flattened" not in text and "wgan_gp (n = 2), vanilla (n = 2): it takes 3 per variant" in text


def test_uneven_speeds_between_seeds_are_flagged(inputs, checks) -> None:
    assert "Caution" not in validity.time_note(checks, ["wgan_gp", "vanilla"], "w1")  # golden runs: even speeds
    uneven = checks.time_results.assign(speed_spread=[0.4, 0.1, 0.2])  # wgan_gp, wgan_gp_sched, vanilla
    text = validity.time_note(dataclasses.replace(checks, time_results=uneven), ["wgan_gp", "vanilla"], "w1")
    assert "**Caution:** the seeds of **wgan_gp** trained at speeds differing by up to 40%" in text
    assert "unreliable" in text


def test_equal_time_intervals_are_clipped_to_the_objectives_range(inputs, checks) -> None:
    """w1 >= 0: values at T of 0.01, 0.5, 0.02 give a t interval reaching below 0, which is cut at 0."""
    at = checks.at_time.copy()
    at.loc[at.variant == "wgan_gp", "value"] = [0.01, 0.5, 0.02]
    histories = validity.confirm_evals(inputs.sweep)
    frame = validity.time_summary(at, histories, ["wgan_gp"], "minimize", (0.0, math.inf))
    assert frame.loc["wgan_gp", "ci_low"] == 0.0 and frame.loc["wgan_gp", "mean"] == pytest.approx(0.53 / 3)
    assert (checks.time_results.ci_low.dropna() >= 0).all()
