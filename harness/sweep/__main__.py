"""`python -m harness.sweep CONFIG`: run, or resume, a whole ablation.

Every variant gets an Optuna study over the knobs of `sweep.space` (the config's own values
first), each trial a full training run tracked in MLflow; then each variant's best parameters
are re-trained with `sweep.seeds` fresh seeds. Re-running the same command resumes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from typing import Any

from harness.config.cli_args import make_parser, parse, print_config, print_notices
from harness.config.resolve import ExperimentConfig, RunConfig, SweepConfig, load_experiment
from harness.core.errors import cli_entry
from harness.metrics import METRICS
from harness.sweep.space import applicable_space, searched
from harness.config.samplers import SAMPLERS, sampler_text
from harness.core.strict import field_specs, parse_value, to_plain
from harness.sweep.studies import search_budget, search_queue
from harness.stores.urls import redact, resolve_urls


EXAMPLES = """  gan-ablate sweep experiments/ablation.yaml                    # run, or resume, the whole ablation
  gan-ablate sweep experiments/toy.yaml train.steps=500 --workers 2
  gan-ablate sweep experiments/toy.yaml 'variants=[wgan_gp]' --dry-run
  gan-ablate sweep experiments/ablation.yaml --print-config       # the fully resolved config"""


def build_parser(prog: str = "python -m harness.sweep", parser: Any = None) -> argparse.ArgumentParser:
    parser = make_parser(prog, __doc__.splitlines()[0], EXAMPLES, parser)
    parser.add_argument("--storage", help="Optuna storage URL (default: sweep.storage)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, then tracking.uri)")
    parser.add_argument("--workers", type=int, help="trial processes on this machine (default: sweep.workers)")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate, print the plan and make every check the real run makes; write and train nothing")
    parser.set_defaults(run=run)
    return parser


def plan_lines(exp: ExperimentConfig, storage: str, tracking: str, workers: int) -> list[str]:
    """The plan as `--dry-run` and a real run print it: settings, then one row per cell (its levels, the
    effective values that differ between cells, its budget and knobs), then the totals."""
    first = exp.run(exp.variants[0].name)
    objective = METRICS.get(first.objective)
    budgets = {spec.name: len(search_queue(exp, exp.run(spec.name))) for spec in exp.variants}
    lines = [f"plan for {exp.name!r}: data {first.data.name}, objective {objective.name} ({objective.direction}), "
             f"sampler {plan_sampler_text(exp, list(budgets.values()))}, pruner {exp.sweep.pruner}, "
             f"{workers} worker(s)", f"  storage  {redact(storage)}", f"  tracking {redact(tracking)}"]
    lines += ["  " + line for line in cell_table(exp, budgets)]
    cells = len(exp.variants)
    lines.append(f"  total: {sum(budgets.values())} search trials + {exp.sweep.seeds * cells} confirmation runs "
                 f"over {cells} cell(s), {first.train.steps} generator steps each")
    return lines


def plan_sampler_text(exp: ExperimentConfig, budgets: list[int]) -> str:
    """The sampler as the plan runs it: none without search, a grid by its real points per cell."""
    if not searched(exp):
        return "none (sweep.trials_per_variant is 0: each cell's seeds run its own values)"
    if SAMPLERS.get(exp.sweep.sampler).grid:
        low, high = min(budgets), max(budgets)
        points = f"{high} points per cell" if low == high else f"{low}-{high} points per cell"
        return f"{sampler_text(exp, high).removesuffix(')')}: {points}, {sum(budgets)} in all)"
    return sampler_text(exp, search_budget(exp))


def cell_table(exp: ExperimentConfig, budgets: dict[str, int]) -> list[str]:
    """One column per factor, then each setting whose effective value differs between the cells."""
    values = {spec.name: effective_values(exp.run(spec.name)) for spec in exp.variants}
    differing = [key for key in values[exp.variants[0].name]
                 if len({repr(v.get(key)) for v in values.values()}) > 1]
    header = [f.name for f in exp.factors] + differing + ["trials", "seeds", "knobs"]
    rows = []
    for spec in exp.variants:
        run = exp.run(spec.name)
        knobs = ", ".join(sorted(applicable_space(exp, run))) or (
            "(none: the defaults only)" if searched(exp) else "(no search: its own values)")
        rows.append([level for _, level in spec.levels] + [shown(values[spec.name].get(k)) for k in differing]
                    + [str(budgets[spec.name]), str(exp.sweep.seeds), knobs])
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]


def effective_values(run: RunConfig) -> dict[str, Any]:
    """A run's train and model settings by the names a config gives them (train keys bare, `model.arch`)."""
    train = {key: value for key, value in to_plain(run.train).items()}
    return {**train, **{f"model.{key}": value for key, value in to_plain(run.model).items()}}


def shown(value: Any) -> str:
    if isinstance(value, list):
        return "+".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


@cli_entry
def main(argv: list[str] | None = None) -> int:
    return run(parse(build_parser(), argv))


def run(args: argparse.Namespace) -> int:
    if args.workers is not None:  # the same rule as sweep.workers, which the flag replaces
        parse_value(int, args.workers, "--workers", field_specs(SweepConfig)["workers"][1])
    exp = load_experiment(args.config, args.overrides, args.only)
    workers = args.workers or exp.sweep.workers
    if args.print_config:
        print_config(exp)
        return 0
    storage, tracking = resolve_urls(args.storage, args.tracking_uri, exp)
    print("\n".join(plan_lines(exp, storage, tracking, workers)), flush=True)
    print_notices(exp)
    if args.dry_run:
        from harness.sweep.preflight import DRY_RUN_SKIPS, preflight

        preflight(exp, storage, tracking, dry_run=True)  # refuses what the real run would, writing nothing
        print(f"dry run: {DRY_RUN_SKIPS}")
        return 0
    from harness.sweep.run import run_sweep  # imports Optuna, MLflow and torch

    return run_sweep(exp, storage, tracking, workers)


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
