"""`python -m harness.launch slurm CONFIG --workers N`: the same as `gan-ablate launch slurm ...`."""

from __future__ import annotations

import sys

from harness.config.cli_args import parse
from harness.core.errors import cli_entry
from harness.launch.slurm import build_parser


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = parse(build_parser(), argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
