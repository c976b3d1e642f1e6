"""A small stored sweep made without training, for the report's tests.

Optuna trials are written with `study.add_trial` (fixed params, values, intermediate values,
user attrs and datetimes), each search study records its recipe and sweep settings as the sweep
does, and MLflow runs with fixed metrics and timestamps through MlflowClient,
into SQLite stores in a folder. Only MLflow's run IDs are random: `normalize` masks them.

The sweep (objective w1, minimize; 3 seeds asked):
- vanilla: 4 complete search trials, 3 confirmation runs.
- wgan_clip: partial: one search trial running, three waiting, nothing finished.
- wgan_gp: search with a diverged, a pruned and a killed (re-queued) trial; 3 confirmation runs,
  clearly better than vanilla.
- wgan_gp_sched: search with an error; 2 confirmation runs done and 1 running (too few seeds).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import FrozenTrial, TrialState

from harness.stores import keys
from harness.config.resolve import ExperimentConfig, parse_experiment, resolve_run
from harness.config.recipe import recipe_text, sweep_settings_text
from harness.stores.keys import study_names

T0 = datetime(2025, 1, 2, 3, 0, 0)
GENERATED_AT = datetime(2025, 1, 3, 12, 0, tzinfo=timezone.utc)
STEPS = (20, 40)
SCALARS = ("d_loss", "g_loss", "wasserstein", "gp", "grad_norm_mean", "grad_norm_max")
LAMBDA_GP = FloatDistribution(0.1, 100.0, log=True)
N_CRITIC = CategoricalDistribution((1, 2, 5))


def golden_raw(folder: Path) -> dict[str, Any]:
    """The experiment as YAML would hold it, its stores in `folder`."""
    return {
        "name": "golden", "seed": 0, "data": {"name": "ring8"}, "model": {"width": 32, "depth": 2},
        "train": {"steps": 40, "log_every": 10, "eval_every": 20, "sample_every": 20, "device": "cpu"},
        "eval": {"num_samples": 300},
        "sweep": {"trials_per_variant": 4, "seeds": 3, "objective": "w1", "report": False,
                  "storage": f"sqlite:///{folder / 'optuna.db'}",
                  "space": {"lambda_gp": {"low": 0.1, "high": 100.0, "log": True}, "n_critic": {"choices": [1, 2, 5]}}},
        "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"},
        "variants": ["vanilla", "wgan_clip", "wgan_gp", "wgan_gp_sched"],
    }


def golden_config(folder: Path) -> ExperimentConfig:
    return parse_experiment(golden_raw(folder))


@dataclass(frozen=True)
class Spec:
    """One stored trial: its state, objective, knobs and what the sweep would have recorded."""

    state: TrialState
    value: float | None = None
    params: dict[str, Any] | None = None
    outcome: str | None = None
    reason: str | None = None
    seed: int | None = None
    retry_of: int | None = None  # the killed trial this one re-runs


def knobs(variant: str, lambda_gp: float, n_critic: int) -> dict[str, Any]:
    return {"n_critic": n_critic} if variant in ("vanilla", "wgan_clip") else {"lambda_gp": lambda_gp,
                                                                              "n_critic": n_critic}


C, P, F, R, W = TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING, TrialState.WAITING
PLAN: dict[str, dict[str, list[Spec]]] = {
    "vanilla": {
        "search": [Spec(C, 1.42, knobs("vanilla", 0, 5)), Spec(C, 1.31, knobs("vanilla", 0, 1)),
                   Spec(C, 1.37, knobs("vanilla", 0, 2)), Spec(C, 1.33, knobs("vanilla", 0, 1))],
        "confirm": [Spec(C, v, knobs("vanilla", 0, 1), seed=s) for s, v in ((1, 1.35), (2, 1.29), (3, 1.32))]},
    "wgan_clip": {"search": [Spec(R, params=knobs("wgan_clip", 0, 5)), Spec(W), Spec(W), Spec(W)], "confirm": []},
    "wgan_gp": {
        "search": [Spec(C, 0.91, knobs("wgan_gp", 10.0, 5)),
                   Spec(P, None, knobs("wgan_gp", 0.13, 1), "diverged", "diverged at step 7 (d_loss is not finite)"),
                   Spec(F, None, knobs("wgan_gp", 31.6, 2), "interrupted", "interrupted by the user; re-queued"),
                   Spec(P, None, knobs("wgan_gp", 2.5, 2), "pruned", "pruned at step 20 (w1=1.9)"),
                   Spec(C, 0.84, knobs("wgan_gp", 31.6, 2), retry_of=2)],
        "confirm": [Spec(C, v, knobs("wgan_gp", 31.6, 2), seed=s) for s, v in ((1, 0.86), (2, 0.81), (3, 0.88))]},
    "wgan_gp_sched": {
        "search": [Spec(C, 0.95, knobs("wgan_gp_sched", 10.0, 5)), Spec(C, 1.02, knobs("wgan_gp_sched", 1.0, 1)),
                   Spec(F, None, knobs("wgan_gp_sched", 50.0, 2), "error", "RuntimeError: CUDA error | boom"),
                   Spec(C, 0.89, knobs("wgan_gp_sched", 5.0, 5))],
        "confirm": [Spec(C, 0.90, knobs("wgan_gp_sched", 5.0, 5), seed=1),
                    Spec(C, 0.97, knobs("wgan_gp_sched", 5.0, 5), seed=2),
                    Spec(R, None, knobs("wgan_gp_sched", 5.0, 5), seed=3)]},
}
SOURCE_TRIAL = {"vanilla": 1, "wgan_gp": 4, "wgan_gp_sched": 3}


def final_metrics(value: float) -> dict[str, float]:
    return {"w1": value, "modes": round(8 - 4 * value), "hq_fraction": round(1 - value / 2, 3),
            "reverse_kl": round(value / 3, 4), "eval_seconds": 0.03}


HISTORY_STEPS = (10, 20, 30, 40)
SECONDS_PER_STEP = {"vanilla": 0.05, "wgan_clip": 0.1, "wgan_gp": 0.2, "wgan_gp_sched": 0.2}
STILL_IMPROVING = ("wgan_gp",)  # falls steadily to its final value; the others are flat after step 10


def eval_history(variant: str, value: float) -> dict[str, list[float]]:
    """What the sweep stores as `eval_history`: four evaluations with their cost counters."""
    if variant in STILL_IMPROVING:
        values = [value + 0.5 * (40 - s) / 30 for s in HISTORY_STEPS]
    else:
        values = [value + 0.3, value + 0.02, value + 0.01, value]
    n_critic = 5
    return {"step": [float(s) for s in HISTORY_STEPS], "value": values,
            "cost_generator_steps": [float(s) for s in HISTORY_STEPS],
            "cost_critic_updates": [float(s * n_critic) for s in HISTORY_STEPS],
            "cost_images_seen": [float(s * n_critic * 64) for s in HISTORY_STEPS],
            "cost_train_seconds": [s * SECONDS_PER_STEP[variant] for s in HISTORY_STEPS]}


def frozen(number: int, stage: str, spec: Spec, run_id: str | None, clock: datetime, source: int,
           variant: str = "vanilla") -> FrozenTrial:
    params = spec.params or {}
    attrs: dict[str, Any] = {"stage": stage, "worker": "host:1"}
    if run_id:
        attrs["mlflow_run_id"] = run_id
    if spec.seed is not None:
        attrs.update(seed=spec.seed, source_trial=source)
    if spec.outcome:
        attrs.update(outcome=spec.outcome, reason=spec.reason)
    if spec.state == C:
        attrs["final_metrics"] = final_metrics(spec.value)
        attrs["eval_history"] = eval_history(variant, spec.value)
    finished = spec.state in (C, P, F)
    steps = {s: (spec.value or 1.9) + (STEPS[-1] - s) / 100 for s in STEPS} if spec.state in (C, P) else {}
    return FrozenTrial(number=number, state=spec.state, value=spec.value,
                       datetime_start=None if spec.state == W else clock,
                       datetime_complete=clock + timedelta(seconds=10 + number) if finished else None,
                       params=params, distributions={k: LAMBDA_GP if k == "lambda_gp" else N_CRITIC for k in params},
                       user_attrs=attrs, system_attrs={"retry_history": [spec.retry_of]} if spec.retry_of is not None
                       else {}, intermediate_values=steps, trial_id=0)


def samples(seed: int, spread: float) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    angles = torch.randint(0, 8, (300,), generator=generator) * (math.pi / 4)
    ring = torch.stack([angles.cos(), angles.sin()], dim=1) * math.sqrt(2)
    return ring + spread * torch.randn(300, 2, generator=generator)


# What RunLogger.on_start logs of the networks: the golden sweep's mlp (2-D ring, width 32, depth 2).
MODEL_PARAMS = {"model.arch": "mlp", "model.generator_params": "1186", "model.critic_params": "1185"}


class MlflowWriter:
    """Runs with fixed metrics and timestamps; each complete run stores samples.pt."""

    def __init__(self, uri: str, folder: Path, name: str = "golden") -> None:
        from mlflow import MlflowClient

        self.client = MlflowClient(uri)
        self.folder = folder
        self.name = name
        self.experiment_id = self.client.create_experiment(name, artifact_location=(folder / "mlartifacts").as_uri())
        self.clock_ms = int(T0.replace(tzinfo=timezone.utc).timestamp() * 1000)

    def tags(self, **tags: Any) -> dict[str, str]:
        base = {"harness.git_commit": "0123456789abcdef0123456789abcdef01234567", "harness.versions": "test"}
        return {**base, **{f"harness.{k}": str(v) for k, v in tags.items()}}

    def parent(self, variant: str) -> str:
        run = self.client.create_run(self.experiment_id, start_time=self.clock_ms, run_name=variant,
                                     tags=self.tags(role="study", variant=variant, study=f"{self.name}/{variant}"))
        return run.info.run_id

    def trial(self, parent: str, variant: str, stage: str, number: int, spec: Spec) -> str:
        from mlflow.entities import Metric, Param

        tags = self.tags(role="trial", variant=variant, stage=stage, trial_number=number, seed=spec.seed or 0,
                         outcome=spec.outcome or "complete", **({"reason": spec.reason} if spec.reason else {}))
        tags["mlflow.parentRunId"] = parent
        run_id = self.client.create_run(self.experiment_id, start_time=self.clock_ms, tags=tags,
                                        run_name=f"{variant}/{stage}{number}").info.run_id
        level = spec.value or 2.0
        metrics = [Metric(key, level * (i + 1) / (step / 10 + 1), self.clock_ms, step)
                   for i, key in enumerate(SCALARS) for step in (10, 20, 30, 40)]
        if spec.state == C:
            metrics += [Metric(k, v, self.clock_ms, s) for s in STEPS for k, v in final_metrics(spec.value).items()]
        self.client.log_batch(run_id, metrics=metrics, params=[Param(k, v) for k, v in MODEL_PARAMS.items()])
        if spec.state == C:
            path = self.folder / "samples.pt"
            torch.save(samples(number, level / 4), path)
            self.client.log_artifact(run_id, str(path))
        if spec.state != R:
            self.client.set_terminated(run_id, "FINISHED" if spec.state == C else "FAILED", end_time=self.clock_ms)
        return run_id


def build_stores(exp: ExperimentConfig, folder: Path) -> None:
    """Write the PLAN into the config's Optuna storage and MLflow tracking store."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    writer = MlflowWriter(exp.tracking.uri, folder)
    clock = T0
    for variant, stages in PLAN.items():
        parent = writer.parent(variant)
        for stage, specs in stages.items():
            name = study_names("golden", variant)[stage == "confirm"]
            study = optuna.create_study(study_name=name, storage=exp.sweep.storage, direction="minimize")
            attrs = {"variant": variant, "objective": "w1", "mlflow_parent_run_id": parent}
            attrs.update({"budget": 4, keys.RECIPE: recipe_text(resolve_run(exp, variant)),
                          keys.SWEEP_SETTINGS: sweep_settings_text(exp)} if stage == "search"
                         else {"source_trial": SOURCE_TRIAL.get(variant, 0)})
            for key, value in attrs.items():
                study.set_user_attr(key, value)
            for number, spec in enumerate(specs):
                run_id = None if spec.state == W else writer.trial(parent, variant, stage, number, spec)
                study.add_trial(frozen(number, stage, spec, run_id, clock, SOURCE_TRIAL.get(variant, 0), variant))
                clock += timedelta(seconds=30)


RUN_ID = re.compile(r"\b[0-9a-f]{32}\b")
CONFIG_HASH = re.compile(r"\(hash `[0-9a-f]{12}`\)")


TABLE_CELL_BORDER = re.compile(r"(?<!\\)\|")  # a cell border, not an escaped `\|` inside a cell
SEPARATOR_CELL = re.compile(r"^(:?)-+(:?)$")


def canonical_table_row(line: str) -> str:
    """A Markdown table row without its alignment padding.

    pandas pads every column to its widest cell, and the header table holds the stores' folder, whose
    length differs between machines (pytest-of-root/pytest-9 vs pytest-10): the padding is not content.
    """
    if not line.startswith("|"):
        return line
    cells = [SEPARATOR_CELL.sub(r"\1---\2", cell.strip()) for cell in TABLE_CELL_BORDER.split(line)[1:-1]]
    return "| " + " | ".join(cells) + " |"


def normalize(text: str, folder: Path) -> str:
    """Mask what differs between two builds of the same stores: run IDs (by first appearance), the folder
    and the table padding that depends on the folder's length.

    The config hash is masked too: it changes whenever the config schema gains a field, which is not
    the report's business (test_report_sections checks the hash itself).
    """
    ids: dict[str, str] = {}
    text = RUN_ID.sub(lambda m: ids.setdefault(m.group(0), f"<run-{len(ids) + 1}>"), text)
    text = CONFIG_HASH.sub("(hash `<hash>`)", text.replace(str(folder), "<tmp>"))
    return "\n".join(canonical_table_row(line) for line in text.split("\n"))


_BUILT: dict[str, Path] = {}


def shared_stores(tmp_path_factory: Any) -> tuple[ExperimentConfig, Path]:
    """The stores above, built once per test session (tests only read them)."""
    if "golden" not in _BUILT:
        folder = tmp_path_factory.mktemp("report-stores")
        build_stores(golden_config(folder), folder)
        _BUILT["golden"] = folder
    return golden_config(_BUILT["golden"]), _BUILT["golden"]


# A design without search (`sweep.trials_per_variant: 0`), as the sweep stores it: recipe (2) x setting (2),
# each cell's search study with budget 0 and no trial, its confirmation study with one trial per seed that
# ran the cell's own values (no params, no source_trial), each with 5 evaluations (steps 10..50).
NO_SEARCH_CELLS = {"vanilla.A": 1.30, "vanilla.B": 1.20, "wgan_gp.A": 0.90, "wgan_gp.B": 0.80}  # cell -> base w1
NO_SEARCH_OFFSETS = (0.02, -0.01, 0.03, 0.0, -0.02, 0.01, -0.03, 0.02, 0.0, -0.01)  # by seed 1..10
NO_SEARCH_STEPS = (10, 20, 30, 40, 50)
NO_SEARCH_SECONDS_PER_STEP = {"vanilla.A": 0.05, "vanilla.B": 0.1, "wgan_gp.A": 0.2, "wgan_gp.B": 0.2}
NO_SEARCH_IMPROVING = "wgan_gp.B"  # falls steadily to its final value; the others are flat after step 10


def no_search_raw(folder: Path, seeds: int) -> dict[str, Any]:
    return {
        "name": "nosearch", "seed": 0, "data": {"name": "ring8"}, "model": {"width": 32, "depth": 2},
        "train": {"steps": 50, "log_every": 10, "eval_every": 10, "sample_every": 50, "device": "cpu"},
        "eval": {"num_samples": 300},
        "sweep": {"trials_per_variant": 0, "seeds": seeds, "objective": "w1", "report": False,
                  "storage": f"sqlite:///{folder / 'optuna.db'}"},
        "tracking": {"uri": f"sqlite:///{folder / 'mlflow.db'}"},
        "factors": {"recipe": {"vanilla": "vanilla", "wgan_gp": "wgan_gp"},
                    "setting": {"A": None, "B": {"train": {"n_critic": 2}}}},
    }


def no_search_value(cell: str, seed: int) -> float:
    return round(NO_SEARCH_CELLS[cell] + NO_SEARCH_OFFSETS[seed - 1], 6)


def no_search_curve(cell: str, value: float) -> list[float]:
    """The objective at each of the 5 evaluations, ending at `value`."""
    if cell == NO_SEARCH_IMPROVING:
        return [value + 0.5 * (50 - s) / 40 for s in NO_SEARCH_STEPS]
    return [value + 0.3, value + 0.02, value + 0.01, value + 0.005, value]


def no_search_trial(number: int, cell: str, seed: int, run_id: str | None, clock: datetime) -> FrozenTrial:
    value = no_search_value(cell, seed)
    curve = no_search_curve(cell, value)
    history = {"step": [float(s) for s in NO_SEARCH_STEPS], "value": curve,
               "cost_generator_steps": [float(s) for s in NO_SEARCH_STEPS],
               "cost_critic_updates": [float(s) for s in NO_SEARCH_STEPS],
               "cost_images_seen": [float(s * 64) for s in NO_SEARCH_STEPS],
               "cost_train_seconds": [s * NO_SEARCH_SECONDS_PER_STEP[cell] for s in NO_SEARCH_STEPS]}
    attrs = {"stage": "confirm", "worker": "host:1", "seed": seed, "device": "cpu",
             "final_metrics": final_metrics(value), "eval_history": history,
             **({"mlflow_run_id": run_id} if run_id else {})}
    return FrozenTrial(number=number, state=C, value=value, datetime_start=clock,
                       datetime_complete=clock + timedelta(seconds=10), params={}, distributions={},
                       user_attrs=attrs, system_attrs={}, intermediate_values=dict(zip(NO_SEARCH_STEPS, curve)),
                       trial_id=0)


def build_no_search_stores(exp: ExperimentConfig, folder: Path, mlflow: bool) -> None:
    """Write a no-search design's stores; MLflow runs (with samples) only where `mlflow`."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    writer = MlflowWriter(exp.tracking.uri, folder, exp.name) if mlflow else None
    clock = T0
    for spec in exp.variants:
        parent = writer.parent(spec.name) if writer else None
        search_name, confirm_name = study_names(exp.name, spec.name)
        search = optuna.create_study(study_name=search_name, storage=exp.sweep.storage, direction="minimize")
        confirm = optuna.create_study(study_name=confirm_name, storage=exp.sweep.storage, direction="minimize")
        common = {"variant": spec.name, "objective": "w1", **({"mlflow_parent_run_id": parent} if parent else {})}
        for key, value in {**common, "budget": 0, keys.RECIPE: recipe_text(exp.run(spec.name)),
                           keys.SWEEP_SETTINGS: sweep_settings_text(exp),
                           keys.LEVELS: [list(pair) for pair in spec.levels]}.items():
            search.set_user_attr(key, value)
        for key, value in common.items():
            confirm.set_user_attr(key, value)
        for number, seed in enumerate(range(1, exp.sweep.seeds + 1)):
            run_id = (writer.trial(parent, spec.name, "confirm", number, Spec(C, no_search_value(spec.name, seed),
                                                                             seed=seed)) if writer else None)
            confirm.add_trial(no_search_trial(number, spec.name, seed, run_id, clock))
            clock += timedelta(seconds=30)


def no_search_stores(tmp_path_factory: Any, seeds: int, mlflow: bool = False) -> tuple[ExperimentConfig, Path]:
    """A no-search design of `seeds` seeds per cell, built once per test session."""
    key = f"no-search-{seeds}-{mlflow}"
    if key not in _BUILT:
        folder = tmp_path_factory.mktemp(key)
        build_no_search_stores(parse_experiment(no_search_raw(folder, seeds)), folder, mlflow)
        _BUILT[key] = folder
    return parse_experiment(no_search_raw(_BUILT[key], seeds)), _BUILT[key]
