"""`python -m harness.report`: options and errors as the sweep has them, and a real tiny sweep end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.report.__main__ import main
from tests.conftest import deep_merge
from tests.report_support import golden_raw, shared_stores
from tests.sweep_support import TINY_SWEEP


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    return shared_stores(tmp_path_factory)


def write_yaml(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw))
    return path


def error_of(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    return err.strip()


def test_no_stored_results_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = write_yaml(tmp_path / "c.yaml", deep_merge(TINY_SWEEP, {}))
    assert error_of(capsys, [str(config)]).startswith("error: sweep.storage: no Optuna results at "
                                                      "sqlite:///runs/optuna.db")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "reports").exists()


def test_urls_are_checked_and_passwords_never_printed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = write_yaml(tmp_path / "c.yaml", deep_merge(TINY_SWEEP, {}))
    assert error_of(capsys, [str(config), "--tracking-uri", "file:///x"]).startswith(
        "error: --tracking-uri: 'file:///x' is not a supported URL")
    err = error_of(capsys, [str(config), "--storage", "postgresql://me:s3cret@127.0.0.1:1/optuna"])
    assert "s3cret" not in err and "me:***@127.0.0.1:1" in err
    assert error_of(capsys, [str(config), "--set", "sweep.seeds=-1"]).startswith("error: sweep.seeds:")


def test_tracking_uri_precedence_flag_then_environment_then_yaml(stores: tuple, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _, folder = stores
    raw = deep_merge(golden_raw(folder), {"tracking": {"uri": "sqlite:///nowhere/mlflow.db"}})
    config = write_yaml(tmp_path / "golden.yaml", raw)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    assert main([str(config), "--out", str(tmp_path / "env")]) == 0
    assert f"tracking sqlite:///{folder / 'mlflow.db'}" in capsys.readouterr().out
    assert "MLflow: no MLflow database" not in (tmp_path / "env" / "report.md").read_text()
    assert main([str(config), "--out", str(tmp_path / "flag"), "--tracking-uri", "sqlite:///flag.db",
                 "--format", "html"]) == 0
    assert f"wrote {tmp_path / 'flag' / 'report.html'}" in capsys.readouterr().out
    assert "no MLflow database at sqlite:///flag.db" in (tmp_path / "flag" / "report.html").read_text()


def test_a_config_that_differs_from_what_ran_is_one_warning_line(stores: tuple, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    _, folder = stores
    config = write_yaml(tmp_path / "golden.yaml", golden_raw(folder))
    assert main([str(config), "--out", str(tmp_path / "r"), "--set", "train.steps=80"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: the config given differs from what ran, and the "
                                                    "report describes what ran: train.steps: 80 given, 40 stored")
    text = (tmp_path / "r" / "report.md").read_text()
    assert "; 40 generator steps/run " in text and "differs from what ran, which this report describes: " in text


E2E = {"train": {"steps": 20, "eval_every": 10, "sample_every": 10}, "sweep": {"trials_per_variant": 2, "seeds": 3}}


@pytest.mark.slow
def test_a_real_tiny_sweep_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture) -> None:
    """The sweep runs with flags its YAML lacks (30 steps, 2 seeds: 8 runs); a report made from the YAML
    alone, or with other flags, still describes what ran: both directions of a mismatch."""
    from harness.sweep.__main__ import main as sweep_main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = write_yaml(tmp_path / "sweep.yaml", deep_merge(TINY_SWEEP, E2E))
    assert sweep_main([str(config), "--set", "train.steps=30", "--set", "sweep.seeds=2"]) == 0
    capsys.readouterr()
    assert main([str(config)]) == 0  # the YAML's 20 steps and 3 seeds
    assert "train.steps: 20 given, 30 stored" in capsys.readouterr().err
    report = tmp_path / "reports" / "e2e" / "report.md"
    text = report.read_text(encoding="utf-8")
    print(text)  # shown with -s: a sample of a real report
    assert "## Verdict\n\nAt equal generator steps (30 per run)" in text and "ranks first on w1 (lower is better)" in text
    assert "+ 2 confirmation seeds; 30 generator steps/run " in text
    assert "still improving" in text and (report.parent / "convergence.csv").is_file()
    assert "too few seeds to tell" in text  # 2 seeds per variant
    assert "What is missing" not in text and "| Git commit (of the runs) | unknown" not in text
    assert text.count("| confirm ") == 4 and text.count("| search ") == 4
    for name in ("samples.png", "dynamics.png", "eval_curve.png", "sensitivity.png", "history.png"):
        assert (report.parent / name).stat().st_size > 1000, name
    assert main([str(config), "--set", "train.steps=120", "--out", "other"]) == 0  # the other direction
    assert "train.steps: 120 given, 30 stored" in capsys.readouterr().err
    other = (tmp_path / "other" / "report.md").read_text(encoding="utf-8")
    assert "(30 per run)" in other and "What is missing" not in other
