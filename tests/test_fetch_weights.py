"""`gan-ablate fetch-weights`: one download into the torch hub cache, checked; failures are one line.

A file:// URL stands in for the release (tests never download).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.metrics.inception import WEIGHTS_FILE
from tests.inception_support import write_random_inception
from tests.test_cli import run_main


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_inception(tmp_path_factory.mktemp("release"))


def test_it_downloads_once_into_the_hub_cache(source: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    target = tmp_path / "hub" / "checkpoints" / WEIGHTS_FILE
    code, out, err = run_main(capsys, ["fetch-weights", "--url", source.as_uri()])
    assert code == 0 and err == "" and out.startswith(f"saved {target} (sha256 ")
    assert target.read_bytes() == source.read_bytes()
    code, out, _ = run_main(capsys, ["fetch-weights", "--url", "file:///nowhere"])
    assert code == 0 and out.startswith("already there")  # nothing is fetched twice
    code, out, _ = run_main(capsys, ["fetch-weights", "--url", source.as_uri(), "--force"])
    assert code == 0 and out.startswith("saved")


def test_a_failed_download_is_one_line_and_leaves_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    code, out, err = run_main(capsys, ["fetch-weights", "--url", (tmp_path / "missing.pth").as_uri()])
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: --url: downloading file://") and "without internet, copy the file to" in err
    assert not list((tmp_path / "hub" / "checkpoints").glob("*"))


def test_it_is_listed_in_the_top_level_help(capsys) -> None:
    code, out, _ = run_main(capsys, ["--help"])
    assert code == 0 and "fetch-weights" in out
