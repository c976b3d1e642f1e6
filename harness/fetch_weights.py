"""`gan-ablate fetch-weights`: download the Inception weights of `fid`, `is`, `kid_inception`, `precision`
and `recall` once, into the torch hub cache, on a machine with internet.

Sweeps never download: without internet, copy the file named in the error message to the path it
names instead (docs/metrics.md, "Weights").
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from harness.config.cli_args import OneLineParser
from harness.core.errors import UserError, cli_entry, first_line


def build_parser(prog: str = "python -m harness.fetch_weights", parser: Any = None) -> argparse.ArgumentParser:
    from harness.metrics.inception import WEIGHTS_URL, weights_path

    options = {"description": __doc__.splitlines()[0], "formatter_class": argparse.RawDescriptionHelpFormatter,
               "epilog": f"destination: {weights_path()} (set TORCH_HOME to change it)"}
    parser = parser(prog, **options) if parser is not None else OneLineParser(prog=prog, **options)
    parser.add_argument("--url", default=WEIGHTS_URL, help="where to download from (default: torch-fidelity's release)")
    parser.add_argument("--force", action="store_true", help="download again even if the file is there")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="give up when connecting, or any read, waits longer than this (default: 30)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from harness.metrics.inception import fetch_weights, weights_digest, weights_path

    if not 0 < args.timeout <= 3600:
        raise UserError(f"--timeout: {args.timeout:g} is out of range; allowed: more than 0 and at most 3600 seconds")
    destination = weights_path()
    if destination.is_file() and not args.force:
        print(f"already there: {destination} (sha256 {weights_digest(destination)[:16]}); --force downloads again")
        return 0
    try:
        path = fetch_weights(args.url, destination, args.timeout)
    except OSError as exc:  # no network, refused, timed out, not HTTP, disk full
        raise UserError(f"--url: downloading {args.url} failed ({first_line(exc)}); without internet, copy the "
                        f"file to '{destination}'") from None
    print(f"saved {path} (sha256 {weights_digest(path)[:16]})")
    return 0


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
