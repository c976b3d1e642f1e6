"""One-time preparation before any worker starts: stores, studies, budgets, MLflow parents, the real
data's picture, and at the end the parents' summaries. (The evaluation caches are warmed earlier, by
preflight: a classifier below its threshold or missing Inception weights stop the sweep before this.)

Every write to the stores here runs under the storage lock, so a second copy of the command
started at the same instant waits, then finds the studies and runs already there and only joins
the work.
"""

from __future__ import annotations

from typing import Any

from harness.stores import keys
from harness.config.resolve import ExperimentConfig
from harness.config.design import level_record
from harness.data import load_dataset
from harness.train.device import resolve_device
from harness.sweep.notices import slow_step
from harness.config.recipe import sweep_settings_text
from harness.sweep.locks import storage_lock
from harness.sweep.recipe_guard import record_or_check
from harness.sweep.studies import VariantStudies, fill_search_queue, make_storage, open_studies, slot_trials
from harness.tracking.write import (ensure_experiment, ensure_parent_run, ensure_reference_run, log_summary,
                                    set_run_status)
from harness.train.visualize import real_picture


def prepare_stores(exp: ExperimentConfig, storage_url: str, tracking_uri: str) -> str:
    """Create (or find) the studies, their queued budgets and the MLflow experiment/parent runs."""
    with storage_lock(storage_url, exp.name, exp.sweep.connect_timeout_seconds):
        storage = make_storage(storage_url, exp)
        experiment_id = ensure_experiment(tracking_uri, exp.name)
        for spec in exp.variants:
            prepare_variant(exp, open_studies(exp, storage, spec.name), storage_url, tracking_uri, experiment_id)
    return experiment_id


def prepare_variant(exp: ExperimentConfig, studies: VariantStudies, storage_url: str, tracking_uri: str,
                    experiment_id: str) -> None:
    """One variant's recipe check, parent run, study attributes and queued search budget."""
    run = exp.run(studies.variant)
    record_or_check(exp, studies.search, run, storage_url)
    parent = ensure_parent_run(tracking_uri, experiment_id, studies.search.study_name, studies.variant,
                               {keys.OBJECTIVE: run.objective})
    set_run_status(tracking_uri, parent, "RUNNING")
    record_levels(exp, studies)
    for study in (studies.search, studies.confirm):
        study.set_user_attr(keys.VARIANT, studies.variant)
        study.set_user_attr(keys.OBJECTIVE, run.objective)
        study.set_user_attr(keys.MLFLOW_PARENT_RUN_ID, parent)
    describe_studies(studies)
    # The budget, seeds and sampler this sweep queued with: the report describes these, not the YAML of its day.
    studies.search.set_user_attr(keys.SWEEP_SETTINGS, sweep_settings_text(exp))
    fill_search_queue(exp, studies)


def record_levels(exp: ExperimentConfig, studies: VariantStudies) -> None:
    """The cell's levels and what each sets, in its search study: the report reads the design from the
    store, not from the YAML of its day."""
    spec = exp.variant(studies.variant)
    factors = {factor.name: factor for factor in exp.factors}
    overrides = {}
    for factor, name in spec.levels:
        level = next(lv for lv in factors[factor].levels if lv.name == name)
        overrides[factor] = {"level": name, "preset": level.preset, **level_record(level)}
    studies.search.set_user_attr(keys.LEVELS, [list(pair) for pair in spec.levels])
    studies.search.set_user_attr(keys.LEVEL_OVERRIDES, overrides)


CONFIRM_NOTE = "## Confirmation (same params, different seeds)\n\n" + keys.CONFIRM_ABOUT


def describe_studies(studies: VariantStudies) -> None:
    """Say in each study what it is, for whoever browses the storage: optuna-dashboard shows the user
    attributes under the study's charts, and its note on the study's Note page."""
    studies.search.set_user_attr(keys.ABOUT, keys.SEARCH_ABOUT)
    studies.confirm.set_user_attr(keys.ABOUT, keys.CONFIRM_ABOUT)
    dashboard_note(studies.confirm, CONFIRM_NOTE)


def dashboard_note(study: Any, text: str) -> None:
    """optuna-dashboard's own note (its Note page), when the package is installed.

    The study's name and `about` attribute say the same thing without it. Written once: each save
    is a new version in the storage.
    """
    try:
        from optuna_dashboard import get_note, save_note
    except ImportError:
        return
    if not get_note(study):
        save_note(study, text)


def show_real_data(exp: ExperimentConfig, storage_url: str, tracking_uri: str, experiment_id: str) -> None:
    """Show the real data in MLflow once per experiment (a grid beside the runs' sample grids).

    `data` is experiment-wide (a variant cannot override it), so the first variant's run stands for
    all of them here.
    """
    run = exp.run(exp.variants[0].name)
    with slow_step(f"loading the data ({run.data.name})"):
        dataset = load_dataset(run.data, resolve_device(run.train.device))
    with storage_lock(storage_url, exp.name, exp.sweep.connect_timeout_seconds):
        ensure_reference_run(tracking_uri, experiment_id, run.data.name, real_picture(dataset))


def finish_parents(exp: ExperimentConfig, storage_url: str, tracking_uri: str, status: str = "FINISHED") -> None:
    """FINISHED once settled, with each variant's summary over its confirmation seeds (metrics and tags
    that let MLflow's runs table sort the variants); KILLED when the sweep stops with work left (Ctrl-C,
    a crash, a lost service)."""
    storage = make_storage(storage_url, exp)
    summaries = {s.variant: s for s in settled_summaries(exp, storage_url)} if status == "FINISHED" else {}
    for spec in exp.variants:
        studies = open_studies(exp, storage, spec.name)
        parent = keys.text_attr(studies.search, keys.MLFLOW_PARENT_RUN_ID)
        if not parent:
            continue
        if spec.name in summaries:
            log_summary(tracking_uri, parent, summaries[spec.name].metrics, summaries[spec.name].tags,
                        confirm_run_ids(studies))
        set_run_status(tracking_uri, parent, status)


def confirm_run_ids(studies: VariantStudies) -> list[str]:
    """The MLflow runs of the confirmation seeds a variant's summary is over: those of the search trial whose
    params they confirm now (a resumed search may have found a better one since older seeds ran)."""
    source = keys.int_attr(studies.confirm, keys.SOURCE_TRIAL)
    slots = slot_trials(studies.confirm.get_trials(deepcopy=False))
    return [run_id for t in slots if keys.int_attr(t, keys.SOURCE_TRIAL) == source
            and (run_id := keys.text_attr(t, keys.MLFLOW_RUN_ID))]


def settled_summaries(exp: ExperimentConfig, storage_url: str) -> list[Any]:
    """The report's numbers per variant (harness.report.summary), read back from the storage."""
    from harness.report.load import load_sweep  # pandas and the report's statistics: only at the end
    from harness.report.summary import parent_summaries

    return parent_summaries(load_sweep(exp, storage_url))
