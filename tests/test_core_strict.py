"""Strict parsing: the YAML-1.2 float rule, the bounds of what YAML may hold, types, bounds, dotted paths and
`--set` overrides."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
import yaml

from harness.core.errors import ConfigError
from harness.core.strict import (apply_overrides, flatten, load_yaml_text, parse_dataclass, replace, rule, set_dotted,
                                 to_plain)
from tests.bad_input_rows import ALIAS_BOMB


@dataclass(frozen=True)
class Inner:
    rate: float = field(default=0.5, metadata=rule(min=0, max=1, min_exclusive=True))
    count: int = field(default=3, metadata=rule(min=1, max=10))
    kind: str = field(default="a", metadata=rule(choices=("a", "b")))
    tags: tuple[str, ...] = field(default=(), metadata=rule(choices=("x", "y")))
    size: int | None = field(default=None, metadata=rule(min=4))


@dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner = field(default_factory=Inner)
    flag: bool = False


def error_of(raw) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_dataclass(Outer, raw, "")
    assert "\n" not in str(info.value)
    return info.value


# --- the loader ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("1e-4", 1e-4), ("1E-4", 1e-4), ("-2e3", -2000.0), ("+3.5e+2", 350.0), ("2.0e-4", 2e-4), ("1.e2", 100.0),
])
def test_unquoted_exponent_numbers_are_floats(text: str, expected: float) -> None:
    value = load_yaml_text(f"v: {text}", "t")["v"]
    assert type(value) is float and value == expected


@pytest.mark.parametrize("text, expected", [
    ("'1e-4'", "1e-4"), ('"1e-4"', "1e-4"), ("10", 10), ("0.5", 0.5), ("yes", True), ("e5", "e5"),
    ("1e", "1e"), ("1.2.3e4", "1.2.3e4"),
])
def test_everything_else_reads_as_before(text: str, expected: object) -> None:
    value = load_yaml_text(f"v: {text}", "t")["v"]
    assert value == expected and type(value) is type(expected)


def test_the_float_rule_does_not_leak_into_pyyaml_safe_loader() -> None:
    assert yaml.safe_load("v: 1e-4")["v"] == "1e-4"


def test_malformed_yaml_is_one_line_naming_source_line_and_column() -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml_text("a: 1\nb: [1, 2\n", "cfg.yaml")
    message = str(info.value)
    assert message.startswith("cfg.yaml: line 3 column 1: malformed YAML") and "\n" not in message


# --- types, paths, bounds, choices ---------------------------------------------------------------


def test_valid_input_parses_with_defaults_and_int_widened_to_float() -> None:
    out = parse_dataclass(Outer, {"name": "n", "inner": {"rate": 1, "tags": ["x", "y"]}}, "")
    assert out == Outer("n", Inner(rate=1.0, tags=("x", "y")))
    assert type(out.inner.rate) is float and type(out.inner.tags) is tuple


def test_missing_required_key() -> None:
    assert str(error_of({})) == "name: is required"


def test_unknown_key_names_its_path_a_close_match_and_the_allowed_keys() -> None:
    err = error_of({"name": "n", "inner": {"rtae": 0.1}})
    assert err.path == "inner.rtae"
    assert str(err) == "inner.rtae: unknown key (did you mean 'rate'?); allowed: rate, count, kind, tags, size"


@pytest.mark.parametrize("inner, message", [
    ({"count": "3"}, "inner.count: '3' is a string; expected an integer (it is quoted: drop the quotes)"),
    ({"rate": "1e-4"}, "inner.rate: '1e-4' is a string; expected a number (it is quoted: drop the quotes)"),
    ({"count": True}, "inner.count: True is a boolean; expected an integer"),
    ({"rate": False}, "inner.rate: False is a boolean; expected a number"),
    ({"count": 2.0}, "inner.count: 2.0 is a float; expected an integer"),
    ({"kind": 3}, "inner.kind: 3 is an integer; expected a string"),
    ({"tags": "x"}, "inner.tags: 'x' is a string; expected a list of a string"),
    ({"size": "big"}, "inner.size: 'big' is a string; expected an integer"),
])
def test_wrong_types_name_path_value_and_expected_type(inner: dict, message: str) -> None:
    assert str(error_of({"name": "n", "inner": inner})) == message


def test_section_that_is_not_a_mapping() -> None:
    assert str(error_of({"name": "n", "inner": [1]})) == "inner: [1] is a list; expected a mapping"


@pytest.mark.parametrize("inner, message", [
    ({"rate": 0.0}, "inner.rate: 0.0 is out of range; allowed: > 0 and <= 1"),
    ({"rate": 1.5}, "inner.rate: 1.5 is out of range; allowed: > 0 and <= 1"),
    ({"count": 0}, "inner.count: 0 is out of range; allowed: >= 1 and <= 10"),
    ({"count": 11}, "inner.count: 11 is out of range; allowed: >= 1 and <= 10"),
    ({"size": 3}, "inner.size: 3 is out of range; allowed: >= 4"),
    ({"kind": "c"}, "inner.kind: 'c' is not one of: a, b"),
    ({"tags": ["x", "z"]}, "inner.tags[1]: 'z' is not one of: x, y"),
])
def test_out_of_range_and_unknown_names(inner: dict, message: str) -> None:
    assert str(error_of({"name": "n", "inner": inner})) == message


def test_bounds_are_inclusive_where_declared() -> None:
    out = parse_dataclass(Outer, {"name": "n", "inner": {"rate": 1.0, "count": 10, "size": 4}}, "")
    assert (out.inner.rate, out.inner.count, out.inner.size) == (1.0, 10, 4)


def test_nan_fails_a_range_check() -> None:
    error_of({"name": "n", "inner": {"rate": math.nan}})


# --- overrides ------------------------------------------------------------------------------------


def test_overrides_parse_values_as_yaml_and_create_sections() -> None:
    raw = apply_overrides({"name": "n"}, ["inner.rate=1e-4", "inner.tags=[x, y]", "flag=true", "inner.count=7"])
    assert raw == {"name": "n", "inner": {"rate": 1e-4, "tags": ["x", "y"], "count": 7}, "flag": True}
    assert parse_dataclass(Outer, raw, "").inner == Inner(rate=1e-4, count=7, tags=("x", "y"))


def test_later_override_wins_and_null_section_is_replaced() -> None:
    raw = apply_overrides({"inner": None}, ["inner.count=2", "inner.count=5", "name=a=b"])
    assert raw == {"inner": {"count": 5}, "name": "a=b"}


@pytest.mark.parametrize("item", ["inner.count", "=3", "inner..count=3", "inner.count[0]=3", "1x=2", " =1"])
def test_malformed_override_is_rejected(item: str) -> None:
    with pytest.raises(ConfigError) as info:
        apply_overrides({}, [item])
    assert str(info.value) == f"--set: {item!r} is not of the form key.path=value"


def test_override_through_a_scalar_names_the_scalar() -> None:
    with pytest.raises(ConfigError) as info:
        set_dotted({"inner": 3}, "inner.count", 1)
    assert str(info.value) == "inner: 3 is an integer; cannot set inner.count inside it"


def test_malformed_override_value_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^--set inner.tags: line 1 column \d+: malformed YAML"):
        apply_overrides({}, ["inner.tags=[x, y"])


# --- plain data ---------------------------------------------------------------------------------


def test_to_plain_and_flatten() -> None:
    plain = to_plain(Outer("n", Inner(tags=("x",))))
    assert plain == {"name": "n", "inner": {"rate": 0.5, "count": 3, "kind": "a", "tags": ["x"], "size": None},
                     "flag": False}
    assert flatten(plain) == {"name": "n", "inner.rate": 0.5, "inner.count": 3, "inner.kind": "a",
                              "inner.tags": ["x"], "inner.size": None, "flag": False}


@dataclass(frozen=True)
class WithKnobs:
    lr: float = 0.1
    names: str | tuple[str, ...] = field(default="a", metadata=rule(choices=("a", "b", "c")))
    knobs: dict = field(default_factory=lambda: {"gamma": 1.0}, metadata=rule(
        inline=lambda: {"gamma": (float, rule(min=0), 1.0), "steps_k": (int, rule(min=1), 3)}))


def test_inline_keys_parse_strictly_into_their_field_and_back_out_flat() -> None:
    cfg = parse_dataclass(WithKnobs, {"lr": 0.5, "gamma": 2}, "train")
    assert cfg.knobs == {"gamma": 2.0, "steps_k": 3}  # declared defaults fill the rest
    assert to_plain(cfg) == {"lr": 0.5, "names": "a", "gamma": 2.0, "steps_k": 3}
    with pytest.raises(ConfigError, match=r"^train.gamma: -1.0 is out of range; allowed: >= 0$"):
        parse_dataclass(WithKnobs, {"gamma": -1}, "train")
    with pytest.raises(ConfigError, match=r"^train.gama: unknown key \(did you mean 'gamma'\?\); "
                                          r"allowed: lr, names, gamma, steps_k$"):
        parse_dataclass(WithKnobs, {"gama": 1}, "train")
    assert replace(cfg, {"lr": 0.2, "steps_k": 5}).knobs == {"gamma": 2.0, "steps_k": 5}
    with pytest.raises(TypeError, match="no field 'nope'"):
        replace(cfg, {"nope": 1})


def test_one_name_or_a_list_of_names_by_the_value_shape() -> None:
    assert parse_dataclass(WithKnobs, {"names": "b"}, "").names == "b"
    assert parse_dataclass(WithKnobs, {"names": ["b", "c"]}, "").names == ("b", "c")
    with pytest.raises(ConfigError, match=r"^names\[1\]: 'd' is not one of: a, b, c$"):
        parse_dataclass(WithKnobs, {"names": ["b", "d"]}, "")


# --- what a config's YAML may hold: bounded, each refusal one line naming the line (issue 26) ----------


def refusal(text: str) -> str:
    """The one-line message load_yaml_text raises for `text`."""
    with pytest.raises(ConfigError) as info:
        load_yaml_text(text, "cfg.yaml")
    assert "\n" not in str(info.value)
    return str(info.value)


def test_an_alias_bomb_is_refused_at_its_first_alias() -> None:
    """PyYAML builds the bomb in no time as a few shared lists; the first repr or walk of it never ended."""
    text = "v: 1\nw: " + ALIAS_BOMB
    column = text.splitlines()[1].index("*a") + 1
    assert refusal(text) == (f"cfg.yaml: line 2 column {column}: alias *a is not allowed in a config; "
                             "write the value out")


def test_an_anchor_alone_is_harmless() -> None:
    assert load_yaml_text("v: &a [1, 2]\n", "t") == {"v": [1, 2]}


@pytest.mark.parametrize("levels, allowed", [(63, True), (64, False), (3000, False)])
def test_nesting_is_bounded_at_64_levels(levels: int, allowed: bool) -> None:
    text = "v: " + "[" * levels + "]" * levels  # the mapping is the first level
    if allowed:
        assert load_yaml_text(text, "t") is not None
    else:
        assert refusal(text) == ("cfg.yaml: line 1 column 67: nested deeper than 64 levels; allowed: at most 64")


def test_deep_block_nesting_names_its_line() -> None:
    text = "".join(" " * depth + "k:\n" for depth in range(3000))
    assert refusal(text).startswith("cfg.yaml: line 64 column 64: nested deeper than 64 levels")


@pytest.mark.parametrize("text, kind", [("? [a, b]\n: 1\n", "sequence"), ("{[a]: 1}\n", "sequence"),
                                        ("? {a: 1}\n: 2\n", "mapping")])
def test_a_mapping_key_must_be_a_scalar(text: str, kind: str) -> None:
    assert refusal(text).startswith("cfg.yaml: line 1 column ") and refusal(text).endswith(
        f": a key must be a name, not a {kind}")


def test_an_integer_literal_is_bounded_before_python_converts_it() -> None:
    assert load_yaml_text("v: " + "9" * 100, "t")["v"] == int("9" * 100)
    assert refusal("v: " + "9" * 5000) == ("cfg.yaml: line 1 column 4: an integer of 5000 characters; "
                                           "allowed: at most 100")


@pytest.mark.parametrize("text, message", [
    ("v: !!int x", "line 1 column 4: 'x' cannot be read as !!int"),  # ValueError inside PyYAML
    ("v: !!int ''", "line 1 column 4: '' cannot be read as !!int"),  # IndexError
    ("v: !!bool maybe", "line 1 column 4: 'maybe' cannot be read as !!bool"),  # KeyError
    ("v: 2001-13-45", "line 1 column 4: '2001-13-45' cannot be read as !!timestamp"),  # an implicit date
    ("v:\n  - !!timestamp", "line 2 column 5: '' cannot be read as !!timestamp"),  # AttributeError
])
def test_a_value_pyyaml_cannot_build_is_one_line_naming_its_line(text: str, message: str) -> None:
    """Found by tests/test_fuzz_config.py: PyYAML's constructors raise plain Python errors on these."""
    assert refusal(text) == f"cfg.yaml: {message}"


def test_an_unknown_key_with_a_newline_stays_one_line() -> None:
    assert str(error_of({"name": "n", "a\nb": 1})).startswith("a\\nb: unknown key")


@pytest.mark.parametrize("raw, message", [
    ({"name": "a\x00b"}, "name: 'a\\x00b' contains a NUL character"),
    ({"name": "a\ud800"}, "name: 'a\\ud800' holds a lone surrogate (\\ud800 to \\udfff), which no file name or "
                          "store can"),
    ({"name": "n", "inner": {"size": 2**63}},
     "inner.size: 9223372036854775808 is out of range; allowed: a 64-bit integer, >= -2**63 and <= 2**63 - 1"),
    ({"name": "n", "inner": {"count": 10**30}},  # the key's own range speaks
     "inner.count: 1000000000000000000000000000000 is out of range; allowed: >= 1 and <= 10"),
    ({"name": "n", "inner": {"rate": 10**400}}, f"inner.rate: {10**400} is out of range; allowed: > 0 and <= 1"),
])
def test_values_no_setting_may_have(raw: dict, message: str) -> None:
    assert str(error_of(raw)) == message


def test_an_integer_too_large_for_a_float_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^lr: 1000+ is out of range; allowed: a finite number$"):
        parse_dataclass(WithKnobs, {"lr": 10**400}, "")


def test_an_override_key_is_as_bounded_as_the_yaml() -> None:
    with pytest.raises(ConfigError, match=r"^--set: 'a\.a\.a.*'\.\.\. has 65 parts; allowed: at most 64$"):
        apply_overrides({}, ["a" + ".a" * 64 + "=1"])
    with pytest.raises(ConfigError, match=r"^--set x: line 1 column 8: alias \*a is not allowed"):
        apply_overrides({}, ["x=[&a 1, *a]"])
