"""`gan-ablate`: the installed command, its help, version, overrides, --print-config and argument errors."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from harness import __version__
from harness.cli import main
from harness.data import DATASETS
from harness.metrics import METRICS
from harness.recipes.presets import PRESETS

REPO = Path(__file__).resolve().parent.parent
TOY = str(REPO / "experiments" / "toy.yaml")


def run_main(capsys: pytest.CaptureFixture, argv: list[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        raise SystemExit(main(argv))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def test_the_console_script_is_declared_and_installed() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"gan-ablate": "harness.cli:main"}
    installed = Path(sys.executable).parent / "gan-ablate"
    done = subprocess.run([str(installed), "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == f"gan-ablate {__version__}"


def test_version(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run_main(capsys, ["--version"])
    assert code == 0 and out.strip() == f"gan-ablate {__version__}"


@pytest.mark.parametrize("command", ["sweep", "report", "train"])
def test_help_lists_examples_and_every_registered_name(capsys: pytest.CaptureFixture, command: str) -> None:
    code, out, _ = run_main(capsys, [command, "--help"])
    assert code == 0 and f"gan-ablate {command} experiments/" in out
    for registry in (PRESETS, DATASETS, METRICS):
        assert all(name in out for name in registry.names())
    assert "samplers  tpe, random" in out


def test_top_level_help_documents_the_exit_codes(capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run_main(capsys, ["--help"])
    assert code == 0 and all(name in out for name in ("sweep", "report", "train"))
    assert "130  interrupted" in out and "3    sweep settled, but some variant produced nothing usable" in out


def test_bare_overrides_equal_set_and_print_config_resolves_every_variant(capsys: pytest.CaptureFixture) -> None:
    code, bare, _ = run_main(capsys, ["sweep", TOY, "train.steps=7", "--print-config"])
    assert code == 0
    code, flagged, _ = run_main(capsys, ["sweep", TOY, "--set", "train.steps=7", "--print-config"])
    assert code == 0 and bare == flagged
    resolved = yaml.safe_load(bare)
    assert resolved["experiment"]["train"]["steps"] == 7
    runs = resolved["runs"]
    assert list(runs) == list(resolved["cells"]) == list(resolved["factors"]["variant"])
    assert all(run["train"]["steps"] == 7 and run["model"]["arch"] != "auto" for run in runs.values())
    code, narrowed, _ = run_main(capsys, ["sweep", TOY, "--only", "variant=wgan_gp", "--print-config"])
    assert code == 0 and list(yaml.safe_load(narrowed)["cells"]) == ["wgan_gp"]
    assert yaml.safe_load(narrowed)["cells"]["wgan_gp"] == {"variant": "wgan_gp"}


@pytest.mark.parametrize("argv", [["sweep", TOY, "--no-such-flag"], ["sweep", TOY, "--workers", "two"],
                                  ["nonsense"], ["sweep", TOY, "train.steps"], ["train", TOY]])
def test_argument_errors_are_one_line_and_exit_2(capsys: pytest.CaptureFixture, argv: list[str]) -> None:
    code, out, err = run_main(capsys, argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and "usage:" not in err


def test_config_errors_through_the_command_are_one_line(capsys: pytest.CaptureFixture) -> None:
    code, _, err = run_main(capsys, ["sweep", TOY, "train.steps=-1", "--dry-run"])
    assert code == 2 and err.startswith("error: train.steps: ") and err.count("\n") == 1


def test_the_python_m_forms_keep_working(tmp_path: Path) -> None:
    for module in ("harness.sweep", "harness.report", "harness.train"):
        done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120,
                              cwd=tmp_path)
        assert done.returncode == 0 and f"python -m {module}" in done.stdout


def test_an_override_before_the_config_is_named_as_misplaced(capsys: pytest.CaptureFixture, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_main(capsys, ["sweep", "train.steps=5", TOY, "--dry-run"])
    assert code == 2 and err.count("\n") == 1
    assert "argument CONFIG: 'train.steps=5' is an override, not a config file; the config comes first: " \
           f"gan-ablate sweep {TOY} train.steps=5" in err
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a=b.yaml").write_text((REPO / "experiments" / "toy.yaml").read_text())
    code, out, _ = run_main(capsys, ["sweep", "a=b.yaml", "--dry-run"])  # a config file whose name has an '='
    assert code == 0 and out.startswith("plan for ")
