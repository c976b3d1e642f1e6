"""A factorial design end to end: recipe (sngan, wgan_gp, vanilla) x setting (A, D) on the digits at a tiny
budget, without search, through the real command; then the stores (study names, levels, MLflow tags and run
names) and the report's design sections, checked against numbers computed here from the Optuna store."""

from __future__ import annotations

import re
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pytest
import yaml

from harness.report.tables import num
from harness.stores.keys import study_names
from tests.conftest import TINY
from tests.sweep_support import run_sweep_cli

pytestmark = pytest.mark.slow
RECIPES, SETTINGS = ("sngan", "wgan_gp", "vanilla"), ("A", "D")
SEEDS = 2
DESIGN = {
    "name": "design", "seed": 0,
    "data": {"name": "digits", "image_size": 8},
    "model": {"arch": "dcgan", "z_dim": 16, "width": 8, "critic_norm": "layer"},
    "train": {"steps": 12, "batch_size": 32, "lr": 2.0e-4, "log_every": 4, "eval_every": 4, "sample_every": 12,
              "device": "cpu"},
    "eval": {"num_samples": 200, "cache_dir": TINY["eval"]["cache_dir"]},
    "sweep": {"trials_per_variant": 0, "seeds": SEEDS, "objective": "fd_classifier", "heartbeat_seconds": 1,
              "grace_seconds": 3, "storage": "sqlite:///runs/optuna.db"},
    "tracking": {"uri": "sqlite:///runs/mlflow.db"},
    "factors": {"recipe": {"sngan": {"preset": "sngan"}, "wgan_gp": {"preset": "wgan_gp"}, "vanilla": "vanilla"},
                "setting": {"A": {"train": {"lr": 1.0e-4, "beta1": 0.5, "beta2": 0.9, "n_critic": 5}},
                            "D": {"train": {"lr": 1.0e-3, "beta1": 0.5, "beta2": 0.9, "n_critic": 5}}}},
}


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("design")
    config = folder / "design.yaml"
    config.write_text(yaml.safe_dump(DESIGN, sort_keys=False))
    done = run_sweep_cli(folder, config, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return folder, done.stdout


def seed_values(folder: Path) -> dict[tuple[str, str], list[float]]:
    storage = f"sqlite:///{folder / 'runs' / 'optuna.db'}"
    values = {}
    for recipe in RECIPES:
        for setting in SETTINGS:
            study = optuna.load_study(study_name=study_names("design", f"{recipe}.{setting}")[1], storage=storage)
            values[(recipe, setting)] = [t.value for t in study.get_trials() if t.value is not None]
    return values


def report_section(folder: Path, heading: str) -> str:
    text = (folder / "reports" / "design" / "report.md").read_text()
    start = text.index(heading)
    return text[start:text.index("\n#", start + len(heading))]


def test_the_sweep_plans_and_stores_one_study_pair_per_cell_with_its_levels(swept: tuple[Path, str]) -> None:
    folder, out = swept
    assert re.search(r"^  recipe +setting +lr +loss +constraint +trials +seeds +knobs$", out, re.MULTILINE), out
    assert re.search(r"^  vanilla +D +0\.001 +bce +none +0 +2 +\(no search: its own values\)$", out, re.MULTILINE)
    storage = f"sqlite:///{folder / 'runs' / 'optuna.db'}"
    names = {s.study_name: s for s in optuna.get_all_study_summaries(storage)}
    for recipe in RECIPES:
        for setting in SETTINGS:
            search, confirm = study_names("design", f"{recipe}.{setting}")
            assert names[search].user_attrs["levels"] == [["recipe", recipe], ["setting", setting]]
            assert names[search].user_attrs["budget"] == 0 and names[search].n_trials == 0
            assert names[confirm].n_trials == SEEDS
    assert "vanilla.D        no search (its own values)  confirm 2/2" in out


def test_every_trial_run_is_tagged_with_its_levels_and_named_after_them(swept: tuple[Path, str]) -> None:
    folder, _ = swept
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'runs' / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["design"], filter_string="tags.`harness.role` = 'trial'")
    assert len(runs) == len(RECIPES) * len(SETTINGS) * SEEDS
    for _, run in runs.iterrows():
        recipe, setting = run["tags.harness.factor.recipe"], run["tags.harness.factor.setting"]
        assert run["tags.mlflow.runName"] == f"confirm s{run['tags.harness.seed']} · {recipe} · {setting}"
        assert run["tags.harness.variant"] == f"{recipe}.{setting}"
    lrs = {(r["tags.harness.factor.setting"]): float(r["params.train.lr"]) for _, r in runs.iterrows()}
    assert lrs == {"A": 1.0e-4, "D": 1.0e-3}


def test_the_reports_matrix_and_main_effects_are_the_stored_values_means(swept: tuple[Path, str]) -> None:
    folder, _ = swept
    values = seed_values(folder)
    assert all(len(v) == SEEDS for v in values.values())
    matrix = report_section(folder, "### Cell matrix")
    for recipe in RECIPES:
        row = next(line for line in matrix.splitlines() if line.startswith(f"| {recipe} "))
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert [c.split(" [")[0] for c in cells] == [num(float(np.mean(values[(recipe, s)]))) for s in SETTINGS]
        assert all(c.endswith(f"(n = {SEEDS})") for c in cells)
    effects = report_section(folder, "### Main effects")
    for setting in SETTINGS:
        pooled = [v for r in RECIPES for v in values[(r, setting)]]
        assert re.search(rf"\| setting +\| {setting} +\| \d +\| {re.escape(num(float(np.mean(pooled))))} +\|", effects)
    assert (folder / "reports" / "design" / "design_matrix.png").stat().st_size > 1000


def test_the_reports_analysis_and_robustness_follow_from_the_stored_values(swept: tuple[Path, str]) -> None:
    """A balanced 3 x 2 design with 2 seeds a cell: type II sums of squares are the classic ones, computed
    here with numpy; robustness is each recipe's range over the settings."""
    folder, _ = swept
    values = seed_values(folder)
    y = np.array([[values[(r, s)] for s in SETTINGS] for r in RECIPES])  # recipe x setting x seed
    grand, cells = y.mean(), y.mean(axis=2)
    ss = {"recipe": SEEDS * len(SETTINGS) * ((y.mean(axis=(1, 2)) - grand) ** 2).sum(),
          "setting": SEEDS * len(RECIPES) * ((y.mean(axis=(0, 2)) - grand) ** 2).sum()}
    ss["recipe × setting"] = SEEDS * ((cells - grand) ** 2).sum() - ss["recipe"] - ss["setting"]
    analysis = report_section(folder, "### Two-way analysis")
    if "**ANOVA on the values**" in analysis:
        for effect, expected in ss.items():
            assert re.search(rf"\| {re.escape(effect)} +\| [\d, ]+\| {re.escape(num(float(expected)))} +\|", analysis)
    else:  # the residuals failed Shapiro-Wilk: the same terms on aligned ranks
        assert "aligned rank transform" in analysis.lower()
    robustness = report_section(folder, "### Robustness")
    for recipe in RECIPES:
        spread = float(np.ptp([np.mean(values[(recipe, s)]) for s in SETTINGS]))
        row = next(line for line in robustness.splitlines() if line.startswith(f"| {recipe} "))
        assert f"| {num(spread)} " in row
    verdicts = report_section(folder, "### Verdict per factor")
    assert "- **recipe**:" in verdicts and "- **setting**:" in verdicts and "No search" in verdicts
