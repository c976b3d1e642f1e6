"""`python -m harness.report CONFIG`: write the ablation report from the stored results.

Reads the Optuna storage and MLflow of CONFIG's sweep (never trains) and writes
reports/<name>/report.md (or .html) with figures and CSV tables beside it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.config import load_experiment
from harness.errors import cli_entry
from harness.urls import redact, resolve_urls


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m harness.report", description=__doc__.splitlines()[0])
    parser.add_argument("config", help="experiment YAML, e.g. experiments/ablation.yaml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (dotted path, value parsed as YAML); repeatable")
    parser.add_argument("--storage", help="Optuna storage URL (default: sweep.storage)")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, then tracking.uri)")
    parser.add_argument("--format", dest="fmt", choices=("md", "html"), default="md", help="report format (default md)")
    parser.add_argument("--out", type=Path, help="output folder (default: reports/<name>)")
    return parser.parse_args(argv)


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    exp = load_experiment(args.config, args.overrides)
    storage, tracking = resolve_urls(args.storage, args.tracking_uri, exp)
    print(f"report for {exp.name!r}: storage {redact(storage)}, tracking {redact(tracking)}", flush=True)
    from harness.report import write_report  # pandas, seaborn, Optuna: not needed for argument errors

    path = write_report(exp, storage, tracking, args.out, args.fmt)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
