"""Fuzzers of the config's doors (issue 26): YAML text, the command line and its overrides, store URLs and
config paths.

Every generated input ends in a valid config or in a UserError whose message is one line: never another
exception, never a hang (the per-example deadline of tests/fuzz_support.py) and never a file written (each
fuzzer runs in an empty current folder, which must stay empty).
"""

from __future__ import annotations

import copy
import math
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from harness.config.cli_args import parse
from harness.config.resolve import ExperimentConfig, load_experiment
from harness.core.errors import UserError
from harness.core.schema import DataConfig, EvalConfig, ModelConfig, SweepConfig, TrackingConfig, TrainConfig
from harness.core.strict import MAX_YAML_DEPTH, field_specs, to_plain
from harness.stores.urls import STORAGE_SCHEMES, TRACKING_SCHEMES, resolve_urls
from harness.train.__main__ import build_parser
from tests.bad_input_rows import with_raw_yaml
from tests.bad_input_support import BASE
from tests.conftest import deep_merge
from tests.fuzz_support import FUZZ, FUZZER_TIMEOUT_S, work  # noqa: F401  (a fixture)

SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "eval": EvalConfig,
            "sweep": SweepConfig, "tracking": TrackingConfig}
# Every key the schema knows, so that generated values reach the checks behind the unknown-key one. `plugins`
# is left out: a plugin is imported by design, and a generated name could be a real module.
KNOWN_KEYS = [("name",), ("seed",), ("variants",), ("sweep", "space", "lr"), ("sweep", "space", "lr", "low"),
              ("variants", "0"), *((section, key) for section, cls in SECTIONS.items() for key in field_specs(cls))]


def settles(run: Callable[[], Any], work: Path) -> Any:
    """What `run` returns, or None after a UserError of one line; any other exception fails the example."""
    try:
        result = run()
    except UserError as exc:
        assert str(exc).strip() and len(str(exc).splitlines()) == 1, repr(str(exc))
        event(f"refused: {type(exc).__name__}")  # the statistics show how many examples got how far
        result = None
    else:
        event("accepted")
    assert not any(work.iterdir()), f"wrote {sorted(path.name for path in work.iterdir())}"
    return result


def load_text(text: str, work: Path) -> ExperimentConfig | None:
    """load_experiment on `text` written beside the work folder (lone surrogates stay bytes: not UTF-8)."""
    path = work.parent / "config.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    exp = settles(lambda: load_experiment(path), work)
    assert exp is None or not unusable(to_plain(exp)), to_plain(exp)
    return exp


def unusable(value: Any) -> bool:
    """Whether an accepted config holds what no run can use: a string with NUL or a lone surrogate (no path
    or store can hold it), a number that is not finite or wider than 64 bits."""
    if isinstance(value, dict):
        return any(unusable(key) or unusable(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return any(unusable(item) for item in value)
    if isinstance(value, str):
        return "\x00" in value or value.encode("utf-8", "surrogatepass") != value.encode("utf-8", "replace")
    if isinstance(value, float):
        return not math.isfinite(value)
    return isinstance(value, int) and not -(2**63) <= value < 2**63


# --- strategies -------------------------------------------------------------------------------------------

# YAML's indicators and escapes, line breaks of every kind, NUL, a BOM and a few letters and digits.
YAML_CHARS = st.sampled_from([*"[]{}:,-?&*!|>'\"#%@` \n\t\r\\.0123456789abxyz_eE+", "\x00", "\x85", "\u2028",
                              "\ufeff", "é", "\x1b"])
# Pieces of YAML that random characters seldom line up: complex keys, aliases, tags, impossible dates, huge numbers.
YAML_PIECES = st.sampled_from(["? ", "[", "]", "{", "}", ": ", ", ", "- ", "\n", "\n  ", "&a ", "*a", "!!int ",
                               "!!bool ", "!!timestamp ", "!!binary ", "x", "1", "'", '"', "#", "|\n", "2001-13-45",
                               "9" * 400, "0x" + "f" * 400, "train:", "steps:", "\t", "\x00", "\\0", "\\uD800"])
RANDOM_TEXT = (st.text(YAML_CHARS, max_size=300) | st.text(max_size=300)
               | st.lists(YAML_PIECES, max_size=60).map("".join))
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**80), max_value=2**80)
           | st.floats() | st.text(max_size=20))
VALUES = SCALARS | st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                               | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
KEY_PATHS = st.sampled_from(KNOWN_KEYS) | st.lists(st.text(string.ascii_lowercase + "_.", min_size=1, max_size=8),
                                                   min_size=1, max_size=3).map(tuple)
# Raw YAML, written as text because safe_dump cannot write it: anchors, aliases, tags, complex keys.
FLOW_ATOMS = st.sampled_from(["1", "x", "null", "1e9", "-1", ".nan", "''", "*a", "&a 1", "&b [1]", "*b",
                              "!!binary aGk=", "!!set {a, b}", "!!omap [a: 1]", "2001-01-01", "0x" + "f" * 40])
FLOW = st.recursive(FLOW_ATOMS, lambda inner: (
    st.lists(inner, max_size=4).map(lambda items: "[" + ", ".join(items) + "]")
    | st.lists(st.tuples(st.sampled_from(["k", "low", "high", "choices", "? [a]", "&c k", "*a"]), inner),
               max_size=3).map(lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}")
    | st.tuples(st.sampled_from(["&a ", "&d ", "!!str ", "!!int ", "!!float "]), inner).map("".join)),
    max_leaves=25)
SECTION_KEYS = [key for key in KNOWN_KEYS if key[0] in SECTIONS and len(key) == 2]  # ("train", "steps"), ...
DEEP = st.integers(1, 3000).flatmap(lambda depth: st.sampled_from([
    "[" * depth + "]" * depth, "{a: " * depth + "1" + "}" * depth, "[" * depth]))


def planted(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """BASE with `value` at `path`, replacing whatever stood in the way (a list index is a key here)."""
    raw = copy.deepcopy(BASE)
    node = raw
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return raw


# --- (a) the YAML loader and the schema ---------------------------------------------------------------------


@FUZZ
@pytest.mark.timeout(FUZZER_TIMEOUT_S)
@given(text=RANDOM_TEXT, after_base=st.booleans())
def test_random_text_as_a_config(text: str, after_base: bool, work: Path) -> None:
    load_text(yaml.safe_dump(BASE) + text if after_base else text, work)


@FUZZ
@pytest.mark.timeout(FUZZER_TIMEOUT_S)
@given(path=KEY_PATHS, value=VALUES)
def test_a_random_value_at_a_random_key_of_a_valid_config(path: tuple[str, ...], value: Any, work: Path) -> None:
    load_text(yaml.safe_dump(planted(path, value)), work)


@FUZZ
@pytest.mark.timeout(FUZZER_TIMEOUT_S)
@given(key=st.sampled_from(SECTION_KEYS), raw=FLOW | DEEP)
def test_anchors_aliases_tags_and_deep_nesting(key: tuple[str, str], raw: str, work: Path) -> None:
    exp = load_text(with_raw_yaml(*key, raw), work)
    # An alias is refused whatever it points at, and so is anything nested past the bound (the config's own
    # mapping and the section's are two levels more).
    assert exp is None or ("*" not in raw and nesting(raw) + 2 <= MAX_YAML_DEPTH)


def nesting(flow: str) -> int:
    """How deep the brackets of a flow text nest."""
    depth = deepest = 0
    for char in flow:
        depth += (char in "[{") - (char in "]}")
        deepest = max(deepest, depth)
    return deepest


# --- (b) the command line and its overrides ----------------------------------------------------------------

OVERRIDE_KEYS = st.sampled_from([".".join(key) for key in KNOWN_KEYS]) | st.text(max_size=30)
OVERRIDES = st.tuples(OVERRIDE_KEYS, st.sampled_from(["=", "==", " = ", ""]), FLOW | RANDOM_TEXT).map("".join)
ARGUMENTS = st.lists(OVERRIDES | st.tuples(st.just("--set"), OVERRIDES) | st.text(max_size=20)
                     | st.sampled_from(["--out", "--resume", "--print-config", "--", "-x", "--set", "--no\nsuch",
                                      "--\x1b[2J", "--out=o\x00ut"]), max_size=6)


def flat(arguments: list[str | tuple[str, str]]) -> list[str]:
    return [part for item in arguments for part in ((item,) if isinstance(item, str) else item)]


def asks_for_help(argv: list[str]) -> bool:
    """argparse answers `-h`, `-hx` or any prefix of --help (`--he`) with the help and exit code 0."""
    return any(item.startswith("-h") or (len(item) > 2 and "--help".startswith(item)) for item in argv)


@FUZZ
@pytest.mark.timeout(FUZZER_TIMEOUT_S)
@given(arguments=ARGUMENTS)
def test_a_generated_command_line(arguments: list[str | tuple[str, str]], work: Path,
                                  capsys: pytest.CaptureFixture) -> None:
    config = work.parent / "config.yaml"
    config.write_text(yaml.safe_dump(BASE))
    argv = [str(config), "--variant", "wgan_gp", *flat(arguments)]
    capsys.readouterr()
    try:
        args = parse(build_parser("train"), argv)
    except SystemExit as exc:
        err = capsys.readouterr().err
        event(f"argparse exit {exc.code}")
        assert exc.code == 2 and err.count("\n") == 1 and err.startswith("error: ") or (
            exc.code == 0 and asks_for_help(argv)), (exc.code, err)
        return
    settles(lambda: load_experiment(args.config, args.overrides), work)


# --- (c) store URLs and config paths -------------------------------------------------------------------------

URL_TEXT = st.text(max_size=60) | st.text(YAML_CHARS | st.sampled_from([*"/:@?#%=&"]), max_size=60)
URLS = st.tuples(st.sampled_from([*STORAGE_SCHEMES, *TRACKING_SCHEMES, "", "file:", "sqlite://"]), URL_TEXT).map(
    "".join)


def with_urls(storage: str | None, tracking: str | None) -> dict[str, Any]:
    """BASE with the URLs that are given in its YAML."""
    return deep_merge(BASE, {"sweep": {} if storage is None else {"storage": storage},
                             "tracking": {} if tracking is None else {"uri": tracking}})


@FUZZ
@pytest.mark.timeout(FUZZER_TIMEOUT_S)
@given(storage=URLS | st.none(), tracking=URLS | st.none())
def test_generated_store_urls(storage: str | None, tracking: str | None, work: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    base = load_text(yaml.safe_dump(BASE), work)
    urls = settles(lambda: resolve_urls(storage, tracking, base), work)  # as --storage and --tracking-uri
    exp = load_text(yaml.safe_dump(with_urls(storage, tracking)), work)  # as sweep.storage and tracking.uri
    if exp is not None:
        urls = settles(lambda: resolve_urls(None, None, exp), work)
    # An accepted URL names exactly what it says: no whitespace at an end, no control character.
    assert urls is None or all(url == url.strip() and url.isprintable() for url in urls), urls


@FUZZ
@pytest.mark.timeout(FUZZER_TIMEOUT_S)
@given(path=st.text(max_size=40) | st.text(YAML_CHARS | st.sampled_from([*"/."]), max_size=40))
def test_a_generated_config_path(path: str, work: Path) -> None:
    assert settles(lambda: load_experiment(path), work) is None  # the folder is empty: nothing is a config
