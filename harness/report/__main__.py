"""`python -m harness.report CONFIG`: write the ablation report from the stored results.

Reads the Optuna storage and MLflow of CONFIG's sweep (never trains) and writes
reports/<name>/report.md (or .html) with figures and CSV tables beside it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.config.cli_args import make_parser, parse, print_config
from harness.config.resolve import load_experiment
from harness.core.errors import cli_entry
from harness.stores.urls import redact, resolve_urls


EXAMPLES = """  gan-ablate report experiments/ablation.yaml                   # reports/<name>/report.md
  gan-ablate report experiments/ablation.yaml --format html --out /tmp/report"""


def build_parser(prog: str = "python -m harness.report", parser: Any = None) -> argparse.ArgumentParser:
    parser = make_parser(prog, __doc__.splitlines()[0], EXAMPLES, parser)
    parser.add_argument("--storage", help="Optuna storage URL (default: sweep.storage)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, then tracking.uri)")
    parser.add_argument("--format", dest="fmt", choices=("md", "html"), default="md", help="report format (default md)")
    parser.add_argument("--out", type=Path, help="output folder (default: reports/<name>)")
    parser.set_defaults(run=run)
    return parser


@cli_entry
def main(argv: list[str] | None = None) -> int:
    return run(parse(build_parser(), argv))


def run(args: argparse.Namespace) -> int:
    exp = load_experiment(args.config, args.overrides, args.only)
    if args.print_config:
        print_config(exp)
        return 0
    storage, tracking = resolve_urls(args.storage, args.tracking_uri, exp)
    print(f"report for {exp.name!r}: storage {redact(storage)}, tracking {redact(tracking)}", flush=True)
    from harness.report import write_report  # pandas, seaborn, Optuna: not needed for argument errors

    path = write_report(exp, storage, tracking, args.out, args.fmt)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
