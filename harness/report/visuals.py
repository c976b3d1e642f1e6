"""The report's figure sections: sensitivity, training dynamics, final samples, optimization history.

Each section gathers its data (Optuna trials, MLflow metric histories and artifacts), draws one
figure with `harness.report.figures` beside the report, and says what it shows or what is missing.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from harness.recipes.constraints import combined
from harness.data import load_dataset
from harness.core.errors import UserError
from harness.report import figures, tables
from harness.tracking import read as mlflow_runs
from harness.report.render import Block, Bullets, Heading, Image, Table, Text
from harness.report.sections import ReportInputs, no_search_text
from harness.report.stats import IMPORTANCE_EVALUATOR
from harness.train.step_stats import COLUMNS
from harness.stores import keys
from harness.stores.keys import CONFIRM, SEARCH
from harness.train.visualize import GRID_IMAGES, SCATTER_POINTS, image_grid, real_samples


def train_quantities(inputs: ReportInputs) -> list[str]:
    """Every recipe's logged scalars, then the named diagnostics of the constraints the variants use."""
    runs = [inputs.exp.run(spec.name) for spec in inputs.exp.variants]
    return [*COLUMNS, *dict.fromkeys(d for run in runs for d in combined(run.train.constraints).diagnostics)]


def variant_names(inputs: ReportInputs) -> list[str]:
    return [info.variant for info in inputs.sweep.variants]


def colors(inputs: ReportInputs) -> dict[str, tuple]:
    return figures.palette(variant_names(inputs))


def sensitivity_section(inputs: ReportInputs, out_dir: Path) -> list[Block]:
    sweep = inputs.sweep
    objective, _ = tables.objective_of(sweep)
    searched = {info.variant: info.distributions for info in sweep.variants if info.distributions}
    blocks: list[Block] = [Heading("Sensitivity")]
    if not sweep.searched:
        return blocks + [Text(f"{no_search_text(inputs)}, so no knob was searched and there is no sensitivity "
                              "to show.")]
    if not searched:
        return blocks + [Text("No search trial is stored yet.")]
    search = sweep.trials[sweep.trials.stage == SEARCH]
    _, strips = figures.sensitivity(search, searched, objective, colors(inputs), out_dir / "sensitivity.png")
    importance, notes = tables.importances(sweep)
    crowded = (f" Too many trials for a swarm in {', '.join(strips)}: a **strip plot** there, every point spread "
               "sideways at random (fixed seed) within its value, so overlapping points hide each other but none "
               "is dropped." if strips else "")
    blocks += [Text(f"{objective} of every complete search trial against each knob the variant searches (a log "
                    f"axis where the search range is log; a swarm per value for a choice of values).{crowded}"),
               Image("sensitivity.png", "objective against each knob, per variant"),
               Text(f"Optuna's parameter importances of the search trials, by the **{IMPORTANCE_EVALUATOR}** "
                    "evaluator (`optuna.importance.PedAnovaImportanceEvaluator`, Optuna 5's default; not fANOVA), "
                    "normalized to sum to 1 per variant; – where the knob does not apply. With one knob the "
                    "importance is 1 by construction, and with few trials it is a rough guide only."),
               Table(tables.display_importances(importance), "importances.csv", importance, index=True)]
    return blocks + ([Bullets(tuple(notes))] if notes else [])


def best_runs(inputs: ReportInputs) -> dict[str, pd.Series]:
    """Each variant's best trial (confirmation first), where one exists."""
    found = {info.variant: tables.best_trial(inputs.sweep, info) for info in inputs.sweep.variants}
    return {variant: row for variant, row in found.items() if row is not None}


def run_label(row: pd.Series, objective: str, levels: tuple[str, ...] = ()) -> str:
    """A run by its one name (its MLflow run's: `confirm s1 · vanilla`, `confirm s1 · sngan · D`) and its
    objective."""
    return f"{stored_run_name(row, levels)}, {objective} {tables.num(row.value)}"


def stored_run_name(row: pd.Series, levels: tuple[str, ...] = ()) -> str:
    """The MLflow run name the sweep gave the trial; `levels`: its cell's level names (VariantInfo.level_names)."""
    seed = int(row.seed) if row.stage == CONFIRM and pd.notna(row.seed) else 0
    return keys.run_name(row.stage, row.variant, int(row.number), seed, levels=levels)


def best_run_label(inputs: ReportInputs, row: pd.Series, objective: str) -> str:
    return run_label(row, objective, inputs.sweep.info(row.variant).level_names)


def training_curves(inputs: ReportInputs, best: dict[str, pd.Series]) -> pd.DataFrame:
    """The logged training quantities of each variant's best run, long form with a variant column."""
    quantities = train_quantities(inputs)
    curves = [mlflow_runs.metric_history(inputs.tracking_uri, row.mlflow_run_id, quantities).assign(
        variant=variant) for variant, row in best.items() if isinstance(row.mlflow_run_id, str)]
    return pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=["key", "step", "value",
                                                                                     "variant"])


def dynamics_section(inputs: ReportInputs, out_dir: Path) -> list[Block]:
    objective, _ = tables.objective_of(inputs.sweep)
    names = variant_names(inputs)
    blocks: list[Block] = [Heading("Training dynamics")]
    best = best_runs(inputs)
    curves = None if inputs.runs is None or not best else training_curves(inputs, best)
    if curves is None or curves.empty:
        reason = inputs.tracking_problem or ("no finished run yet" if not best else "no metrics stored in MLflow")
        blocks.append(Text(f"Loss curves come from MLflow: {reason}."))
    else:
        figures.dynamics(curves, train_quantities(inputs), names, colors(inputs), out_dir / "dynamics.png")
        blocks += [Text("Logged training quantities (means over each logging window; grad_norm_max the window's "
                        "maximum) of each variant's best run:"),
                   Bullets(tuple(f"{best_run_label(inputs, row, objective)} (run "
                                 f"{inputs.run_cell(row.mlflow_run_id)})" for row in best.values())),
                   Image("dynamics.png", "training curves of each variant's best run")]
    steps = inputs.sweep.steps[inputs.sweep.steps.stage == CONFIRM]
    if steps.empty:
        return blocks + [Text(f"No confirmation run has reported {objective} yet.")]
    figures.eval_curve(steps, objective, names, colors(inputs), out_dir / "eval_curve.png")
    seeds = steps.groupby("variant").number.nunique()
    counts = ", ".join(f"{variant} {seeds[variant]}" for variant in names if variant in seeds)
    return blocks + [Text(f"{objective} at each evaluation of the confirmation runs (mean ± one standard "
                          f"deviation over seeds; seeds per variant: {counts}; with 1 seed there is no band):"),
                     Image("eval_curve.png", f"{objective} over training steps")]


def load_samples(inputs: ReportInputs, run_id: str, tmp: Path) -> np.ndarray | None:
    """The run's final samples as a picture array: an image grid, or the first points."""
    path = mlflow_runs.download_artifact(inputs.tracking_uri, run_id, "samples.pt", tmp / run_id)
    if path is None:
        return None
    try:
        samples = torch.load(path, map_location="cpu", weights_only=True)
        if samples.ndim == 2:
            return samples[:SCATTER_POINTS].float().numpy()
        return image_grid(samples[:GRID_IMAGES])
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign artifact: the report shows no grid for it
        print(f"warning: run {run_id}: samples.pt is unreadable ({type(exc).__name__}); its samples are not shown",
              file=sys.stderr, flush=True)
        return None


@dataclass(frozen=True)
class RealData:
    picture: np.ndarray | None  # an image grid, or points
    centers: np.ndarray | None  # the toys' true modes
    problem: str | None  # why the data could not be loaded


def real_data(inputs: ReportInputs) -> RealData:
    """The real data as the sweep trained on it (the stored data settings, today's data.root), on the CPU."""
    run = inputs.exp.run(inputs.exp.variants[0].name)
    try:
        dataset = load_dataset(run.data, torch.device("cpu"))
    except (UserError, OSError) as exc:  # e.g. MNIST's files are on the machine that trained, not here
        return RealData(None, None, str(exc))
    centers = getattr(dataset, "centers", None)
    real = real_samples(dataset, SCATTER_POINTS if dataset.kind == "points" else GRID_IMAGES)
    picture = real.float().numpy() if dataset.kind == "points" else image_grid(real)
    return RealData(picture, None if centers is None else centers.cpu().numpy(), None)


def samples_section(inputs: ReportInputs, out_dir: Path) -> list[Block]:
    objective, _ = tables.objective_of(inputs.sweep)
    best = best_runs(inputs)
    heading = Heading("Final samples")
    if inputs.runs is None or not best:
        return [heading, Text("Samples come from MLflow artifacts: " + (inputs.tracking_problem or
                                                                        "no finished run yet") + ".")]
    with tempfile.TemporaryDirectory() as tmp:
        pictures = {v: load_samples(inputs, row.mlflow_run_id, Path(tmp)) if isinstance(row.mlflow_run_id, str)
                    else None for v, row in best.items()}
    titles = {v: best_run_label(inputs, row, objective) for v, row in best.items()}
    real = real_data(inputs)
    figures.samples(pictures, real.centers, titles, colors(inputs), out_dir / "samples.png", real.picture)
    kind = "generated points over the true modes (red crosses)" if real.centers is not None else "samples"
    first = (f"First, the **real data** ({inputs.exp.data.name}, the same samples every time) for comparison. "
             if real.picture is not None else f"(No real-data picture: {real.problem}.) ")
    return [heading, Text(f"{first}Then each variant's best run: {kind}, from the generator's samples on the fixed "
                          "evaluation noise (`samples.pt`)."), Image("samples.png", "final samples per variant")]


def history_section(inputs: ReportInputs, out_dir: Path) -> list[Block]:
    objective, direction = tables.objective_of(inputs.sweep)
    search = inputs.sweep.trials[inputs.sweep.trials.stage == SEARCH]
    started = [info.variant for info in inputs.sweep.variants if info.search is not None]
    heading = Heading("Optimization history")
    if not inputs.sweep.searched:
        return [heading, Text(f"{no_search_text(inputs)}, so there is no search history to show.")]
    if search.empty:
        return [heading, Text("No search trial is stored yet.")]
    figures.history(search, started, objective, direction, colors(inputs), out_dir / "history.png")
    return [heading, Text(f"{objective} of each complete search trial by trial number, the best so far, and the "
                          "trials that did not complete as red ticks."),
            Image("history.png", "optimization history per variant")]
