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


E2E = {"train": {"steps": 20, "eval_every": 10, "sample_every": 10}, "sweep": {"trials_per_variant": 2, "seeds": 2}}


@pytest.mark.slow
def test_a_real_tiny_sweep_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture) -> None:
    from harness.sweep.__main__ import main as sweep_main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = write_yaml(tmp_path / "sweep.yaml", deep_merge(TINY_SWEEP, E2E))
    assert sweep_main([str(config)]) == 0
    assert main([str(config)]) == 0
    report = tmp_path / "reports" / "e2e" / "report.md"
    text = report.read_text(encoding="utf-8")
    print(text)  # shown with -s: a sample of a real report
    assert "## Verdict\n\nAt equal generator steps (" in text and "ranks first on w1 (lower is better)" in text
    assert "still improving" in text and (report.parent / "convergence.csv").is_file()
    assert "too few seeds to tell" in text  # 2 seeds per variant
    assert "What is missing" not in text and "| Git commit (of the runs) | unknown" not in text
    assert text.count("| confirm ") == 4 and text.count("| search ") == 4
    for name in ("samples.png", "dynamics.png", "eval_curve.png", "sensitivity.png", "history.png"):
        assert (report.parent / name).stat().st_size > 1000, name
