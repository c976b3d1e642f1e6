"""The sweep's one-time preparation and its end: parent runs that MLflow's runs table keeps out of the
recipes' groups, and the confirmation runs a variant's summary is copied onto."""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.trial import TrialState

from harness.stores import keys
from harness.sweep.setup import prepare_stores
from harness.sweep.studies import VariantStudies, make_storage, open_studies, requeue_callback
from harness.tracking.write import client
from tests.conftest import tiny_experiment


def test_the_parents_carry_no_variant_tag_only_their_name(tmp_path: Path) -> None:
    """Group by `harness.variant` in MLflow must count a variant's seeds, never its parent."""
    exp = tiny_experiment(variants=["vanilla", "wgan_gp"])
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    experiment_id = prepare_stores(exp, f"sqlite:///{tmp_path / 'optuna.db'}", tracking)
    parents = client(tracking).search_runs([experiment_id])
    assert sorted(p.info.run_name for p in parents) == ["vanilla", "wgan_gp"]
    for parent in parents:
        assert parent.data.tags["harness.role"] == "study" and "harness.variant" not in parent.data.tags
        assert parent.data.tags["harness.study"] == f"tiny/{parent.info.run_name}"


def confirm_trial(study: optuna.Study, source: int, seed: int, run_id: str, state: TrialState) -> None:
    trial = study.ask()
    for key, value in {keys.SOURCE_TRIAL: source, keys.SEED: seed, keys.MLFLOW_RUN_ID: run_id}.items():
        trial.set_user_attr(key, value)
    frozen = study.tell(trial, 1.0 if state == TrialState.COMPLETE else None, state=state)
    if state == TrialState.FAIL:  # interrupted: re-queued as a dead worker's trial would be
        requeue_callback(tiny_experiment())(study, frozen)


def test_the_summary_is_copied_onto_the_seeds_of_the_current_best_only(tmp_path: Path) -> None:
    """Seeds of an older best (a resumed search found a better one) and re-queued attempts are left out."""
    from harness.sweep.setup import confirm_run_ids

    exp = tiny_experiment(variants=["vanilla"])
    studies = open_studies(exp, make_storage(f"sqlite:///{tmp_path / 'optuna.db'}", exp), "vanilla")
    assert isinstance(studies, VariantStudies)
    confirm_trial(studies.confirm, source=0, seed=1, run_id="older best", state=TrialState.COMPLETE)
    confirm_trial(studies.confirm, source=3, seed=1, run_id="seed 1", state=TrialState.COMPLETE)
    confirm_trial(studies.confirm, source=3, seed=2, run_id="killed", state=TrialState.FAIL)
    confirm_trial(studies.confirm, source=3, seed=2, run_id="seed 2", state=TrialState.COMPLETE)  # the re-queued copy
    studies.confirm.set_user_attr(keys.SOURCE_TRIAL, 3)
    assert confirm_run_ids(studies) == ["seed 1", "seed 2"]
