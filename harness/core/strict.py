"""Strict parsing of YAML-loaded data into frozen dataclasses.

Unknown keys, wrong types and out-of-range values raise ConfigError naming the dotted key,
the bad value and what is allowed. Field rules live in `field(metadata=rule(...))`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import yaml

from harness.core.errors import ConfigError

T = TypeVar("T")


class YamlLoader(yaml.SafeLoader):
    """A safe loader that reads `1e-4` as a float, as YAML 1.2 does (PyYAML's 1.1 rule makes it a string)."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    """PyYAML keeps the last of two equal keys; a strict config refuses the duplicate instead."""
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


YamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_unique_mapping)


def load_yaml_text(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=YamlLoader)  # noqa: S506 - YamlLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError("", f"{source}:{where}: malformed YAML: {problem}") from None


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
    return f"{path}.{key}" if path else key


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
        if not f.init:
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
        if not f.init:
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
    # bool is a subclass of int in Python; `steps: yes` must not become 1.
    ok = isinstance(value, tp) and not (tp in (int, float) and isinstance(value, bool))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if ok and tp is float and not math.isfinite(value):
        raise ConfigError(path, f"{value!r} is not a finite number")
    if ok:
        return value
    hint = ""
    if isinstance(value, str) and tp in (int, float) and looks_numeric(value):
        hint = " (it is quoted: drop the quotes)"
    raise ConfigError(path, f"{value!r} is {type_name(value)}; expected {describe(tp)}{hint}")


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


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply `--set key.path=value` overrides; values are parsed as YAML (`[a, b]`, `1e-4`, `true`)."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip() or not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", key.strip()):
            raise ConfigError("--set", f"{item!r} is not of the form key.path=value")
        set_dotted(raw, key.strip(), load_yaml_text(text, f"--set {key.strip()}"))
    return raw


def to_plain(obj: Any) -> Any:
    """Dataclasses/tuples to plain dicts/lists, for YAML/JSON output and hashing."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
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
