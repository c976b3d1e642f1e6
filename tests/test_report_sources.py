"""A report that cannot read the tracking store never replaces, unannounced, one that could."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.errors import UserError
from harness.report import write_report
from harness.report.__main__ import main
from tests.report_support import GENERATED_AT, golden_raw, shared_stores
from tests.test_report_cli import write_yaml


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    return shared_stores(tmp_path_factory)


def test_a_report_without_its_tracking_store_keeps_the_better_one(stores: tuple, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    exp, _ = stores
    good = write_report(exp, exp.sweep.storage, exp.tracking.uri, tmp_path, generated_at=GENERATED_AT)
    assert json.loads((tmp_path / "sources.json").read_text())["tracking_read"] is True
    before = good.read_text()
    gone = f"sqlite:///{tmp_path / 'moved' / 'mlflow.db'}"
    with pytest.raises(UserError, match=r"^tracking.uri: no MLflow database at .*; kept the report in "):
        write_report(exp, exp.sweep.storage, gone, tmp_path, generated_at=GENERATED_AT)
    assert good.read_text() == before and json.loads((tmp_path / "sources.json").read_text())["tracking_read"]
    elsewhere = write_report(exp, exp.sweep.storage, gone, tmp_path / "poor", generated_at=GENERATED_AT)
    assert "no training curves, samples or run links" in capsys.readouterr().err  # written, and said so
    assert json.loads((tmp_path / "poor" / "sources.json").read_text())["tracking_read"] is False
    assert "MLflow: no MLflow database at" in elsewhere.read_text()
    write_report(exp, exp.sweep.storage, gone, tmp_path / "poor", generated_at=GENERATED_AT)  # nothing better there


def test_the_command_refuses_in_one_line_with_exit_2(stores: tuple, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    _, folder = stores
    config = write_yaml(tmp_path / "golden.yaml", golden_raw(folder))
    assert main([str(config), "--out", str(tmp_path / "r")]) == 0
    report = (tmp_path / "r" / "report.md").read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main([str(config), "--out", str(tmp_path / "r"), "--tracking-uri", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: tracking.uri: cannot reach MLflow at http://127.0.0.1:9") and "--out" in err
    assert (tmp_path / "r" / "report.md").read_text() == report
