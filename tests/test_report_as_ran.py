"""What ran, from the stores: the report describes the stored recipe and sweep settings, and says in one
line where the config given today differs."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from harness.config.resolve import ExperimentConfig, parse_experiment
from harness.report import gather
from harness.report.as_ran import as_ran, differences_line
from harness.report.load import StoredRecord, stored_records
from harness.report.sections import budget_text, given_text, measurement_text
from harness.core.schema import VariantSpec
from tests.conftest import deep_merge
from tests.report_support import GENERATED_AT, golden_raw, shared_stores


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    return shared_stores(tmp_path_factory)


def given(folder: Path, **sections: Any) -> ExperimentConfig:
    """The golden experiment as a user might pass it today: other keys over the YAML the stores ran."""
    return parse_experiment(deep_merge(golden_raw(folder), sections))


def test_the_given_config_that_ran_matches_and_nothing_is_said(stores: tuple) -> None:
    exp, _ = stores
    inputs = gather(exp, exp.sweep.storage, exp.tracking.uri, GENERATED_AT)
    assert inputs.ran.differences == () and inputs.ran.unrecorded == () and differences_line(inputs.ran) is None
    assert given_text(inputs) == "matches what ran" and inputs.ran.steps == dict.fromkeys(
        ("vanilla", "wgan_clip", "wgan_gp", "wgan_gp_sched"), 40)


@pytest.mark.parametrize("steps, seeds", [(10, 1), (160, 5)])  # fewer and more than what ran: both directions
def test_a_report_given_other_steps_and_seeds_describes_what_ran(stores: tuple, steps: int, seeds: int) -> None:
    exp, folder = stores
    other = given(folder, train={"steps": steps}, sweep={"seeds": seeds, "trials_per_variant": 9})
    inputs = gather(other, exp.sweep.storage, exp.tracking.uri, GENERATED_AT)
    assert inputs.exp.train.steps == 40 and inputs.exp.sweep.seeds == 3 and inputs.exp.sweep.trials_per_variant == 4
    assert budget_text(inputs).endswith("+ 3 confirmation seeds; 40 generator steps/run")
    assert inputs.results.loc["vanilla", "status"] == "complete"  # 3 of the 3 seeds that ran, not of `seeds`
    assert set(inputs.ran.differences) == {f"train.steps: {steps} given, 40 stored",
                                           f"sweep.seeds: {seeds} given, 3 stored",
                                           "sweep.trials_per_variant: 9 given, 4 stored"}
    line = differences_line(inputs.ran)
    assert line.startswith("the config given differs from what ran, and the report describes what ran: ")
    assert "\n" not in line and f"train.steps: {steps} given, 40 stored" in line
    assert given_text(inputs).startswith("differs from what ran, which this report describes: ")


def test_the_plan_is_of_what_ran_not_of_the_given_config(stores: tuple) -> None:
    """`exp.run` (the resolved cells the report's readers use) holds the stored steps and data, not today's."""
    exp, folder = stores
    other = given(folder, train={"steps": 160}, data={"name": "grid25"})
    inputs = gather(other, exp.sweep.storage, exp.tracking.uri, GENERATED_AT)
    assert other.run("vanilla").train.steps == 160 and other.run("vanilla").data.name == "grid25"
    assert {(inputs.exp.run(v.name).train.steps, inputs.exp.run(v.name).data.name)
            for v in inputs.exp.variants} == {(40, "ring8")}


def test_the_measurement_intervals_that_ran_are_described_and_a_different_one_is_named(stores: tuple) -> None:
    """Issue 27: a sweep run with `--set train.eval_every=...` was reported with the YAML's interval, in no
    warning and no header, while the verdict advised changing it."""
    exp, folder = stores
    other = given(folder, train={"eval_every": 10, "sample_every": 40, "log_every": 5})
    inputs = gather(other, exp.sweep.storage, exp.tracking.uri, GENERATED_AT)
    assert (inputs.exp.train.eval_every, inputs.exp.train.sample_every, inputs.exp.train.log_every) == (20, 20, 10)
    assert measurement_text(inputs) == ("evaluated every 20 generator steps, sample grids every 20, losses logged "
                                        "every 10")  # the report's header row "Measurement"
    assert set(inputs.ran.differences) == {"train.eval_every: 10 given, 20 stored",
                                           "train.sample_every: 40 given, 20 stored", "train.log_every: 5 given, 10 stored"}


def test_a_knob_that_differs_for_some_variants_names_them(stores: tuple) -> None:
    exp, folder = stores
    inputs = gather(given(folder, train={"lambda_gp": 5.0}), exp.sweep.storage, exp.tracking.uri, GENERATED_AT)
    assert inputs.ran.differences == ("train.lambda_gp (wgan_gp, wgan_gp_sched): 5.0 given, 10.0 stored",)


def test_variants_the_stores_hold_beyond_the_given_ones_are_named(stores: tuple) -> None:
    exp, _ = stores
    two = dataclasses.replace(exp, variants=exp.variants[:2])
    records, stored_variants = stored_records(two, exp.sweep.storage)
    assert set(records) == {"vanilla", "wgan_clip"} and len(stored_variants) == 4
    ran = as_ran(two, records, stored_variants)
    assert ran.differences == ("variants: the stores also hold wgan_gp, wgan_gp_sched, not in the given config's "
                               "variants (left out of this report)",)
    later = dataclasses.replace(exp, variants=(*exp.variants, VariantSpec("later", "wgan_gp")))
    assert "later" not in stored_records(later, exp.sweep.storage)[0]  # not run: nothing to compare


def test_stores_without_records_are_described_from_the_given_config_and_say_so(stores: tuple) -> None:
    exp, folder = stores
    other = given(folder, train={"steps": 99})
    ran = as_ran(other, {"vanilla": StoredRecord(None, None)}, {"vanilla"})
    assert ran.exp is other and ran.unrecorded == ("recipe", "sweep settings") and ran.differences == ()
    assert ran.recorded_hash is None and ran.steps == {}


def test_variants_that_ran_different_steps_keep_them(stores: tuple) -> None:
    exp, folder = stores
    inputs = gather(exp, exp.sweep.storage, exp.tracking.uri, GENERATED_AT)
    records, names = stored_records(exp, exp.sweep.storage)
    longer = {"train.steps": 80}
    records["wgan_gp"] = StoredRecord({**records["wgan_gp"].recipe, **longer}, records["wgan_gp"].sweep)
    ran = as_ran(exp, records, names)
    assert ran.steps["wgan_gp"] == 80 and ran.steps["vanilla"] == 40 and ran.exp.train.steps == 40
    assert budget_text(dataclasses.replace(inputs, ran=ran)).endswith(
        "generator steps/run: vanilla 40, wgan_clip 40, wgan_gp 80, wgan_gp_sched 40")
    assert ran.recorded_hash != inputs.ran.recorded_hash  # the hash is of what ran
