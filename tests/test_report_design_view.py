"""The design sections on a stored 2 x 2 sweep (real Optuna studies, no training): what they say, the
heatmap's colours and layout, the refusals, and nothing at all for a one-factor design."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.trial import FrozenTrial, TrialState

from harness.config.recipe import recipe_text, sweep_settings_text
from harness.config.resolve import ExperimentConfig, parse_experiment, resolve_run
from harness.report import design as d, design_anova as a, design_view as view, gather, tables, validity
from harness.report.design_analysis_view import method_name
from harness.report.design_matrix_view import FIGURE
from harness.report.render import Heading, Image, to_markdown
from harness.stores import keys
from tests.report_support import GENERATED_AT, canonical_table_row, shared_stores

T975_2 = 4.302652730  # Student's t, 97.5% quantile, 2 df


# w1 (minimized) per cell and seed: wgan_gp is lower than vanilla everywhere; setting D is worse for both.
VALUES = {"vanilla.A": [1.30, 1.36, 1.33], "vanilla.D": [1.61, 1.52, 1.57],
          "wgan_gp.A": [0.85, 0.80, 0.88], "wgan_gp.D": [0.90, 0.96, 0.93]}
IMPROVING = ("wgan_gp.D",)  # its curve still falls over the last half of training; the others are flat


def raw(folder: Path, seeds: int = 3) -> dict[str, Any]:
    return {"name": "grid", "seed": 0, "data": {"name": "ring8"}, "model": {"width": 32, "depth": 2},
            "train": {"steps": 40, "log_every": 10, "eval_every": 10, "sample_every": 20, "device": "cpu"},
            "eval": {"num_samples": 300},
            "sweep": {"trials_per_variant": 0, "seeds": seeds, "objective": "w1", "report": False,
                      "storage": f"sqlite:///{folder / 'optuna.db'}"},
            "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"},  # never written: the report says so
            "factors": {"recipe": {"vanilla": {"preset": "vanilla"}, "wgan_gp": {"preset": "wgan_gp"}},
                        "setting": {"A": {"train": {"lr": 1.0e-4}}, "D": {"train": {"lr": 1.0e-3}}}}}


def history(cell: str, value: float) -> dict[str, list[float]]:
    steps = [10.0, 20.0, 30.0, 40.0]
    values = [value + 0.5 * (40 - s) / 30 for s in steps] if cell in IMPROVING else [value + 0.3, value, value, value]
    return {"step": steps, "value": values, "cost_generator_steps": steps, "cost_critic_updates": steps,
            "cost_images_seen": [s * 64 for s in steps], "cost_train_seconds": [s * 0.1 for s in steps]}


def confirm_trial(number: int, cell: str, value: float) -> FrozenTrial:
    attrs = {keys.STAGE: keys.CONFIRM, keys.SEED: number + 1, keys.EVAL_HISTORY: history(cell, value),
             keys.FINAL_METRICS: {"w1": value}}
    start = datetime(2025, 1, 2, 3, 0, 0) + timedelta(minutes=number)
    return FrozenTrial(number=number, state=TrialState.COMPLETE, value=value, datetime_start=start,
                       datetime_complete=start + timedelta(seconds=5), params={}, distributions={}, user_attrs=attrs,
                       system_attrs={}, intermediate_values={}, trial_id=0)


def store(exp: ExperimentConfig, values: dict[str, list[float]]) -> None:
    """A design with no search, as the sweep stores it: per cell a search study holding the budget 0, its
    levels and recipe, and a confirmation study of one run per seed with no source trial. A cell missing
    from `values` was never started."""
    for spec in exp.variants:
        if spec.name not in values:
            continue
        search_name, confirm_name = keys.study_names(exp.name, spec.name)
        search = optuna.create_study(study_name=search_name, storage=exp.sweep.storage, direction="minimize")
        overrides = {factor: level_record(exp, factor, level) for factor, level in spec.levels}
        for key, value in {keys.VARIANT: spec.name, keys.OBJECTIVE: "w1", keys.BUDGET: 0,
                           keys.RECIPE: recipe_text(resolve_run(exp, spec.name)),
                           keys.SWEEP_SETTINGS: sweep_settings_text(exp), keys.LEVELS: [list(p) for p in spec.levels],
                           keys.LEVEL_OVERRIDES: overrides}.items():
            search.set_user_attr(key, value)
        confirm = optuna.create_study(study_name=confirm_name, storage=exp.sweep.storage, direction="minimize")
        for number, value in enumerate(values[spec.name]):
            confirm.add_trial(confirm_trial(number, spec.name, value))


def level_record(exp: ExperimentConfig, factor: str, level: str) -> dict[str, Any]:
    """keys.LEVEL_OVERRIDES' entry of one level: its name, preset and own values."""
    found = next(lv for f in exp.factors if f.name == factor for lv in f.levels if lv.name == level)
    return {"level": level, "preset": found.preset, **{s: dict(found.overrides.get(s, {})) for s in ("train", "model")}}


def inputs_of(folder: Path, values: dict[str, list[float]], seeds: int = 3):
    exp = parse_experiment(raw(folder, seeds))
    store(exp, values)
    return gather(exp, exp.sweep.storage, exp.tracking.uri, GENERATED_AT)


@pytest.fixture(scope="module")


def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Any]:
    folder = tmp_path_factory.mktemp("design")
    inputs = inputs_of(folder, VALUES)
    blocks = view.design_sections(inputs, validity.assess(inputs), folder)
    return markdown(blocks), folder, blocks


def markdown(blocks: list) -> str:
    """The sections' Markdown without the tables' alignment padding."""
    return "\n".join(canonical_table_row(line) for line in to_markdown(blocks).split("\n"))


def interval_text(values: list[float]) -> str:
    """`mean [low, high] (n = 3)` computed here with numpy and the t quantile."""
    x = np.asarray(values)
    half = T975_2 * x.std(ddof=1) / math.sqrt(x.size)
    return f"{tables.num(x.mean())} [{tables.num(x.mean() - half)}, {tables.num(x.mean() + half)}] (n = {x.size})"


def test_the_sections_come_in_reading_order(written) -> None:
    _, folder, blocks = written
    headings = [b.text for b in blocks if isinstance(b, Heading)]
    assert headings == ["Design: recipe × setting", "Cell matrix", "Main effects", "Two-way analysis", "Robustness",
                        "Verdict per factor"]
    assert [b.path for b in blocks if isinstance(b, Image)] == [FIGURE] and (folder / FIGURE).is_file()


def test_the_design_says_what_each_level_sets_and_which_values_differ(written) -> None:
    text, _, _ = written
    assert "recipe (2) × setting (2) = 4 combinations, 4 of them cells of the design" in text
    assert "| recipe | vanilla | preset `vanilla` | 2 |" in text
    assert "| setting | D | train.lr=0.001 | 2 |" in text
    assert "train.lr" in text.split("The effective values that differ between cells")[1]


def test_the_matrix_shows_each_cells_mean_interval_and_n_rows_by_the_first_factor(written) -> None:
    text, _, _ = written
    row = f"| wgan_gp | {interval_text(VALUES['wgan_gp.A'])} | {interval_text(VALUES['wgan_gp.D'])} |"
    assert "| recipe \\ setting | setting = A | setting = D |" in text and row in text


def test_main_effects_pool_the_seeds_of_a_levels_cells(written) -> None:
    text, _, _ = written
    pooled = np.array(VALUES["wgan_gp.A"] + VALUES["wgan_gp.D"])
    half = 2.570581836 * pooled.std(ddof=1) / math.sqrt(6)  # t, 97.5%, 5 df
    assert (f"| recipe | wgan_gp | 1 | {tables.num(pooled.mean())} | [{tables.num(pooled.mean() - half)}, "
            f"{tables.num(pooled.mean() + half)}] | 6 | 2 |") in text


def test_the_analysis_says_which_anova_and_why(written) -> None:
    text, _, _ = written
    seeds = pd.DataFrame([(c, *c.split("."), v) for c, vs in VALUES.items() for v in vs],
                         columns=["cell", "recipe", "setting", "value"])
    found = a.analyse(seeds, d.design_of([(c, (("recipe", c.split(".")[0]), ("setting", c.split(".")[1])))
                                          for c in VALUES]))
    assert f"**{method_name(found)}**: full factorial model: every cell has at least 2 seeds (n = 3–3)" in text
    assert f"Shapiro-Wilk (p = {found.shapiro_p:.2g}" in text and "Levene, median-centred): p = " in text
    row = found.row("recipe × setting")
    assert (f"| recipe × setting | 1, 8 | {tables.num(row.sum_sq)} | {tables.num(row.F, 3)} | {tables.num(row.p, 2)} "
            f"| {tables.num(row.partial_eta_sq, 2)} |") in text


def test_robustness_ranks_the_first_factor_by_its_worst_cell(written) -> None:
    text, _, _ = written
    worst = np.mean(VALUES["wgan_gp.D"])
    assert f"| wgan_gp | {tables.num(worst)} (setting = D) |" in text
    assert text.index("| wgan_gp | ") < text.index("| vanilla | ", text.index("### Robustness"))


def test_the_verdict_is_scoped_by_convergence_and_says_there_was_no_search(written) -> None:
    text, _, _ = written
    recipe = next(line for line in text.splitlines() if line.startswith("- **recipe**"))
    assert "**wgan_gp** has the best marginal w1 (lower is better)" in recipe
    assert "**wgan_gp is best at this budget**, averaged over setting" in recipe
    assert "Not converged: wgan_gp.D still improving: late gain" in recipe and "vanilla.A" not in recipe.split(
        "Not converged")[1].split(".")[0]
    assert "No search (`sweep.trials_per_variant: 0`, stored budget 0)" in recipe
    assert "At equal training time (T = 4 s, w1 interpolated at T) wgan_gp leads too" in recipe
    setting = next(line for line in text.splitlines() if line.startswith("- **setting**"))
    assert "**A** has the best marginal w1" in setting


def test_one_seed_per_cell_prints_no_f_and_no_call(tmp_path: Path) -> None:
    inputs = inputs_of(tmp_path, {cell: values[:1] for cell, values in VALUES.items()}, seeds=1)
    text = markdown(view.design_sections(inputs, validity.assess(inputs), tmp_path))
    analysis = text.split("### Two-way analysis")[1].split("###")[0]
    assert "**no analysis**, because 4 of 4 cells have fewer than 2 seeds" in analysis
    assert "No F or p is shown" in analysis and "F(" not in text and "| F |" not in analysis
    assert "**Not tested**" in text
    assert f"| vanilla | {tables.num(VALUES['vanilla.A'][0])} (n = 1) |" in text  # one seed: the value, no interval


def test_a_cell_not_started_shows_a_dash_and_why(tmp_path: Path) -> None:
    inputs = inputs_of(tmp_path, {cell: v for cell, v in VALUES.items() if cell != "vanilla.D"})
    text = markdown(view.design_sections(inputs, validity.assess(inputs), tmp_path))
    assert "– (not started) |" in text
    assert "the design is incomplete: 1 of 4 cells have no finished seed (vanilla.D)" in text


def test_a_variants_list_gets_no_section(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    exp, _ = shared_stores(tmp_path_factory)
    inputs = gather(exp, exp.sweep.storage, exp.tracking.uri, GENERATED_AT)
    assert view.design_sections(inputs, validity.assess(inputs), tmp_path) == []
    assert not (tmp_path / FIGURE).exists()


def test_a_named_factor_alone_gets_its_design_section_only(tmp_path: Path) -> None:
    """`factors: {setting: {A, D}}`: what each level sets is shown; the comparison is the report's own."""
    config = raw(tmp_path)
    config["factors"] = {"setting": config["factors"]["setting"]}
    exp = parse_experiment(config)
    store(exp, {"A": [1.0, 1.1, 1.2], "D": [2.0, 2.1, 2.2]})
    inputs = gather(exp, exp.sweep.storage, exp.tracking.uri, GENERATED_AT)
    text = markdown(view.design_sections(inputs, validity.assess(inputs), tmp_path))
    assert text.startswith("## Design: setting") and "| setting | D | train.lr=0.001 | 1 |" in text, text
    assert "no search ran: every seed trained these values" in text
    assert "Cell matrix" not in text and not (tmp_path / FIGURE).exists()
