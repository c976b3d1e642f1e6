"""One-time preparation before any worker starts: stores, studies, budgets, MLflow parents.

Everything here runs under the storage lock, so a second copy of the command started at the
same instant waits, then finds the studies and runs already there and only joins the work.
"""

from __future__ import annotations

from harness import store_keys as keys
from harness.config import ExperimentConfig, resolve_run
from harness.sweep.locks import storage_lock
from harness.sweep.recipe_guard import record_or_check
from harness.sweep.studies import fill_search_queue, make_storage, open_studies
from harness.tracking import ensure_experiment, ensure_parent_run, set_run_status


def prepare_stores(exp: ExperimentConfig, storage_url: str, tracking_uri: str) -> str:
    """Create (or find) the studies, their queued budgets and the MLflow experiment/parent runs."""
    with storage_lock(storage_url, exp.name, exp.sweep.connect_timeout_seconds):
        storage = make_storage(storage_url, exp)
        experiment_id = ensure_experiment(tracking_uri, exp.name)
        for spec in exp.variants:
            studies = open_studies(exp, storage, spec.name)
            run = resolve_run(exp, spec.name)
            record_or_check(exp, studies.search, run, storage_url)
            parent = ensure_parent_run(tracking_uri, experiment_id, studies.search.study_name, spec.name,
                                       {keys.VARIANT: spec.name, keys.OBJECTIVE: run.objective})
            set_run_status(tracking_uri, parent, "RUNNING")
            for study in (studies.search, studies.confirm):
                study.set_user_attr(keys.VARIANT, spec.name)
                study.set_user_attr(keys.OBJECTIVE, run.objective)
                study.set_user_attr(keys.MLFLOW_PARENT_RUN_ID, parent)
            fill_search_queue(exp, studies)
    return experiment_id


def finish_parents(exp: ExperimentConfig, storage_url: str, tracking_uri: str, status: str = "FINISHED") -> None:
    """FINISHED once settled; KILLED when the sweep stops with work left (Ctrl-C, a crash, a lost service)."""
    storage = make_storage(storage_url, exp)
    for spec in exp.variants:
        parent = open_studies(exp, storage, spec.name).search.user_attrs.get(keys.MLFLOW_PARENT_RUN_ID)
        if parent:
            set_run_status(tracking_uri, parent, status)
