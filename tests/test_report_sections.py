"""Text sections: the header's hash, the verdict in every state of a sweep, what is missing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.config.resolve import ExperimentConfig, VariantSpec
from harness.report import gather, sections, write_report
from harness.report import tables
from harness.report.render import Text, to_markdown
from harness.report.tables import pairwise
from tests.report_support import GENERATED_AT, shared_stores


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    return shared_stores(tmp_path_factory)


def only(exp: ExperimentConfig, *names: str) -> ExperimentConfig:
    return dataclasses.replace(exp, variants=tuple(v for v in exp.variants if v.name in names))


def verdict_text(exp: ExperimentConfig, scoped: bool = False, status: dict[str, str] | None = None) -> str:
    """The verdict on the stored sweep; `status` replaces the variants' convergence status."""
    inputs = gather(exp, exp.sweep.storage, exp.tracking.uri, GENERATED_AT)
    pairs = pairwise(inputs.sweep, inputs.results)
    if status is not None:
        values = {i.variant: tables.confirm_trials(inputs.sweep, i).value.tolist() for i in inputs.sweep.variants}
        pairs = tables.compare_ranked(values, tables.ranked_variants(inputs.results), "minimize", status)
    blocks = sections.verdict(inputs, pairs, scoped)
    return next(b.text for b in blocks if isinstance(b, Text))


CONVERGED = {"vanilla": "converged", "wgan_gp": "converged", "wgan_gp_sched": "converged"}


def test_the_hash_ignores_where_results_are_stored_but_not_what_was_run(stores: tuple) -> None:
    exp, _ = stores
    moved = dataclasses.replace(exp, sweep=dataclasses.replace(exp.sweep, storage="sqlite:///elsewhere.db"))
    changed = dataclasses.replace(exp, train=dataclasses.replace(exp.train, lr=0.5))
    assert sections.experiment_hash(moved) == sections.experiment_hash(exp) != sections.experiment_hash(changed)


def test_verdict_names_the_winner_and_how_sure_we_are(stores: tuple) -> None:
    text = verdict_text(stores[0])
    assert text.startswith("At equal generator steps (40 per run), **wgan_gp** ranks first on w1 (lower is better): "
                           "0.85 ± 0.036")
    assert "runner-up **wgan_gp_sched**" in text and "**too few seeds to tell**" in text
    assert ("better at this budget than vanilla by 0.47 (Holm-adjusted Welch p = 0.00024; wgan_gp still "
            "improving: late gain 0.333 ± 0 > threshold 0.0361)") in text


def test_the_verdict_quotes_no_bootstrap_interval_from_fewer_than_three_seeds(stores: tuple) -> None:
    """wgan_gp_sched has 2 seeds: its "interval" would be little more than the range of the differences."""
    text = verdict_text(stores[0])
    assert "the difference is -0.085 (9.1% of the runner-up's mean), no bootstrap CI: too few seeds (n = 3 and 2)" \
        in text
    assert "bootstrap CI [" not in text


def test_verdict_with_a_clear_winner(stores: tuple) -> None:
    text = verdict_text(only(stores[0], "vanilla", "wgan_gp"), status=CONVERGED)
    assert "the difference is -0.47 (35.6% of the runner-up's mean), 95% bootstrap CI [" in text
    assert "**wgan_gp is better** with reasonable confidence" in text


def test_a_call_is_at_this_budget_when_a_side_had_not_converged(stores: tuple) -> None:
    text = verdict_text(only(stores[0], "vanilla", "wgan_gp"))  # the stored wgan_gp is still improving
    assert "**wgan_gp is better at this budget** (wgan_gp still improving: late gain 0.333 ± 0" in text
    assert "reasonable confidence" not in text
    text = verdict_text(only(stores[0], "vanilla", "wgan_gp"), status={"wgan_gp": "converged", "vanilla": "unknown"})
    assert "**wgan_gp is better at this budget** (vanilla convergence unknown)" in text


def test_the_pairwise_section_computes_the_smallest_mann_whitney_p_from_the_seeds_that_ran(stores: tuple) -> None:
    """It once said "with 3 seeds per side its smallest possible p is 0.1" whatever ran, 2 seeds included."""
    exp, _ = stores
    inputs = gather(exp, exp.sweep.storage, exp.tracking.uri, GENERATED_AT)
    text = sections.pairwise_section(pairwise(inputs.sweep, inputs.results))[1].text
    assert "its smallest possible p is 0.1 with 3 and 3 seeds, 0.2 with 3 and 2 seeds)" in text
    two = tables.compare_ranked({"a": [1.0, 2.0], "b": [3.0, 4.0]}, ["a", "b"], "minimize")
    text = sections.pairwise_section(two)[1].text
    assert "its smallest possible p is 0.33 with 2 and 2 seeds" in text and "0.1" not in text


def test_verdict_with_one_or_no_finished_variant(stores: tuple) -> None:
    assert "only variant with finished confirmation runs" in verdict_text(only(stores[0], "vanilla", "wgan_clip"))
    assert verdict_text(only(stores[0], "wgan_clip")).startswith("No confirmation run has finished yet")


def test_without_mlflow_the_report_says_what_is_missing(stores: tuple, tmp_path: Path) -> None:
    exp, _ = stores
    inputs = gather(exp, exp.sweep.storage, f"sqlite:///{tmp_path / 'none.db'}", GENERATED_AT)
    text = to_markdown(sections.missing(inputs) + sections.header(inputs))
    assert "- MLflow: no MLflow database at sqlite:///" in text
    assert "- wgan_clip: in progress: 4 trial(s) pending, 0/3 seeds done" in text
    assert "| Git commit (of the runs) | unknown" in text
    assert "| Device                   | unknown (not recorded by the sweep; config train.device=cpu)" in text


def test_a_storage_without_this_experiment_gives_a_report_of_what_is_missing(stores: tuple, tmp_path: Path) -> None:
    exp, _ = stores
    other = dataclasses.replace(exp, name="other", variants=exp.variants[:2])
    text = write_report(other, exp.sweep.storage, exp.tracking.uri, tmp_path, generated_at=GENERATED_AT).read_text()
    assert "No confirmation run has finished yet, so there is no verdict." in text
    assert "- vanilla: not started" in text and "- MLflow: no experiment named 'other'" in text
    assert "| Total wall time          | none finished yet" in text
    assert "No search trial is stored yet." in text and "None: every finished trial completed." in text


def test_a_variant_not_started_next_to_finished_ones(stores: tuple, tmp_path: Path) -> None:
    exp, _ = stores
    later = dataclasses.replace(exp, variants=(*exp.variants, VariantSpec("later", "wgan_gp")))
    text = write_report(later, exp.sweep.storage, exp.tracking.uri, tmp_path, generated_at=GENERATED_AT).read_text()
    assert "- later: not started" in text and "| –      | later " in text


def test_the_header_shows_the_classifier_accuracy_and_threshold(stores: tuple) -> None:
    import pandas as pd

    from harness.config.resolve import DataConfig

    exp, _ = stores
    inputs = gather(exp, exp.sweep.storage, exp.tracking.uri, GENERATED_AT)
    assert sections.classifier_text(inputs) == f"none ({exp.data.name} has no labels; its metrics need no classifier)"
    digits = dataclasses.replace(exp, data=DataConfig(name="digits"))
    runs = pd.DataFrame({"classifier_test_accuracy": ["0.99166", None, "0.99166"],  # MLflow params are strings
                         "classifier_min_accuracy": ["0.97", None, "0.97"]})
    text = sections.classifier_text(dataclasses.replace(inputs, exp=digits, runs=runs))
    assert text == "99.2% held-out accuracy (threshold 97.0%)"
    unlogged = sections.classifier_text(dataclasses.replace(inputs, exp=digits, runs=runs.iloc[[1]]))
    assert unlogged.endswith("(not logged by the runs)")


def test_the_header_shows_each_variants_network_sizes_and_the_metric_protocols(stores: tuple) -> None:
    import pandas as pd

    exp, _ = stores
    inputs = gather(exp, exp.sweep.storage, exp.tracking.uri, GENERATED_AT)
    assert sections.models_text(inputs).endswith(", every variant")  # the stored sweep logged its sizes
    runs = pd.DataFrame({"role": ["trial", "trial", "study", "trial"], "variant": ["a", "a", "a", "b"],
                         "arch": ["resnet", "resnet", None, "dcgan"],
                         "generator_params": ["4276739", "4276739", None, "1000"],  # MLflow params are strings
                         "critic_params": ["1053825", "1053825", None, "900"],
                         "protocols": ["fid: 10 vs 20\nis: 10 generated", None, None, "fid: 10 vs 20"]})
    inputs = dataclasses.replace(inputs, runs=runs)
    assert sections.models_text(inputs) == ("a: resnet (G 4,276,739, D 1,053,825 parameters); "
                                            "b: dcgan (G 1,000, D 900 parameters)")
    assert sections.protocols_text(inputs) == "fid: 10 vs 20; is: 10 generated"
    same = dataclasses.replace(inputs, runs=runs.assign(arch="resnet", generator_params="5", critic_params="6"))
    assert sections.models_text(same) == "resnet (G 5, D 6 parameters), every variant"
    assert sections.protocols_text(dataclasses.replace(inputs, runs=runs.assign(protocols=None))) is None


def test_run_ids_link_to_the_tracking_servers_ui(stores: tuple, tmp_path: Path) -> None:
    """With an http(s) tracking URI every run ID in the report is a link to that run's page; a real
    `mlflow server` serves a copy of the stores' MLflow database."""
    import re
    import shutil

    from tests.services import mlflow_server

    exp, folder = stores
    shutil.copy(folder / "mlflow.db", tmp_path / "mlflow.db")
    with mlflow_server(f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path) as server:
        text = write_report(exp, exp.sweep.storage, server.url, tmp_path / "r", generated_at=GENERATED_AT).read_text()
    ids = set(re.findall(r"\b[0-9a-f]{32}\b", text))
    linked = set(re.findall(rf"\[([0-9a-f]{{32}})\]\({re.escape(server.url)}/#/experiments/\d+/runs/\1\)", text))
    assert len(ids) == 27 and linked == ids


def test_the_variants_row_states_a_designs_factors_and_stays_a_list_for_one_factor(stores: tuple) -> None:
    from harness.config.resolve import parse_experiment
    from harness.report.sections import variants_text

    exp, _ = stores
    assert variants_text(exp) == "vanilla, wgan_clip, wgan_gp, wgan_gp_sched"  # a `variants:` list, as always
    raw = {"name": "d", "data": {"name": "ring8"}, "sweep": {"trials_per_variant": 0},
           "factors": {"recipe": {"vanilla": "vanilla", "wgan_gp": "wgan_gp", "sngan": "sngan"},
                       "setting": {"A": None, "B": {"train": {"n_critic": 2}}}}}
    assert variants_text(parse_experiment(raw)) == ("recipe (3) × setting (2) = 6 cells: vanilla.A, vanilla.B, "
                                                    "wgan_gp.A, wgan_gp.B, sngan.A, sngan.B")
    excluded = parse_experiment({**raw, "design": {"exclude": [{"recipe": "sngan", "setting": "B"}]}})
    assert variants_text(excluded).startswith("recipe (3) × setting (2) = 6 cells, 5 of them in this design: ")
