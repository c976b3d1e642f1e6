"""write_report on a small stored sweep: the Markdown and CSVs match the golden files exactly.

Run IDs (random in MLflow), the stores' folder and the config hash are masked; everything else,
numbers included, must be identical. After an intended change, regenerate with
`UPDATE_GOLDEN=1 python -m pytest tests/test_report_golden.py` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.report import write_report
from tests.report_support import GENERATED_AT, normalize, shared_stores

GOLDEN = Path(__file__).parent / "golden" / "report"
TEXT_FILES = ("report.md", "results.csv", "pairwise.csv", "importances.csv", "failures.csv", "runs.csv", "trials.csv",
              "convergence.csv", "equal_time.csv", "equal_time_pairwise.csv", "budget_curve.csv")
FIGURES = ("sensitivity.png", "dynamics.png", "eval_curve.png", "samples.png", "history.png", "time_curve.png",
           "budget_curve.png")


@pytest.fixture(scope="session")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    exp, folder = shared_stores(tmp_path_factory)
    return write_report(exp, exp.sweep.storage, exp.tracking.uri, folder / "report", generated_at=GENERATED_AT), folder


@pytest.mark.parametrize("name", TEXT_FILES)
def test_matches_the_golden_file(report: tuple[Path, Path], name: str) -> None:
    path, folder = report
    text = normalize((path.parent / name).read_text(encoding="utf-8"), folder)
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_figures_are_written_beside_the_report_and_linked_relatively(report: tuple[Path, Path]) -> None:
    path, _ = report
    text = path.read_text(encoding="utf-8")
    for name in FIGURES:
        assert (path.parent / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in text


def test_the_same_stores_give_the_same_report(report: tuple[Path, Path], tmp_path: Path) -> None:
    path, _ = report
    exp, _ = shared_stores(None)
    again = write_report(exp, exp.sweep.storage, exp.tracking.uri, tmp_path, generated_at=GENERATED_AT)
    assert again.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
    for name in FIGURES:
        assert (tmp_path / name).read_bytes() == (path.parent / name).read_bytes()


def test_html_format(report: tuple[Path, Path], tmp_path: Path) -> None:
    exp, _ = shared_stores(None)
    page = write_report(exp, exp.sweep.storage, exp.tracking.uri, tmp_path, fmt="html", generated_at=GENERATED_AT)
    text = page.read_text(encoding="utf-8")
    assert page.name == "report.html" and text.startswith("<!DOCTYPE html>")
    assert "<h2>Verdict</h2>" in text and '<img src="samples.png"' in text and (tmp_path / "results.csv").exists()
    with pytest.raises(ValueError, match="allowed: md, html"):
        write_report(exp, exp.sweep.storage, exp.tracking.uri, tmp_path, fmt="pdf")
