"""Strict parsing of YAML-loaded data into frozen dataclasses.

Unknown keys, wrong types and out-of-range values raise ConfigError naming the dotted key,
the bad value and what is allowed. Field rules live in `field(metadata=rule(...))`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import sys
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import yaml

from harness.core.errors import ConfigError

T = TypeVar("T")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # half of a UTF-16 pair: no UTF-8 file name can hold it


# Bounds of what a config's YAML may hold (docs/operations.md, "Limits"): a config is a few hundred lines of
# names and numbers, so these are generous, and they keep a hostile file from hanging or crashing the reader.
MAX_YAML_DEPTH = 64  # nested mappings and lists; PyYAML composes recursively and would hit RecursionError
MAX_INT_CHARS = 100  # an integer literal; longer ones trip Python's 4300-digit limit or take seconds to convert


class YamlRefused(yaml.MarkedYAMLError):
    """Well-formed YAML that a config may not use (an alias, deep nesting, a list as a key, a huge integer)."""


class YamlLoader(yaml.SafeLoader):
    """A safe loader that reads `1e-4` as a float, as YAML 1.2 does (PyYAML's 1.1 rule makes it a string),
    and refuses aliases and nesting deeper than MAX_YAML_DEPTH while composing, before any value is built."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            # One alias repeats a whole subtree: nine lines of them make 10**9 values (the "billion laughs").
            raise YamlRefused(None, None, f"alias *{event.anchor} is not allowed in a config; write the value out",
                              event.start_mark)
        if self.depth >= MAX_YAML_DEPTH:
            raise YamlRefused(None, None, f"nested deeper than {MAX_YAML_DEPTH} levels; allowed: at most "
                                          f"{MAX_YAML_DEPTH}", event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # PyYAML's own constructors raise plain Python errors on some values: `!!int x` (ValueError),
        # `!!int ''` (IndexError), `!!bool x` (KeyError), `2001-13-45` (an implicit date: ValueError).
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
            shown = f"{node.value[:40]!r} " if isinstance(node, yaml.ScalarNode) else ""
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise YamlRefused(None, None, f"{shown}cannot be read as {tag}", node.start_mark) from None


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    """PyYAML keeps the last of two equal keys; a strict config refuses the duplicate instead."""
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):  # `? [a, b]`: a list as a key cannot be hashed
            raise YamlRefused(None, None, f"a key must be a name, not a {key_node.id}", key_node.start_mark)
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


def construct_bounded_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """An integer, refused before conversion when its literal is too long to be a setting."""
    if len(node.value) > MAX_INT_CHARS:
        raise YamlRefused(None, None, f"an integer of {len(node.value)} characters; allowed: at most "
                                      f"{MAX_INT_CHARS}", node.start_mark)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


YamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_unique_mapping)
YamlLoader.add_constructor("tag:yaml.org,2002:int", construct_bounded_int)


def load_yaml_text(text: str, source: str) -> Any:
    """Parse one YAML document; any problem is a one-line ConfigError naming `source` and the line."""
    try:
        return yaml.load(text, Loader=YamlLoader)  # noqa: S506 - YamlLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        kind = "" if isinstance(exc, YamlRefused) else "malformed YAML: "
        raise ConfigError("", printable(f"{source}:{where}: {kind}{problem}")) from None


def rule(
    min: float | None = None,
    max: float | None = None,
    min_exclusive: bool = False,
    max_exclusive: bool = False,
    choices: Callable[[], Iterable[str]] | Iterable[str] | None = None,
    doc: str = "",
    inline: Callable[[], dict[str, tuple[Any, Any, Any]]] | None = None,
) -> dict[str, Any]:
    """Metadata for a dataclass field: numeric bounds and/or allowed names (a callable is read lazily).

    `inline` marks a dict field whose keys sit in the parent section itself: it returns
    {key: (type, rule, default)} when parsed, so entries can declare keys the schema does not list.
    """
    meta = {"min": min, "max": max, "min_exclusive": min_exclusive, "max_exclusive": max_exclusive,
            "choices": choices, "doc": doc}
    return {**meta, "inline": inline} if inline is not None else meta


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = printable(str(key))  # a key is the user's text: "a\nb" would break the error's one line
    return f"{path}.{key}" if path else key


def printable(text: str) -> str:
    """`text` with newlines, NULs and terminal escapes written out as `\\n`, `\\x00`, `\\x1b`, for messages."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "a list",
            dict: "a mapping", type(None): "null"}.get(type(value), type(value).__name__)


def describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in typing.get_args(tp))
    if origin is list or origin is tuple:
        return f"a list of {describe(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"a mapping to {describe(typing.get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            type(None): "null"}.get(tp, getattr(tp, "__name__", str(tp)))


def parse_dataclass(cls: type[T], raw: Any, path: str) -> T:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, f"{raw!r} is {type_name(raw)}; expected a mapping")
    specs = field_specs(cls)
    for key in raw:
        if key not in specs:
            raise ConfigError(join(path, str(key)), unknown_key_message(str(key), list(specs)))
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.metadata.get("internal"):
            continue
        if f.metadata.get("inline"):
            values[f.name] = {key: parse_value(tp, raw[key], join(path, key), meta) if key in raw else default
                              for key, (tp, meta, default) in f.metadata["inline"]().items()}
        elif f.name in raw:
            values[f.name] = parse_value(specs[f.name][0], raw[f.name], join(path, f.name), f.metadata)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(join(path, f.name), "is required")
    return cls(**values)


def field_specs(cls: type) -> dict[str, tuple[Any, typing.Mapping[str, Any]]]:
    """Every key a section accepts, as (type, rule): its fields, with an inline field's keys in its place."""
    hints = typing.get_type_hints(cls)
    specs: dict[str, tuple[Any, typing.Mapping[str, Any]]] = {}
    for f in dataclasses.fields(cls):
        if not f.init or f.metadata.get("internal"):
            continue
        if f.metadata.get("inline"):
            specs.update({key: (tp, meta) for key, (tp, meta, _) in f.metadata["inline"]().items()})
        else:
            specs[f.name] = (hints[f.name], f.metadata)
    return specs


def replace(obj: T, values: typing.Mapping[str, Any]) -> T:
    """`dataclasses.replace` that also sets the keys of an inline field (e.g. a knob of `train:`)."""
    fields = {f.name for f in dataclasses.fields(obj) if f.init}
    plain = {k: v for k, v in values.items() if k in fields}
    rest = {k: v for k, v in values.items() if k not in fields}
    for f in dataclasses.fields(obj):
        inline = {k: v for k, v in rest.items() if f.metadata.get("inline") and k in f.metadata["inline"]()}
        if inline:
            plain[f.name] = {**getattr(obj, f.name), **inline}
            rest = {k: v for k, v in rest.items() if k not in inline}
    if rest:
        raise TypeError(f"{type(obj).__name__} has no field {next(iter(rest))!r}")
    return dataclasses.replace(obj, **plain)


def unknown_key_message(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key{hint}; allowed: {', '.join(allowed)}"


def parse_value(tp: Any, value: Any, path: str, meta: typing.Mapping[str, Any] | None = None) -> Any:
    if meta and type(value) is int and not INT64_MIN <= value <= INT64_MAX:
        check_bounds(value, path, meta)  # `steps: 10**30`: the key's own range says more than the 64-bit backstop
    parsed = parse_typed(tp, value, path)
    if meta:
        check_rules(parsed, path, meta)
    return parsed


def parse_typed(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        non_null = [a for a in args if a is not type(None)]
        if len(non_null) == 1:
            return parse_typed(non_null[0], value, path)
        # `str | tuple[str, ...]`: one name or a list of names, told apart by the value's shape.
        shaped = [a for a in non_null if (typing.get_origin(a) in (list, tuple)) == isinstance(value, list)]
        return parse_typed(shaped[0], value, path) if len(shaped) == 1 else value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ConfigError(path, f"{value!r} is {type_name(value)}; expected {describe(tp)}")
        return tuple(parse_typed(typing.get_args(tp)[0], v, join(path, i)) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(path, f"{value!r} is {type_name(value)}; expected {describe(tp)}")
        value_tp = typing.get_args(tp)[1]
        return {str(k): parse_typed(value_tp, v, join(path, str(k))) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return parse_dataclass(tp, value, path)
    if tp is typing.Any:
        return value
    return parse_scalar(tp, value, path)


def parse_scalar(tp: type, value: Any, path: str) -> Any:
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > sys.float_info.max:  # float() would raise OverflowError
            raise ConfigError(path, f"{value!r} is out of range; allowed: a finite number")
        return float(value)
    # bool is a subclass of int in Python; `steps: yes` must not become 1.
    if isinstance(value, tp) and not (tp in (int, float) and isinstance(value, bool)):
        problem = scalar_problem(value)
        if problem:
            raise ConfigError(path, f"{value!r} {problem}")
        return value
    hint = ""
    if isinstance(value, str) and tp in (int, float) and looks_numeric(value):
        hint = " (it is quoted: drop the quotes)"
    raise ConfigError(path, f"{value!r} is {type_name(value)}; expected {describe(tp)}{hint}")


def scalar_problem(value: Any) -> str | None:
    """What no setting may be, whatever its rule: not finite, wider than 64 bits (torch, NumPy and the stores
    hold no more; a sleep or a thread's wait raises OverflowError), or a string that no path can hold."""
    if isinstance(value, float) and not math.isfinite(value):
        return "is not a finite number"
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return "is out of range; allowed: a 64-bit integer, >= -2**63 and <= 2**63 - 1"
    if isinstance(value, str) and "\x00" in value:
        return "contains a NUL character"
    if isinstance(value, str) and LONE_SURROGATE.search(value):  # from a YAML escape: "\\ud800"
        return "holds a lone surrogate (\\ud800 to \\udfff), which no file name or store can"
    return None


def looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_rules(value: Any, path: str, meta: typing.Mapping[str, Any]) -> None:
    if value is None:
        return
    if isinstance(value, tuple):
        for i, item in enumerate(value):
            check_rules(item, join(path, i), meta)
        return
    choices = meta.get("choices")
    if choices is not None:
        allowed = list(choices() if callable(choices) else choices)
        if value not in allowed:
            raise ConfigError(path, f"{value!r} is not one of: {', '.join(map(str, allowed))}")
    check_bounds(value, path, meta)


def check_bounds(value: Any, path: str, meta: typing.Mapping[str, Any]) -> None:
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and (value < lo or (meta.get("min_exclusive") and value == lo)):
        raise ConfigError(path, f"{value!r} is out of range; allowed: {bounds_text(meta)}")
    if hi is not None and (value > hi or (meta.get("max_exclusive") and value == hi)):
        raise ConfigError(path, f"{value!r} is out of range; allowed: {bounds_text(meta)}")


def bounds_text(meta: typing.Mapping[str, Any]) -> str:
    parts = []
    if meta.get("min") is not None:
        parts.append(f"{'>' if meta.get('min_exclusive') else '>='} {meta['min']}")
    if meta.get("max") is not None:
        parts.append(f"{'<' if meta.get('max_exclusive') else '<='} {meta['max']}")
    return " and ".join(parts)


def set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set raw['a']['b'] = value for 'a.b', creating mappings on the way."""
    keys = dotted.split(".")
    node = raw
    for i, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(".".join(keys[: i + 1]), f"{child!r} is {type_name(child)}; cannot set {dotted} inside it")
        node = child
    node[keys[-1]] = value


OVERRIDE_KEY = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply `--set key.path=value` overrides; values are parsed as YAML (`[a, b]`, `1e-4`, `true`)."""
    for item in overrides:
        key, text = split_override(item)
        set_dotted(raw, key, load_yaml_text(text, f"--set {key}"))
    return raw


def split_override(item: str) -> tuple[str, str]:
    """`key.path=value` as (key, value text); a ConfigError for anything else, or a key nested too deep."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not OVERRIDE_KEY.fullmatch(key):
        raise ConfigError("--set", f"{item!r} is not of the form key.path=value")
    if key.count(".") >= MAX_YAML_DEPTH:  # as deep as the YAML itself may nest
        raise ConfigError("--set", f"{key[:40]!r}... has {key.count('.') + 1} parts; allowed: at most "
                                   f"{MAX_YAML_DEPTH}")
    return key, text


def to_plain(obj: Any) -> Any:
    """Dataclasses/tuples to plain dicts/lists, for YAML/JSON output and hashing."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            if f.metadata.get("internal"):  # the resolver's plan, not a setting
                continue
            value = to_plain(getattr(obj, f.name))
            if f.metadata.get("inline"):
                out.update(value)  # a knob is written where the user writes it: train.lambda_gp
            else:
                out[f.name] = value
        return out
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """{'train': {'lr': 1}} -> {'train.lr': 1}; lists stay values."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(flatten(v, join(prefix, k)))
        return out
    return {prefix: obj}
