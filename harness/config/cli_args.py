"""What every command line of the harness shares: one-line argument errors, overrides given as
`--set key=value` or bare `key=value` (Hydra's habit), `--print-config`, and the names a config
may use, listed in `--help` from the registries themselves."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

import yaml

from harness.core.errors import EXIT_USER_ERROR
from harness.core.strict import printable


class OneLineParser(argparse.ArgumentParser):
    """argparse, but an argument error is one line on stderr and exit code 2, as config errors are."""

    def error(self, message: str) -> NoReturn:
        # argparse quotes an unknown argument as given: one with a newline in it would make two lines.
        print(f"error: {self.prog}: {printable(message)} (see --help)", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR)


def allowed_names() -> str:
    """The names a config may use, read from the registries."""
    from harness.data import DATASETS
    from harness.metrics import METRICS
    from harness.recipes.presets import PRESETS
    from harness.config.samplers import PRUNERS, SAMPLERS

    return "\n".join(f"  {kind:<10}{', '.join(names)}" for kind, names in (
        ("variants", PRESETS.names()), ("datasets", DATASETS.names()), ("metrics", METRICS.names()),
        ("samplers", SAMPLERS.names()), ("pruners", PRUNERS.names())))


def make_parser(prog: str, description: str, examples: str, parser: Any = None) -> argparse.ArgumentParser:
    """A command's parser (or a subcommand's, when `parser` is given) with the shared options."""
    epilog = f"examples:\n{examples}\n\nallowed names:\n{allowed_names()}"
    options = {"description": description, "epilog": epilog, "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = parser(prog, **options) if parser is not None else OneLineParser(prog=prog, **options)
    parser.add_argument("config", help="experiment YAML, e.g. experiments/ablation.yaml")
    parser.add_argument("bare_overrides", nargs="*", metavar="KEY=VALUE",
                        help="override a config key, e.g. train.steps=200 (same as --set)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (dotted path, value parsed as YAML); repeatable")
    parser.add_argument("--only", action="append", default=[], metavar="FACTOR=LEVEL[,LEVEL...]",
                        help="keep only these levels of a factor of the design (variants: --only variant=NAME); "
                             "repeatable")
    parser.add_argument("--print-config", action="store_true",
                        help="print the fully resolved config (every variant) and exit")
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    args = parser.parse_intermixed_args(argv)
    refuse_nul(parser, args)
    if not hasattr(args, "bare_overrides"):  # a command without a config (fetch-weights)
        return args
    args.overrides = [*args.overrides, *args.bare_overrides]
    if "=" in args.config and not Path(args.config).exists():  # `train.steps=5 base.yaml`: the order is wrong
        config = next((item for item in args.bare_overrides if "=" not in item), "CONFIG.yaml")
        parser.error(f"argument CONFIG: {args.config!r} is an override, not a config file; the config comes "
                     f"first: {parser.prog} {config} {args.config}")
    for item in args.bare_overrides:
        if "=" not in item:
            parser.error(f"argument KEY=VALUE: {item!r} is not key=value")
    return args


def refuse_nul(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """No path, URL or override may hold a NUL character (open() and mkdir() raise ValueError on one): refuse
    it here, naming the argument, rather than as a traceback wherever the value is first used."""
    for action in parser._actions:  # noqa: SLF001 - argparse's only list of its arguments and their flags
        value = getattr(args, action.dest, None)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, (str, Path)) and "\x00" in str(item):
                name = "/".join(action.option_strings) or action.metavar or action.dest
                parser.error(f"argument {name}: {str(item)!r} contains a NUL character")


def print_notices(exp: Any) -> None:
    """The config's notices (a space knob no planned cell reads, ...), one line each, as part of the plan on
    stdout: stderr stays for warnings and the one line of an error."""
    for line in exp.notices:
        print(line, flush=True)


def print_config(exp: Any) -> None:
    """Hydra's `--cfg job`: the experiment as validated, its design (factors, and each cell's levels after
    `--only`), and each cell's resolved run config."""
    from harness.config.design import level_record
    from harness.core.strict import to_plain

    design = {factor.name: {level.name: level_record(level) for level in factor.levels} for factor in exp.factors}
    resolved = {"experiment": to_plain(exp), "factors": design,
                "cells": {spec.name: dict(spec.levels) for spec in exp.variants},
                "runs": {spec.name: to_plain(exp.run(spec.name)) for spec in exp.variants}}
    print(yaml.safe_dump(resolved, sort_keys=False), end="")
