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

from harness.config.cli_args import make_parser, parse, print_config
from harness.config.resolve import ExperimentConfig, SweepConfig, load_experiment, resolve_run
from harness.core.errors import cli_entry
from harness.metrics import METRICS
from harness.sweep.space import applicable_space
from harness.config.samplers import sampler_text
from harness.core.strict import field_specs, parse_value
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
    first = resolve_run(exp, exp.variants[0].name)
    objective = METRICS.get(first.objective)
    lines = [f"plan for {exp.name!r}: data {first.data.name}, objective {objective.name} ({objective.direction}), "
             f"sampler {sampler_text(exp, search_budget(exp))}, pruner {exp.sweep.pruner}, {workers} worker(s)",
             f"  storage  {redact(storage)}", f"  tracking {redact(tracking)}",
             f"  {'variant':<16}{'loss':<13}{'constraint':<16}{'scheduler':<11}{'optimizer':<10}"
             f"{'trials':>7}{'seeds':>7}  knobs"]
    total = 0
    for spec in exp.variants:
        run = resolve_run(exp, spec.name)
        trials = len(search_queue(exp, run))
        total += trials
        knobs = ", ".join(sorted(applicable_space(exp, run))) or "(none: the defaults only)"
        constraint = "+".join(run.train.constraints)
        lines.append(f"  {spec.name:<16}{run.train.loss:<12} {constraint:<15} {run.train.scheduler:<11}"
                     f"{run.train.optimizer:<10}{trials:>7}{exp.sweep.seeds:>7}  {knobs}")
    lines.append(f"  total: {total} search trials + {exp.sweep.seeds * len(exp.variants)} confirmation runs, "
                 f"{first.train.steps} generator steps each")
    return lines


@cli_entry
def main(argv: list[str] | None = None) -> int:
    return run(parse(build_parser(), argv))


def run(args: argparse.Namespace) -> int:
    if args.workers is not None:  # the same rule as sweep.workers, which the flag replaces
        parse_value(int, args.workers, "--workers", field_specs(SweepConfig)["workers"][1])
    exp = load_experiment(args.config, args.overrides)
    workers = args.workers or exp.sweep.workers
    if args.print_config:
        print_config(exp)
        return 0
    storage, tracking = resolve_urls(args.storage, args.tracking_uri, exp)
    print("\n".join(plan_lines(exp, storage, tracking, workers)), flush=True)
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
