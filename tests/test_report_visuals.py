"""Figure sections: which run each figure shows, and what they say when MLflow is missing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.config.resolve import parse_experiment
from harness.report import gather, visuals
from harness.report.render import Image, to_markdown
from tests.report_support import GENERATED_AT, shared_stores


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    return shared_stores(tmp_path_factory)


def test_best_runs_prefer_the_best_confirmation_run(stores: tuple) -> None:
    exp, _ = stores
    best = visuals.best_runs(gather(exp, exp.sweep.storage, exp.tracking.uri, GENERATED_AT))
    assert {v: (row.stage, row.number) for v, row in best.items()} == {
        "vanilla": ("confirm", 1), "wgan_gp": ("confirm", 1), "wgan_gp_sched": ("confirm", 0)}


def test_without_mlflow_curves_and_samples_are_explained_and_the_eval_curve_stays(stores: tuple,
                                                                                     tmp_path: Path) -> None:
    exp, _ = stores
    inputs = gather(exp, exp.sweep.storage, f"sqlite:///{tmp_path / 'none.db'}", GENERATED_AT)
    blocks = visuals.dynamics_section(inputs, tmp_path) + visuals.samples_section(inputs, tmp_path)
    text = to_markdown(blocks)
    assert "Loss curves come from MLflow: no MLflow database at" in text
    assert "Samples come from MLflow artifacts: no MLflow database at" in text
    assert [b.path for b in blocks if isinstance(b, Image)] == ["eval_curve.png"]
    assert (tmp_path / "eval_curve.png").stat().st_size > 0 and not (tmp_path / "dynamics.png").exists()


def test_the_real_data_as_it_ran_with_modes_only_for_toys_that_have_them(stores: tuple) -> None:
    exp, _ = stores
    inputs = gather(exp, exp.sweep.storage, exp.tracking.uri, GENERATED_AT)
    ring = visuals.real_data(inputs)
    assert ring.centers.shape == (8, 2) and ring.picture.shape == (1000, 2) and ring.problem is None
    digits = parse_experiment({"name": "d", "data": {"name": "digits"}, "sweep": {"trials_per_variant": 1}})
    grid = visuals.real_data(dataclasses.replace(inputs, exp=digits))
    assert grid.centers is None and grid.picture.ndim == 3 and grid.picture.shape[2] == 3
    absent = parse_experiment({"name": "m", "data": {"name": "mnist", "root": "/nonexistent"},
                               "sweep": {"trials_per_variant": 1}})
    missing = visuals.real_data(dataclasses.replace(inputs, exp=absent))
    assert missing.picture is None and "/nonexistent" in missing.problem


def test_sections_with_no_search_trials_say_so(stores: tuple, tmp_path: Path) -> None:
    exp, _ = stores
    clip_only = dataclasses.replace(exp, variants=tuple(v for v in exp.variants if v.name == "wgan_clip"))
    inputs = gather(clip_only, exp.sweep.storage, exp.tracking.uri, GENERATED_AT)
    history = visuals.history_section(inputs, tmp_path)
    assert isinstance(history[-1], Image)  # the running trial is a search row; its panel says why it is empty
    dynamics = to_markdown(visuals.dynamics_section(inputs, tmp_path))
    assert "no finished run yet" in dynamics


@pytest.mark.parametrize("content", [b"not a torch file", b""])
def test_a_damaged_samples_artifact_is_a_warning_not_a_traceback(content: bytes, tmp_path: Path, monkeypatch,
                                                                  capsys) -> None:
    damaged = tmp_path / "samples.pt"
    damaged.write_bytes(content)
    monkeypatch.setattr(visuals.mlflow_runs, "download_artifact", lambda *args: damaged)
    inputs = dataclasses.make_dataclass("Inputs", [("tracking_uri", str)])("sqlite:///unused.db")
    assert visuals.load_samples(inputs, "run42", tmp_path) is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: run run42: samples.pt is unreadable (")


def test_run_names_show_a_cells_levels_and_a_variant_as_before() -> None:
    import pandas as pd

    row = pd.Series({"stage": "confirm", "variant": "sngan.D", "number": 4, "seed": 2, "value": float("nan")})
    assert visuals.stored_run_name(row, ("sngan", "D")) == "confirm s2 · sngan · D"
    assert visuals.stored_run_name(row, ("sngan",)) == "confirm s2 · sngan.D"  # one level: the cell's name
    search = pd.Series({"stage": "search", "variant": "wgan_gp", "number": 3, "seed": 0})
    assert visuals.stored_run_name(search, ("wgan_gp",)) == visuals.stored_run_name(search) == "search t3 · wgan_gp"
    assert visuals.run_label(row, "w1", ("sngan", "D")) == "confirm s2 · sngan · D, w1 –"
