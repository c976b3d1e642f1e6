"""What every command line shares: one-line argument errors, whatever the arguments hold (issue 26)."""

from __future__ import annotations

import argparse

import pytest

from harness.config.cli_args import parse
from harness.train.__main__ import build_parser


def error_line(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    """The one stderr line of a refused command line (exit code 2)."""
    with pytest.raises(SystemExit) as info:
        parse(build_parser("train"), argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("argv, message", [
    (["c.yaml", "--variant", "v", "--out", "o\x00ut"], "argument --out: 'o\\x00ut' contains a NUL character"),
    (["c\x00.yaml", "--variant", "v"], "argument config: 'c\\x00.yaml' contains a NUL character"),
    (["c.yaml", "--variant", "v", "--set", "data.root=a\x00b"], "argument --set: 'data.root=a\\x00b' contains"),
    (["c.yaml", "--variant", "v", "eval.cache_dir=a\x00b"], "argument KEY=VALUE: 'eval.cache_dir=a\\x00b' contains"),
])
def test_a_nul_character_in_any_argument_is_refused_naming_it(argv: list[str], message: str, capsys) -> None:
    """Issue 26: a NUL in --out raised `ValueError: embedded null byte` as a traceback at mkdir."""
    assert error_line(argv, capsys).startswith(f"error: train: {message}")


def test_an_unknown_argument_with_a_newline_or_an_escape_stays_one_line(capsys) -> None:
    err = error_line(["c.yaml", "--variant", "v", "--no\nsuch", "--x\x1b[2J"], capsys)
    assert err == "error: train: unrecognized arguments: --no\\nsuch --x\\x1b[2J (see --help)\n"


def test_a_plain_command_line_parses() -> None:
    args = parse(build_parser("train"), ["c.yaml", "--variant", "v", "--out", "o", "train.steps=5", "--set", "a=1"])
    assert isinstance(args, argparse.Namespace) and args.overrides == ["a=1", "train.steps=5"]
    assert str(args.out) == "o" and args.config == "c.yaml"
