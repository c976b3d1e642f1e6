"""`gan-ablate`: the harness's one installed command (`sweep`, `report`, `train`, `fetch-weights`, `launch`).

Each subcommand is the same as its `python -m harness.<name>` form, which keeps working.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from typing import Any

from harness import __version__
from harness.config.cli_args import OneLineParser, parse
from harness.core.errors import cli_entry

EXIT_CODES = """exit codes:
  0    sweep settled; every variant has a complete confirmation run
  1    an unexpected crash (a bug: please report the traceback)
  2    bad input, or a service (database, MLflow server) unreachable or lost mid-sweep
  3    sweep settled, but some variant produced nothing usable (all diverged, pruned or failed)
  4    a worker crashed and left part of the budget undone (run the same command again)
  129  stopped by SIGHUP (the terminal closed); as 130
  130  interrupted (Ctrl-C); running trials re-queued, run the same command again to resume
  143  stopped by SIGTERM (kill, docker stop, a scheduler's time limit or preemption); as 130
  launch slurm --wait exits with the sweep's code read from the array's tasks: 1, then 2, in any task;
       else 3 or 0 if a task saw the sweep settled; else 4 (a worker lost), else 143 (time limit,
       preemption, scancel): run the same launch again (docs/scale-out.md)"""


def subcommands() -> dict[str, tuple[Any, str]]:
    from harness.fetch_weights import build_parser as fetch_weights_parser
    from harness.launch.slurm import build_parser as launch_parser
    from harness.report.__main__ import build_parser as report_parser
    from harness.sweep.__main__ import build_parser as sweep_parser
    from harness.train.__main__ import build_parser as train_parser

    return {"sweep": (sweep_parser, "run, or resume, an ablation sweep"),
            "report": (report_parser, "write the report from stored results"),
            "train": (train_parser, "train one variant into a folder"),
            "fetch-weights": (fetch_weights_parser, "download the Inception weights of fid/is once"),
            "launch": (launch_parser, "submit the sweep's workers to a cluster: launch slurm CONFIG --workers N")}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser: --help (subcommands, exit codes), --version, and unknown subcommands."""
    parser = OneLineParser(prog="gan-ablate", description="GAN ablations: sweep, report, train one run.",
                           epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"gan-ablate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(subcommands()) + "}")
    for name, (_, summary) in subcommands().items():
        commands.add_parser(name, help=summary, add_help=False)
    return parser


@cli_entry
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    found = subcommands()
    if not argv or argv[0] not in found:
        build_parser().parse_args(argv)  # prints help or the version, or a one-line error; exits
        return 2
    build, _ = found[argv[0]]
    args = parse(build(f"gan-ablate {argv[0]}"), argv[1:])
    return args.run(args)


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
