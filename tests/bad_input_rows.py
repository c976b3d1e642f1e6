"""The table of bad inputs: every case issue 21 lists as a named row, those of issue 26 (trust at the edges),
then rows generated from the schema (a wrong type, and values below the minimum and above the maximum, for every
key of every section), every URI kind, data, plugins, variants, the search space and the command-line flags.

Each row is run by tests/test_bad_inputs.py in an empty folder and in one holding a settled sweep's stores.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from harness.core.schema import DataConfig, EvalConfig, ModelConfig, SweepConfig, TrackingConfig, TrainConfig
from harness.core.strict import field_specs
from tests.bad_input_support import BASE, Row
from tests.conftest import deep_merge
from tests.image_folders import write_class_folders, write_flat_folder, write_png_bomb

Setup = Callable[[Path], None]


# --- setups: the bad thing a row writes before the command runs ---------------------------------------------

def plugin(name: str, code: str) -> Setup:
    def setup(folder: Path) -> None:
        (folder / f"{name}.py").write_text(code)

    return setup


def text_file(relative: str, content: str = "not a database\n") -> Setup:
    def setup(folder: Path) -> None:
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            path.rename(path.with_name(path.name + ".moved"))  # a store of the pre-existing folder
        elif path.exists():
            path.unlink()
        path.write_text(content)

    return setup


def directory(relative: str) -> Setup:
    def setup(folder: Path) -> None:
        path = folder / relative
        if path.is_file():
            path.unlink()
        path.mkdir(parents=True, exist_ok=True)

    return setup


def sqlite_with(relative: str, table: str) -> Setup:
    """A SQLite database holding one (empty) table: another application's store."""
    def setup(folder: Path) -> None:
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(path)) as connection:
            connection.execute(f"CREATE TABLE {table} (id INTEGER)")
            connection.commit()

    return setup


def all_of(*setups: Setup) -> Setup:
    def setup(folder: Path) -> None:
        for one in setups:
            one(folder)

    return setup


def links(root: str, **targets: str) -> Setup:
    """Symlinks `root/<name> -> target` (relative targets stay relative)."""
    def setup(folder: Path) -> None:
        (folder / root).mkdir(parents=True, exist_ok=True)
        for name, target in targets.items():
            os.symlink(target, folder / root / name)

    return setup


def images(root: str, kind: str = "classes", **options: Any) -> Setup:
    def setup(folder: Path) -> None:
        if kind == "classes":
            write_class_folders(folder / root, **options)
        else:
            write_flat_folder(folder / root, **options)

    return setup


def bombs(root: str, *names: str) -> Setup:
    def setup(folder: Path) -> None:
        for name in names:
            write_png_bomb(folder / root / name)

    return setup


def junk_images(root: str, *names: str) -> Setup:
    def setup(folder: Path) -> None:
        for name in names:
            (folder / root / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / root / name).write_bytes(b"this is no image")

    return setup


def folder_data(root: str = "imgs", **data: Any) -> dict[str, Any]:
    """A sweep of an image folder, under a name of its own: --dry-run makes the recipe guard's check too,
    and the pre-existing store holds another recipe (a ring8 sweep) under BASE's name."""
    return {"name": "e2e-folder", "data": {"name": "folder", "root": root, "image_size": 8, **data},
            "model": {"arch": "dcgan", "width": 8}, "sweep": {"objective": None}}


def quiet_folder(root: str = "imgs", **data: Any) -> dict[str, Any]:
    """A folder of class sub-folders that a sweep could train on; the rows add one fault to it."""
    return folder_data(root, **data)


# digits, whose classifier reaches about 99 %, held to 99.99 %; a name of its own, so that the recipe guard
# of the pre-existing store (a ring8 sweep) does not answer first. Its cache is the suite's shared one.
WEAK_CLASSIFIER = {"name": "e2e-digits", "data": {"name": "digits"}, "model": {"arch": "dcgan", "width": 8},
                   "eval": {"classifier_min_accuracy": 0.9999, "cache_dir": "@shared_cache@"}}

# --- every case the issue lists, each a named row ----------------------------------------------------------

RAISES = "raise RuntimeError('the plugin broke while importing')\n"
DUPLICATE_LOSS = ("from harness.plugins import register_loss\n\n@register_loss('bce')\nclass Again:\n"
                  "    @staticmethod\n    def critic(r, f):\n        return r.mean()\n\n"
                  "    @staticmethod\n    def generator(f):\n        return f.mean()\n")
DUPLICATE_CONSTRAINT = ("from harness.plugins import register_constraint\n\n@register_constraint('gp')\n"
                        "def again(D, real, fake, train):\n    return None, {}\n")
DUPLICATE_DATASET = ("from harness.plugins import register_dataset\n\n@register_dataset('digits', kind='images')\n"
                     "def load(cfg, device):\n    raise AssertionError\n")
KNOB_CONFLICT = ("from harness.plugins import Knob, register_constraint\n\n"
                 "@register_constraint('gp2', knobs=(Knob('lambda_gp', int, 3, min=0),))\n"
                 "def gp2(D, real, fake, train):\n    return None, {}\n")
LOSS_BODY = ("    @staticmethod\n    def critic(r, f):\n        return r.mean()\n\n"
             "    @staticmethod\n    def generator(f):\n        return f.mean()\n")
BAD_CALL = ("from harness.plugins import Knob, register_loss\n\n"  # a misspelt keyword
            "@register_loss('ls', knob=(Knob('ls_t', float, 1.0),))\nclass LS:\n" + LOSS_BODY)
BAD_KNOBS = ("from harness.plugins import Knob, register_loss\n\n"  # one Knob where a tuple of them belongs
             "@register_loss('ls', knobs=Knob('ls_t', float, 1.0))\nclass LS:\n" + LOSS_BODY)
SHADOW = ("from harness.plugins import Knob, register_constraint\n\n"
          "@register_constraint('lr_shadow', knobs=(Knob('lr', float, 1e-3, min=0),))\n"
          "def lr_shadow(D, real, fake, train):\n    return None, {}\n")
EXITS = "import sys\nsys.exit(0)\n"

ISSUE_ROWS = [
    Row("issue: --storage sqlite:///", "--storage: 'sqlite:///' names no database file", ("--storage", "sqlite:///")),
    Row("issue: runs/optuna.db is a text file", "sweep.storage: 'sqlite:///runs/optuna.db': is not a SQLite database",
        setup=text_file("runs/optuna.db")),
    Row("issue: runs/mlflow.db is a text file", "tracking.uri: 'sqlite:///runs/mlflow.db': is not a SQLite database",
        setup=text_file("runs/mlflow.db")),
    Row("issue: plugin raises on import", "plugins[0]: 'broken' cannot be imported: RuntimeError: the plugin broke",
        config={"plugins": ["broken"]}, setup=plugin("broken", RAISES)),
    Row("issue: plugin has a syntax error", "plugins[0]: 'typo' cannot be imported: SyntaxError",
        config={"plugins": ["typo"]}, setup=plugin("typo", "def f(:\n    pass\n")),
    Row("issue: plugin registers loss bce twice", "ValueError: loss 'bce' is registered twice",
        config={"plugins": ["twice"]}, setup=plugin("twice", DUPLICATE_LOSS)),
    Row("issue: plugin registers constraint gp twice", "ValueError: constraint 'gp' is registered twice",
        config={"plugins": ["twice"]}, setup=plugin("twice", DUPLICATE_CONSTRAINT)),
    Row("issue: plugin registers dataset digits twice", "ValueError: dataset 'digits' is registered twice",
        config={"plugins": ["twice"]}, setup=plugin("twice", DUPLICATE_DATASET)),
    Row("issue: plugin knob conflicts with another entry's", "declares knob train.lambda_gp as",
        config={"plugins": ["conflict"]}, setup=plugin("conflict", KNOB_CONFLICT)),
    Row("issue: plugin makes a bad register_* call", "plugins[0]: 'badcall' cannot be imported: TypeError",
        config={"plugins": ["badcall"]}, setup=plugin("badcall", BAD_CALL)),
    Row("issue: plugin passes one Knob instead of a tuple", "plugins[0]: 'badknobs' cannot be imported: TypeError",
        config={"plugins": ["badknobs"]}, setup=plugin("badknobs", BAD_KNOBS)),
    Row("issue: plugin with an empty module name", "plugins[0]: '' is not a module name", config={"plugins": [""]}),
    Row("issue: plugin with a relative name", "plugins[0]: '.x' is not a module name", config={"plugins": [".x"]}),
    Row("issue: folder PNG that declares 20000x20000", "over 64,000,000 pixels", config=folder_data(),
        setup=all_of(images("imgs", "flat", count=1), bombs("imgs", "bomb.png"))),
    Row("issue: data.root is a symlink to itself", "data.root: 'loop' is a symlink loop",
        config=folder_data("loop"), setup=links(".", loop="loop")),
    Row("issue: class folder symlinked to . is not followed", "not following 1 symlink(s)", ("--dry-run",), code=0,
        config=folder_data(), setup=all_of(images("imgs", per_class=3, classes=2), links("imgs", dup="."))),
    Row("issue: class folder symlinked to .. is not followed", "'up'", ("--dry-run",), code=0, config=folder_data(),
        setup=all_of(images("imgs", per_class=3, classes=2), links("imgs", up=".."))),
    Row("issue: data.root holding only links to . and ..", "holds no images", config=folder_data(),
        setup=links("imgs", dup=".", up="..")),
    Row("issue: classifier below eval.classifier_min_accuracy",
        "eval.classifier_min_accuracy: the evaluation classifier for digits reaches",
        config=WEAK_CLASSIFIER),
    Row("issue: tracking URI answering HTTP 404", "tracking.uri: http://127.0.0.1:", ("--tracking-uri", "@http404@")),
    Row("issue: --set name= with 5000 characters", "name: ", ("--set", "name=" + "n" * 5000)),
    Row("issue: runs/optuna.db is a directory", "sweep.storage: 'sqlite:///runs/optuna.db': is a folder",
        setup=directory("runs/optuna.db")),
    Row("issue: storage under /proc", "sweep.storage: 'sqlite:////proc/harness/optuna.db': cannot create the folder",
        config={"sweep": {"storage": "sqlite:////proc/harness/optuna.db"}}),
    Row("issue: tracking under /proc", "tracking.uri: 'sqlite:////proc/harness/mlflow.db': cannot create the folder",
        config={"tracking": {"uri": "sqlite:////proc/harness/mlflow.db"}}),
    Row("issue: storage under a regular file", "is a file, not a folder", ("--storage", "sqlite:///plain/optuna.db"),
        setup=text_file("plain", "a file\n")),
    Row("issue: tracking under a regular file", "is a file, not a folder", ("--tracking-uri", "sqlite:///plain/m.db"),
        setup=text_file("plain", "a file\n")),
    Row("issue: storage on a read-only mount", "Read-only file system", ("--storage", "sqlite:///ro/runs/optuna.db"),
        setup=directory("ro"), needs=("unshare",), process=True),
    Row("issue: tracking on a read-only mount", "Read-only file system", ("--tracking-uri", "sqlite:///ro/runs/m.db"),
        setup=directory("ro"), needs=("unshare",), process=True),
    Row("issue: storage with a wrong password", "password authentication failed", ("--storage", "@pg_bad_password@"),
        needs=("password_postgres",)),
    Row("issue: tracking with a wrong password", "password authentication failed",
        ("--tracking-uri", "@pg_bad_password@"), needs=("password_postgres",)),
    Row("issue: storage with a wrong role", "harness_no_such_role", ("--storage", "@pg_no_role@"),
        needs=("postgres",)),
    Row("issue: tracking with a wrong role", "harness_no_such_role", ("--tracking-uri", "@pg_no_role@"),
        needs=("postgres",)),
    Row("issue: storage on a wrong port", "Connection refused",
        ("--storage", "postgresql+psycopg2://postgres@127.0.0.1:@closed@/test")),
    Row("issue: tracking on a wrong port", "Connection refused",
        ("--tracking-uri", "postgresql+psycopg2://postgres@127.0.0.1:@closed@/test")),
    Row("issue: storage with a wrong database", "harness_no_such_database", ("--storage", "@pg_no_db@"),
        needs=("postgres",)),
    Row("issue: tracking with a wrong database", "harness_no_such_database", ("--tracking-uri", "@pg_no_db@"),
        needs=("postgres",)),
    Row("issue: storage on a port that never answers", "timeout expired",
        ("--storage", "postgresql+psycopg2://postgres@127.0.0.1:@silent@/test"),
        config={"sweep": {"connect_timeout_seconds": 2}}),
    Row("issue: plugin calls sys.exit(0)", "plugins[0]: 'quits' called sys.exit(0)", config={"plugins": ["quits"]},
        setup=plugin("quits", EXITS)),
    Row("issue: plugin calls sys.exit(0), in a real process", "plugins[0]: 'quits' called sys.exit(0)",
        config={"plugins": ["quits"]}, setup=plugin("quits", EXITS), process=True),
    Row("issue: --workers 300 --dry-run", "--workers: 300 is out of range; allowed: >= 1 and <= 256",
        ("--workers", "300", "--dry-run")),
    Row("issue: plugin knob shadows train.lr", "would shadow the schema field train.lr",
        config={"plugins": ["shadow"]}, setup=plugin("shadow", SHADOW)),
    Row("issue: override before the config", "'train.steps=5' is an override, not a config file",
        argv=("train.steps=5", "@config@")),
]

# The issue's cases again, at the other doors: the tracking side of a hang, the report and train commands.
ISSUE_NEIGHBOURS = [
    Row("tracking database on a port that never answers", "timeout expired",
        ("--tracking-uri", "postgresql+psycopg2://postgres@127.0.0.1:@silent@/test"),
        config={"tracking": {"connect_timeout_seconds": 2}}),
    Row("tracking server on a port that never answers", "cannot reach MLflow at http://127.0.0.1:",
        ("--tracking-uri", "http://127.0.0.1:@silent@"), config={"tracking": {"connect_timeout_seconds": 2}}),
    Row("https to a plain web server", "cannot reach MLflow at https://127.0.0.1:",
        ("--tracking-uri", "@https404@")),
    Row("tracking 404 with a good PostgreSQL storage", "answered 404", ("--storage", "@pg@", "--tracking-uri",
                                                                        "@http404@"), needs=("postgres",)),
    Row("classifier below threshold with a good PostgreSQL storage", "eval.classifier_min_accuracy: the evaluation",
        ("--storage", "@pg@"), needs=("postgres",),
        config=WEAK_CLASSIFIER),
    Row("bad exit code of python -m harness.sweep, a real process", "train.steps: -1 is out of range",
        ("--set", "train.steps=-1"), process=True),
    Row("MLflow's database given as the Optuna storage", "is not Optuna's database: it holds other tables "
        "(experiments)", ("--storage", "sqlite:///other/mlflow.db"),
        setup=sqlite_with("other/mlflow.db", "experiments")),
    Row("Optuna's database given as the tracking store", "is not MLflow's database: it holds other tables (studies)",
        ("--tracking-uri", "sqlite:///other/optuna.db"), setup=sqlite_with("other/optuna.db", "studies")),
    Row("one SQLite file for both stores", "is also the Optuna storage",
        ("--storage", "sqlite:///runs/one.db", "--tracking-uri", "sqlite:///runs/one.db")),
    Row("one PostgreSQL database for both stores", "is also the Optuna storage",
        ("--storage", "postgresql://u@h/db", "--tracking-uri", "postgresql+psycopg2://u@h/db")),
    Row("storage file is a damaged database", "is not a readable SQLite database",
        setup=text_file("runs/optuna.db", "SQLite format 3\x00" + "x" * 200)),
    Row("storage file is a dangling symlink", "broken symlink", setup=all_of(
        directory("runs"), lambda folder: (folder / "runs" / "optuna.db").unlink(missing_ok=True),
        links("runs", **{"optuna.db": "nowhere.db"}))),
    Row("eval.cache_dir under a regular file", "eval.cache_dir: 'plain/cache': cannot create the folder",
        config={"eval": {"cache_dir": "plain/cache"}}, setup=text_file("plain", "a file\n")),
    Row("report: a plugin that raises", "plugins[0]: 'broken' cannot be imported", command="report",
        config={"plugins": ["broken"]}, setup=plugin("broken", RAISES)),
    Row("train: a plugin that calls sys.exit", "called sys.exit(0)", ("--variant", "wgan_gp"), command="train",
        config={"plugins": ["quits"]}, setup=plugin("quits", EXITS)),
    Row("gan-ablate: --workers 300", "--workers: 300 is out of range", command="gan-ablate",
        argv=("sweep", "@config@", "--workers", "300")),
    Row("gan-ablate: override before the config", "is an override, not a config file", command="gan-ablate",
        argv=("sweep", "train.steps=5", "@config@")),
]


# --- issue 26, trust at the edges: what an adversarial user found, each a named row ---------------------

# A flow list whose last item holds 9**9 = 387,420,489 x's through eight levels of aliases: PyYAML builds it
# as a few shared lists, and the first repr or walk of it never ends (the "billion laughs").
ALIAS_BOMB = "[&a [x, x, x, x, x, x, x, x, x], " + ", ".join(
    f"&{name} [{', '.join([f'*{previous}'] * 9)}]" for previous, name in zip("abcdefgh", "bcdefghi")) + "]"


def with_raw_yaml(section: str, key: str, raw: str) -> str:
    """BASE as YAML text with `section.key` set to `raw`, a piece of YAML that safe_dump cannot write."""
    return yaml.safe_dump(deep_merge(BASE, {section: {key: "@RAW@"}})).replace("'@RAW@'", raw)


def fifo(relative: str) -> Setup:
    def setup(folder: Path) -> None:
        os.mkfifo(folder / relative)

    return setup


def issue26_rows() -> list[Row]:
    big = yaml.safe_dump(BASE) + "#" * (1 << 20) + "\n"  # valid: only its size is wrong
    steps = "train.steps=" + "1" + "0" * 30
    return [
        Row("issue26: an alias bomb (billion laughs) as train.steps", "alias *a is not allowed in a config; write "
            "the value out", config=with_raw_yaml("train", "steps", ALIAS_BOMB)),
        Row("issue26: YAML nested 3000 deep", "nested deeper than 64 levels; allowed: at most 64",
            config=with_raw_yaml("train", "steps", "[" * 3000 + "]" * 3000)),
        Row("issue26: a list as a mapping key", "line 1 column 3: a key must be a name, not a sequence",
            config="? [a, b]\n: 1\n" + yaml.safe_dump(BASE)),
        Row("issue26: the config is a FIFO with no writer", "cannot read config 'pipe.yaml': it is a named pipe (FIFO)",
            argv=("pipe.yaml",), setup=fifo("pipe.yaml")),
        Row("issue26: the config is /dev/zero", "cannot read config '/dev/zero': it is a device, not a regular file",
            argv=("/dev/zero",)),
        Row("issue26: a config over 1 MiB", "holds over 1048576 bytes; allowed: at most 1048576 (1 MiB)",
            config=big),
        Row("issue26: a NUL byte in the config path", "argument config: 'sweep\\x00.yaml' contains a NUL character",
            argv=("sweep\x00.yaml",)),
        Row("issue26: a NUL byte in --out", "argument --out: 'o\\x00ut' contains a NUL character",
            ("--variant", "wgan_gp", "--out", "o\x00ut"), command="train"),
        Row("issue26: a NUL byte in data.root", "data.root: 'im\\x00gs' contains a NUL character",
            config=folder_data("im\x00gs")),
        Row("issue26: a NUL byte in eval.cache_dir", "eval.cache_dir: 'c\\x00ache' contains a NUL character",
            config={"eval": {"cache_dir": "c\x00ache"}}),
        Row("issue26: a NUL byte in sweep.storage", "sweep.storage: 'postgresql://u@h\\x00/db' contains a NUL",
            config={"sweep": {"storage": "postgresql://u@h\x00/db"}}),
        Row("issue26: a NUL byte in --storage", "argument --storage: 'postgresql://u@h\\x00/db' contains a NUL",
            ("--storage", "postgresql://u@h\x00/db")),
        Row("issue26: train.steps 10**30", "train.steps: 1" + "0" * 30 + " is out of range; allowed: >= 1 and <= "
            "100000000", ("--dry-run", "--set", steps)),
        Row("issue26: sweep.heartbeat_seconds 10**12", "sweep.heartbeat_seconds: 1000000000000 is out of range; "
            "allowed: >= 1 and <= 3600", ("--dry-run", "--set", "sweep.heartbeat_seconds=1000000000000")),
        Row("issue26: an integer of 5000 digits", "--set train.steps: line 1 column 1: an integer of 5000 characters",
            ("--dry-run", "--set", "train.steps=" + "9" * 5000)),
        Row("issue26: an impossible date (PyYAML raised ValueError)", "--set seed: line 1 column 1: '2001-13-45' "
            "cannot be read as !!timestamp", ("--dry-run", "--set", "seed=2001-13-45")),
        Row("issue26: sweep.storage ending in a space", "sweep.storage: 'sqlite:///runs/optuna.db ' ends in whitespace",
            ("--dry-run",), config={"sweep": {"storage": "sqlite:///runs/optuna.db "}}),
        Row("issue26: --tracking-uri ending in a newline", "--tracking-uri: 'sqlite:///runs/mlflow.db\\n' ends in "
            "whitespace", ("--dry-run", "--tracking-uri", "sqlite:///runs/mlflow.db\n")),
        Row("issue26: --storage with a tab inside", "--storage: 'sqlite:///runs/opt\\tuna.db' contains the control "
            "character", ("--dry-run", "--storage", "sqlite:///runs/opt\tuna.db")),
        Row("issue26: an unknown argument with a newline", "unrecognized arguments: --no\\nsuch (see --help)",
            ("--no\nsuch",)),
        Row("issue26: an unknown key with a newline", "error: a\\nb: unknown key", config=yaml.safe_dump(
            deep_merge(BASE, {"a\nb": 1}))),
        Row("issue26: --set key 100 levels deep", "has 100 parts; allowed: at most 64",
            ("--set", "a" + ".a" * 99 + "=1")),
        Row("issue26: --set value with an alias", "--set train.steps: line 1 column 8: alias *a is not allowed",
            ("--set", "train.steps=[&a 1, *a]")),
    ]


# --- generated from the schema: every key of every section --------------------------------------------------

SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig, "eval": EvalConfig,
            "sweep": SweepConfig, "tracking": TrackingConfig}
WRONG_TYPE = {int: "abc", float: "abc", str: "123", bool: "maybe"}


def scalar(tp: Any) -> Any:
    """The scalar type of a field (`int | None` -> int); None for lists, mappings and mixed unions."""
    args = [a for a in typing.get_args(tp) if a is not type(None)] if typing.get_args(tp) else [tp]
    return args[0] if len(args) == 1 and args[0] in WRONG_TYPE else None


def wrong_type_value(tp: Any) -> str:
    """A value of another type, as `--set` text (parsed as YAML)."""
    if scalar(tp) is not None:
        return WRONG_TYPE[scalar(tp)]
    return "[1]" if typing.get_origin(tp) is dict else "123"


def out_of_range_value(tp: Any, meta: typing.Mapping[str, Any]) -> str | None:
    """A value of the right type that the field's rule refuses, or None when it has no rule."""
    choices = meta.get("choices")
    if choices is not None:
        listed = any(typing.get_origin(a) is tuple for a in typing.get_args(tp))
        return "2" if scalar(tp) is int else "[no_such_name]" if listed and scalar(tp) is None else "no_such_name"
    kind = scalar(tp)
    if meta.get("min") is not None:
        low = meta["min"] if meta.get("min_exclusive") else meta["min"] - 1
        return str(int(low) if kind is int else float(low))
    if meta.get("max") is not None:
        high = meta["max"] if meta.get("max_exclusive") else meta["max"] + 1
        return str(int(high) if kind is int else float(high))
    return None


def above_maximum(tp: Any, meta: typing.Mapping[str, Any]) -> str | None:
    """A value just above the field's maximum, for a field that out_of_range_value tests at its minimum."""
    if meta.get("min") is None or meta.get("max") is None or meta.get("choices") is not None:
        return None
    if scalar(tp) is int:
        return str(int(meta["max"]) + (0 if meta.get("max_exclusive") else 1))
    # the next float up: max + 1 is the max itself at large magnitudes (3.4e38 + 1 == 3.4e38)
    return str(float(meta["max"]) if meta.get("max_exclusive") else math.nextafter(float(meta["max"]), math.inf))


def schema_rows() -> list[Row]:
    rows = []
    for section, cls in SECTIONS.items():
        for key, (tp, meta) in field_specs(cls).items():
            dotted = f"{section}.{key}"
            # The message starts with the key (a list's item adds its index: eval.metrics[0]).
            rows.append(Row(f"{dotted}: wrong type", f"error: {dotted}", ("--set", f"{dotted}={wrong_type_value(tp)}")))
            value = out_of_range_value(tp, meta)
            if value is not None:
                rows.append(Row(f"{dotted}: out of range", f"error: {dotted}", ("--set", f"{dotted}={value}")))
            value = above_maximum(tp, meta)
            if value is not None:  # issue 26: every count and duration has a maximum
                rows.append(Row(f"{dotted}: above its maximum", f"error: {dotted}: {value} is out of range",
                                ("--set", f"{dotted}={value}")))
        first = next(iter(field_specs(cls)))
        rows.append(Row(f"{section}: misspelt key", f"{section}.{first}x: unknown key",
                        ("--set", f"{section}.{first}x=1")))
        rows.append(Row(f"{section}: not a mapping", f"{section}: ", ("--set", f"{section}=[1, 2]")))
    return rows


TOP_LEVEL = [
    Row("name: wrong type", "name: 123 is an integer", ("--set", "name=123")),
    Row("name: empty", "name: '' must be letters", ("--set", "name=''")),
    Row("name: a slash", "name: 'a/b' must be letters", ("--set", "name=a/b")),
    Row("name: starts with a dot", "name: '.hidden' must be letters", ("--set", "name=.hidden")),
    Row("name: 201 characters", "has 201 characters; allowed: at most 200", ("--set", "name=" + "a" * 201)),
    Row("name: missing", "name: is required", config="seed: 0\n"),
    Row("seed: wrong type", "seed: 'abc' is a string", ("--set", "seed=abc")),
    Row("seed: negative", "seed: -1 is out of range", ("--set", "seed=-1")),
    Row("seed: over 2**63", "seed: 9223372036854775808 is out of range", ("--set", "seed=9223372036854775808")),
    Row("unknown top-level key", "nmae: unknown key", ("--set", "nmae=x")),
    Row("the config is empty", "name: is required", config=""),
    Row("the config is a list", "the top level must be a mapping", config="- a\n- b\n"),
    Row("the config is a scalar", "the top level must be a mapping", config="just words\n"),
    Row("the config is malformed YAML", "malformed YAML", config="name: [oops\n"),
    Row("the config has a duplicate key", "duplicate key 'name'", config="name: a\nname: b\n"),
    Row("the config is not UTF-8", "is not UTF-8 text", config="name: \udcff\n"),
    Row("a quoted number", "train.lr: '1e-4' is a string", config="name: e2e\ntrain: {lr: '1e-4'}\n"),
    Row("a YAML boolean for an integer", "train.steps: True is a boolean", ("--set", "train.steps=yes")),
    Row("an infinite learning rate", "train.lr: inf is not a finite number", ("--set", "train.lr=.inf")),
    Row("a NaN beta", "train.beta1: nan is not a finite number", ("--set", "train.beta1=.nan")),
]

PLUGINS = [
    Row("plugins: not a list", "plugins: 'x' is a string", config={"plugins": "x"}),
    Row("plugins: an integer item", "plugins[0]: 7 is an integer", config={"plugins": [7]}),
    Row("plugins: a module that is not there", "plugins[0]: 'not_there' cannot be imported: No module named",
        config={"plugins": ["not_there"]}),
    Row("plugins: a dash in the name", "plugins[0]: 'my-plugin' is not a module name",
        config={"plugins": ["my-plugin"]}),
    Row("plugins: a path instead of a name", "plugins[0]: 'plugins/my.py' is not a module name",
        config={"plugins": ["plugins/my.py"]}),
    Row("plugins: a second plugin fails", "plugins[1]: 'broken' cannot be imported",
        config={"plugins": ["fine", "broken"]}, setup=all_of(plugin("fine", "X = 1\n"), plugin("broken", RAISES))),
    Row("plugins: imports a missing dependency", "No module named 'not_installed_anywhere'",
        config={"plugins": ["needs"]}, setup=plugin("needs", "import not_installed_anywhere\n")),
    Row("plugins: a knob whose default breaks its own range", "default of knob bad_knob",
        config={"plugins": ["knobby"]}, setup=plugin("knobby", "from harness.plugins import Knob, register_loss\n"
                                                              "@register_loss('kl', knobs=(Knob('bad_knob', float, "
                                                              "-1.0, min=0),))\nclass K:\n" + LOSS_BODY)),
    Row("plugins: a knob that is not a Knob", "knobs must be Knob(...) declarations", config={"plugins": ["notknob"]},
        setup=plugin("notknob", "from harness.plugins import register_loss\n@register_loss('nk', knobs=(('a', 1),))\n"
                                "class K:\n" + LOSS_BODY)),
    Row("plugins: a metric without a docstring", "needs a docstring", config={"plugins": ["metric"]},
        setup=plugin("metric", "from harness.plugins import register_metric\n@register_metric('m2', "
                               "direction='minimize', needs=('points',))\ndef m2(ctx):\n    return 0.0\n")),
    Row("plugins: a metric with a bad direction", "direction must be one of", config={"plugins": ["metric"]},
        setup=plugin("metric", "from harness.plugins import register_metric\n@register_metric('m3', "
                               "direction='up', needs=('points',))\ndef m3(ctx):\n    '''x'''\n    return 0.0\n")),
    Row("plugins: raises KeyError with no message", "plugins[0]: 'keyerr' cannot be imported: KeyError",
        config={"plugins": ["keyerr"]}, setup=plugin("keyerr", "raise KeyError\n")),
    Row("plugins: sys.exit(3)", "called sys.exit(3)", config={"plugins": ["quits3"]},
        setup=plugin("quits3", "import sys\nsys.exit(3)\n")),
    Row("plugins: a shadowing knob named steps", "would shadow the schema field train.steps",
        config={"plugins": ["steps"]}, setup=plugin("steps", SHADOW.replace("'lr'", "'steps'").replace(
            "float, 1e-3", "int, 5"))),
    Row("plugins: a variant names a loss the plugin failed to add", "plugins[0]: 'broken' cannot be imported",
        config={"plugins": ["broken"], "variants": [{"preset": "wgan_gp", "name": "ls", "train": {"loss": "ls"}}]},
        setup=plugin("broken", RAISES)),
]

URLS = {
    "mysql": "mysql://db/x", "file store": "file:///tmp/mlruns", "redis": "redis://127.0.0.1:6379",
    "no scheme": "runs/optuna.db", "two slashes": "sqlite://runs/x.db", "in memory": "sqlite:///:memory:",
    "query string": "sqlite:///runs/x.db?mode=ro", "a folder": "sqlite:///runs/", "only a slash": "sqlite:////",
    "dot name": "sqlite:///runs/..", "empty": "", "bad pg port": "postgresql://u@127.0.0.1:abc/db",
    "pg port out of range": "postgresql+psycopg2://u@127.0.0.1:99999/db", "pg port 0": "postgresql://u@127.0.0.1:0/db",
}
TRACKING_ONLY = {"http without host": "http://", "http bad port": "http://127.0.0.1:abc",
                 "http port out of range": "http://127.0.0.1:70000", "credentials in http": "http://me:pw@h:5000",
                 "http query": "http://127.0.0.1:5000/?x=1", "https without host": "https:///path"}


def url_rows() -> list[Row]:
    rows = []
    for case, url in URLS.items():
        rows.append(Row(f"--storage {case}", "--storage: ", ("--storage", url)))
        rows.append(Row(f"sweep.storage {case}", "sweep.storage: ", config={"sweep": {"storage": url}}))
        rows.append(Row(f"--tracking-uri {case}", "--tracking-uri: ", ("--tracking-uri", url)))
        rows.append(Row(f"tracking.uri {case}", "tracking.uri: ", config={"tracking": {"uri": url}}))
    for case, url in TRACKING_ONLY.items():
        rows.append(Row(f"--tracking-uri {case}", "--tracking-uri: ", ("--tracking-uri", url)))
        rows.append(Row(f"$MLFLOW_TRACKING_URI {case}", "$MLFLOW_TRACKING_URI: ", env={"MLFLOW_TRACKING_URI": url}))
        rows.append(Row(f"--storage {case}", "--storage: ", ("--storage", url)))
    rows.append(Row("$MLFLOW_TRACKING_URI unsupported", "$MLFLOW_TRACKING_URI: 'mysql://x' is not a supported URL",
                    env={"MLFLOW_TRACKING_URI": "mysql://x"}))
    rows.append(Row("--tracking-uri wins over a bad $MLFLOW_TRACKING_URI, itself bad", "--tracking-uri: ",
                    ("--tracking-uri", "ftp://x"), env={"MLFLOW_TRACKING_URI": "mysql://x"}))
    rows.append(Row("tracking server refused (closed port)", "cannot reach MLflow at http://127.0.0.1:",
                    ("--tracking-uri", "http://127.0.0.1:@closed@")))
    return rows


DATA = [
    Row("mnist files missing", "data.root: mnist not found under", ("--set", "data.root=nowhere"),
        config={"data": {"name": "mnist"}, "model": {"arch": "dcgan"}, "sweep": {"objective": None}}),
    Row("fashion_mnist files missing", "data.root: fashion_mnist not found", ("--set", "data.root=nowhere"),
        config={"data": {"name": "fashion_mnist"}, "model": {"arch": "dcgan"}, "sweep": {"objective": None}}),
    Row("cifar10 files missing", "nowhere", ("--set", "data.root=nowhere"),
        config={"data": {"name": "cifar10"}, "model": {"arch": "dcgan"}, "sweep": {"objective": None}}),
    Row("mnist files corrupt", "corrupt or incomplete", ("--set", "data.root=bad"),
        config={"data": {"name": "mnist"}, "model": {"arch": "dcgan"}, "sweep": {"objective": None}},
        setup=all_of(*(text_file(f"bad/MNIST/raw/{name}", "") for name in (
            "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte")))),
    Row("folder: root missing", "data.root: ", config=folder_data("nowhere")),
    Row("folder: root is a file", "is not a folder", config=folder_data("plain"), setup=text_file("plain", "x")),
    Row("folder: root is empty", "holds no images", config=folder_data(), setup=directory("imgs")),
    Row("folder: mixed layout", "mixes image files", config=folder_data(),
        setup=all_of(images("imgs", per_class=2, classes=2), images("imgs", "flat", count=2))),
    Row("folder: an empty class folder", "holds no images", config=folder_data(),
        setup=all_of(images("imgs", per_class=2, classes=2), directory("imgs/zzz"))),
    Row("folder: a class with one image", "has 1 image", config=folder_data(),
        setup=images("imgs", per_class=1, classes=2)),
    Row("folder: a flat folder with one image", "has 1 image", config=folder_data(),
        setup=images("imgs", "flat", count=1)),
    Row("folder: only unreadable files", "0 usable image(s)", config=folder_data(),
        setup=junk_images("imgs", "a.png", "b.jpg")),
    Row("folder: a class left with one readable file", "has 1 usable image(s)", config=folder_data(),
        setup=all_of(images("imgs", per_class=2, classes=2), junk_images("imgs", "digit1/0000.png"))),
    Row("folder: only bombs", "2 over 64,000,000 pixels", config=folder_data(),
        setup=bombs("imgs", "a.png", "b.png")),
    Row("folder: a class folder linking out", "'out'", ("--dry-run",), code=0, config=folder_data(),
        setup=all_of(images("imgs", per_class=3, classes=2), links("imgs", out="/"))),
    Row("folder: an image linking out", "'digit0/passwd.png'", ("--dry-run",), code=0, config=folder_data(),
        setup=all_of(images("imgs", per_class=3, classes=2), links("imgs/digit0", **{"passwd.png": "/etc/passwd"}))),
    Row("folder: image_size missing", "data.image_size: null: data.name 'folder' has no native size",
        config=folder_data(image_size=None), setup=images("imgs", per_class=2, classes=2)),
    Row("folder: two channels", "data.channels: 2 is not one of", config=folder_data(channels=2)),
    Row("folder: labels metric on a flat folder", "'fd_classifier' needs labels",
        ("--set", "sweep.objective=fd_classifier"), config=folder_data(), setup=images("imgs", "flat", count=4)),
    Row("digits with three channels", "data.channels: 3 does not fit data.name 'digits'",
        config={"data": {"name": "digits", "channels": 3}, "model": {"arch": "dcgan"}}),
    Row("digits at a size dcgan cannot make", "data.image_size: 13 is not supported by dcgan",
        config={"data": {"name": "digits", "image_size": 13}, "model": {"arch": "dcgan"}}),
    Row("a toy with an image size", "data.image_size: 16: 'ring8' is a 2-D toy", ("--set", "data.image_size=16")),
    Row("an image model on a toy", "model.arch: 'dcgan' models images", ("--set", "model.arch=dcgan")),
    Row("fd_classifier on a toy", "sweep.objective: 'fd_classifier' needs", ("--set", "sweep.objective=fd_classifier")),
    Row("w1 on digits", "'w1' needs points", ("--set", "sweep.objective=w1"),
        config={"data": {"name": "digits"}, "model": {"arch": "dcgan"}}),
    Row("a classifier threshold for a toy", "data.name 'ring8' has no labels",
        ("--set", "eval.classifier_min_accuracy=0.5")),
    Row("an eval metric that does not apply", "eval.metrics[0]: 'kid' needs", ("--set", "eval.metrics=[kid]")),
    Row("an unknown eval metric", "eval.metrics[0]: 'fid50k' is not one of", ("--set", "eval.metrics=[fid50k]")),
    Row("train.device cuda without CUDA", "train.device: 'cuda' but no CUDA device", ("--set", "train.device=cuda"),
        needs=("no_cuda",)),
    Row("batch norm with the gradient penalty", "model.critic_norm: 'batch' is not allowed",
        ("--set", "model.critic_norm=batch")),
]

VARIANTS = [
    Row("variants: empty", "variants: [] must be a non-empty list", ("--set", "variants=[]")),
    Row("variants: not a list", "variants: 'wgan_gp' must be a non-empty list", ("--set", "variants=wgan_gp")),
    Row("variants: unknown preset", "variants[0].preset: 'wgan_gpp' is not one of", ("--set", "variants=[wgan_gpp]")),
    Row("variants: twice the same", "variants[1]: 'wgan_gp' appears twice", ("--set", "variants=[wgan_gp, wgan_gp]")),
    Row("variants: a number", "variants[0]: 5 must be a preset name", ("--set", "variants=[5]")),
    Row("variants: a bad name", "variants[0].name: 'a b' must be letters",
        config={"variants": [{"preset": "wgan_gp", "name": "a b"}]}),
    Row("variants: a name of 101 characters", "variants[0].name: ", config={"variants": [
        {"preset": "wgan_gp", "name": "v" * 101}]}),
    Row("variants: an unknown key", "variants[0].trian: unknown key", config={"variants": [
        {"preset": "wgan_gp", "trian": {}}]}),
    Row("variants: a bad override", "variants[0].train.lr: 'fast' is a string",
        config={"variants": [{"preset": "wgan_gp", "train": {"lr": "fast"}}]}),
    Row("variants: an override that is not a mapping", "variants[0].train: 5 must be a mapping",
        config={"variants": [{"preset": "wgan_gp", "train": 5}]}),
    Row("variants: an unknown loss in an override", "train.loss: 'hinge2' is not one of",
        config={"variants": [{"preset": "wgan_gp", "train": {"loss": "hinge2"}}]}),
]


def design_config(factors: Any, **more: Any) -> str:
    """BASE with `factors:` (and `design:` ...) in place of its variants list."""
    return yaml.safe_dump({**{k: v for k, v in BASE.items() if k != "variants"}, "factors": factors, **more},
                          sort_keys=False)


TWO_BY_TWO = {"recipe": {"gp": {"preset": "wgan_gp"}, "clip": {"preset": "wgan_clip"}},
              "setting": {"A": {"train": {"lr": 1.0e-4}}, "B": {"train": {"lr": 2.0e-4}}}}
DESIGNS = [
    Row("factors: not a mapping", "factors: ['recipe'] must be a mapping of factor", config=design_config(["recipe"])),
    Row("factors: a factor without levels", "factors.recipe: {} must be a non-empty mapping",
        config=design_config({"recipe": {}})),
    Row("factors: a level name with a dot", "factors.recipe.a.b: 'a.b' is not a level name",
        config=design_config({"recipe": {"a.b": "wgan_gp"}})),
    Row("factors: a factor name with a dash", "factors.my-factor: 'my-factor' is not a factor name",
        config=design_config({"my-factor": {"a": "wgan_gp"}})),
    Row("factors: a reserved factor name", "factors.seed: 'seed' names a column of the report's tables",
        config=design_config({"seed": {"a": "wgan_gp"}})),
    Row("factors: an unknown preset", "factors.recipe.gp.preset: 'wgan_gpp' is not one of",
        config=design_config({"recipe": {"gp": {"preset": "wgan_gpp"}}})),
    Row("factors: an unknown key in a level", "factors.recipe.gp.name: unknown key",
        config=design_config({"recipe": {"gp": {"preset": "wgan_gp", "name": "x"}}})),
    Row("factors: two levels set one key apart", "levels setting=A and lr=fast both set train.lr (0.0001 vs 0.001)",
        config=design_config({**TWO_BY_TWO, "lr": {"fast": {"train": {"lr": 1.0e-3}}}})),
    Row("factors: two presets in one cell", "levels recipe=gp and loss=hinge both set preset ('wgan_gp' vs 'sngan')",
        config=design_config({**TWO_BY_TWO, "loss": {"hinge": "sngan"}})),
    Row("factors: a knob no cell of its level reads", "factors.setting.A.train.clip_value: 0.5 is not read by any cell "
        "of setting=A", config=design_config({"recipe": {"gp": "wgan_gp"},
                                              "setting": {"A": {"train": {"clip_value": 0.5}}}})),
    Row("factors: beside variants", "variants: cannot be given beside factors",
        config={"factors": TWO_BY_TWO}),
    Row("factors: too many cells", "make 1024 cells; allowed: at most 1000",
        config=design_config({f"f{i}": {"a": None, "b": None} for i in range(10)})),
    Row("design: an unknown level", "design.exclude[0].setting: 'C' is not a level of setting; allowed: A, B",
        config=design_config(TWO_BY_TWO, design={"exclude": [{"setting": "C"}]})),
    Row("design: an unknown factor", "design.cells[0].seting: unknown factor", config=design_config(
        TWO_BY_TWO, design={"cells": [{"seting": "A", "recipe": "gp"}]})),
    Row("design: a listed cell missing a factor", "design.cells[0]: names no level of setting", config=design_config(
        TWO_BY_TWO, design={"cells": [{"recipe": "gp"}]})),
    Row("design: every cell excluded", "design.exclude: excludes every cell", config=design_config(
        TWO_BY_TWO, design={"exclude": [{"recipe": "gp"}, {"recipe": "clip"}]})),
    Row("design: both kinds", "design: {'exclude'", config=design_config(
        TWO_BY_TWO, design={"exclude": [{"recipe": "gp"}], "cells": [{"recipe": "gp", "setting": "A"}]})),
    Row("--only: an unknown factor", "--only: 'recipes=gp': give FACTOR=LEVEL", ("--only", "recipes=gp"),
        config=design_config(TWO_BY_TWO)),
    Row("--only: an unknown level", "--only: 'sngan' is not a level of variant; allowed: wgan_gp",
        ("--only", "variant=sngan")),
    Row("--only: no '='", "--only: 'wgan_gp': give FACTOR=LEVEL", ("--only", "wgan_gp")),
    Row("sweep.seeds: 0", "sweep.seeds: 0 is out of range; allowed: >= 1", ("--set", "sweep.seeds=0")),
]


def space(name: str, expect: str, ranges: str, *more: str) -> Row:
    """A row that sets `sweep.space={<ranges>}` (and any further `--set` items)."""
    extra = tuple(item for setting in more for item in ("--set", setting))
    return Row(f"space: {name}", expect, ("--set", f"sweep.space={{{ranges}}}", *extra))


SPACE = [
    space("unknown knob", "sweep.space.lambda: not a knob", "lambda: {low: 1, high: 2}"),
    space("inverted range", "low 0.9 must be below high 0.1", "beta1: {low: 0.9, high: 0.1}"),
    space("empty choices", "sweep.space.n_critic.choices: is empty", "n_critic: {choices: []}"),
    space("log with low 0", "a log range needs low > 0", "beta1: {low: 0.0, high: 0.5, log: true}"),
    space("step with log", "cannot be used with log", "lr: {low: 0.0001, high: 0.01, log: true, step: 0.001}"),
    space("grid without a step", "sampler 'grid' needs choices", "lr: {low: 0.0001, high: 0.01}",
          "sweep.sampler=grid", "sweep.trials_per_variant=null"),
    space("the default outside the range", "excludes 0.0001, the value variant", "lr: {low: 0.001, high: 0.01}"),
    space("choices and a range", "give either choices or low/high", "n_critic: {choices: [1], low: 1, high: 2}"),
    space("choices of the wrong type", "sweep.space.n_critic.choices[0]: 'one' is a string",
          "n_critic: {choices: [one]}"),
    space("a range without high", "needs low and high", "lr: {low: 0.0001}"),
    space("a range on a text knob", "sweep.space.device: not a knob", "device: {low: 1, high: 2}"),
    space("an unknown range key", "sweep.space.lr.lo: unknown key", "lr: {lo: 1}"),
    space("a knob out of its own range", "sweep.space.beta1.high: 1.5 is out of range", "beta1: {low: 0.1, high: 1.5}"),
    Row("sampler: startup trials with random", "sweep.startup_trials: 2 has no effect",
        ("--set", "sweep.sampler=random", "--set", "sweep.startup_trials=2")),
    Row("sampler: grid with a trial count", "leave it out with sampler 'grid'", ("--set", "sweep.sampler=grid")),
]

FLAGS = [
    Row("--workers 0", "--workers: 0 is out of range", ("--workers", "0")),
    Row("--workers -1", "--workers: -1 is out of range", ("--workers", "-1")),
    Row("--workers 257", "--workers: 257 is out of range", ("--workers", "257")),
    Row("--workers two", "argument --workers: invalid int value: 'two'", ("--workers", "two")),
    Row("--workers 1.5", "argument --workers: invalid int value: '1.5'", ("--workers", "1.5")),
    Row("--workers without a value", "argument --workers: expected one argument", ("--workers",)),
    Row("--storage ''", "--storage: '' is not a supported URL", ("--storage", "")),
    Row("--tracking-uri ''", "--tracking-uri: '' is not a supported URL", ("--tracking-uri", "")),
    Row("an unknown flag", "unrecognized arguments: --no-such-flag", ("--no-such-flag",)),
    Row("a misspelt flag", "unrecognized arguments: --dryrun", ("--dryrun",)),
    Row("no config at all", "the following arguments are required: config", argv=()),
    Row("a config that does not exist", "cannot read config 'missing.yaml'", argv=("missing.yaml",)),
    Row("a config that is a folder", "cannot read config", argv=("@folder@",)),
    Row("--set without =", "--set: 'train.steps' is not of the form key.path=value", ("--set", "train.steps")),
    Row("--set with an empty key", "--set: '=5' is not of the form", ("--set", "=5")),
    Row("--set with a double dot", "'train..lr=1' is not of the form", ("--set", "train..lr=1")),
    Row("--set into a scalar", "name: 'e2e' is a string; cannot set name.x inside it", ("--set", "name.x=1")),
    Row("--set with malformed YAML", "malformed YAML", ("--set", "train.steps=[1")),
    Row("a bare override without =", "'train.steps' is not key=value", ("train.steps",)),
    Row("a bare override with an unknown key", "train.stpes: unknown key", ("train.stpes=5",)),
    Row("--print-config with a bad value", "train.steps: 0 is out of range", ("--print-config", "train.steps=0")),
    Row("--dry-run with a bad value", "train.steps: 0 is out of range", ("--dry-run", "train.steps=0")),
    Row("gan-ablate: no subcommand", "gan-ablate: the following arguments are required", command="gan-ablate",
        argv=()),
    Row("gan-ablate: unknown subcommand", "invalid choice: 'sweeep'", command="gan-ablate", argv=("sweeep",)),
    Row("gan-ablate: sweep without a config", "the following arguments are required: config", command="gan-ablate",
        argv=("sweep",)),
    Row("gan-ablate: an unknown flag", "unrecognized arguments: --fast", command="gan-ablate",
        argv=("sweep", "@config@", "--fast")),
    Row("train: no --variant", "the following arguments are required: --variant", command="train"),
    Row("train: an unknown variant", "--variant: 'vanila' is not one of: wgan_gp", ("--variant", "vanila"),
        command="train"),
    Row("train: --resume without a checkpoint", "--resume: no checkpoint at", ("--variant", "wgan_gp", "--resume",
                                                                               "--out", "fresh"), command="train"),
    Row("train: --resume with an empty checkpoint", "the file is empty (0 bytes)",
        ("--variant", "wgan_gp", "--resume", "--out", "out"), command="train",
        setup=text_file("out/checkpoint.pt", "")),
    Row("train: --resume with a text file", "cannot read checkpoint", ("--variant", "wgan_gp", "--resume", "--out",
                                                                        "out"), command="train",
        setup=text_file("out/checkpoint.pt", "not a checkpoint\n")),
    Row("report: an unknown format", "argument --format: invalid choice: 'pdf'", ("--format", "pdf"), command="report"),
    Row("report: a bad value", "train.steps: 0 is out of range", ("train.steps=0",), command="report"),
    Row("report: an unsupported storage URL", "--storage: 'mysql://x' is not a supported URL",
        ("--storage", "mysql://x"), command="report"),
]

ROWS: list[Row] = [*ISSUE_ROWS, *ISSUE_NEIGHBOURS, *issue26_rows(), *schema_rows(), *TOP_LEVEL, *PLUGINS,
                   *url_rows(), *DATA, *VARIANTS, *DESIGNS, *SPACE, *FLAGS]
