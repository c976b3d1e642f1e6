"""Layering: the import graph of harness/ has no cycle, no package imports one beside or above it, and
the config schema does not import torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import harness

ROOT = Path(harness.__file__).parent


# The packages (and the top-level modules) from the bottom up; docs/extending.md, "The code's layout",
# shows the same rows. A module may import its own package and the packages of lower rows only.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("core",),
    ("recipes", "models", "data", "stores"),
    ("metrics",),
    ("config",),
    ("train",),
    ("tracking",),
    ("report",),
    ("sweep",),
    ("plugins", "fetch_weights", "launch"),
    ("cli",),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Every harness module `path` imports anywhere: top level, inside functions, under TYPE_CHECKING."""
    found: set[str] = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # `from harness.data import toys` imports harness.data.toys; `from harness.data import X` the package
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in known}
    return found


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in ROOT.rglob("*.py")}
    known = set(paths)
    # Only explicit imports count: a package's __init__ importing its own submodules is how it is
    # assembled, not a dependency of the submodules on it.
    return {name: imported_modules(path, known) - {name} for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path of modules, or None (depth-first search, three colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_of_harness_has_no_cycle() -> None:
    graph = import_graph()
    assert "harness.config.resolve" in graph["harness.sweep.studies"]  # the graph sees real imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def loaded_by_import(module: str, candidates: tuple[str, ...]) -> list[str]:
    """Which of `candidates` a fresh interpreter has in sys.modules after `import module`."""
    code = f"import sys, {module}; print(*[name for name in {candidates!r} if name in sys.modules])"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def test_importing_the_config_schema_does_not_import_torch() -> None:
    assert loaded_by_import("harness.core.schema", ("torch", "optuna")) == []
    assert loaded_by_import("harness.core.schema", ("harness.core.schema",)) == ["harness.core.schema"]


def test_only_the_command_line_imports_the_sweep() -> None:
    """The sweep sits on top: the resolver, the registries and the report never import it, so a
    registry (samplers included) or a reader of the stores works without the sweep's machinery."""
    graph = import_graph()
    assert "harness.sweep.__main__" in graph["harness.cli"]  # the one entry point that may
    offenders = {module: sorted(dep for dep in deps if dep.startswith("harness.sweep"))
                 for module, deps in graph.items() if not module.startswith("harness.sweep") and module != "harness.cli"}
    assert {module: deps for module, deps in offenders.items() if deps} == {}


def unit(module: str) -> str:
    """The layer unit a module belongs to: its package under harness/, or itself at the top."""
    return module.split(".")[1] if module.count(".") else module


def arrows_against_layers(graph: dict[str, set[str]], layers: tuple[tuple[str, ...], ...]) -> list[str]:
    """Every import from one unit into another on the same or a higher row, as 'a -> b'."""
    row = {name: index for index, names in enumerate(layers) for name in names}
    bad = []
    for module, deps in sorted(graph.items()):
        for dep in sorted(deps):
            if dep == "harness" or unit(dep) == unit(module):
                continue
            if row[unit(dep)] >= row[unit(module)]:
                bad.append(f"{module} -> {dep}")
    return bad


def test_the_layer_check_finds_an_arrow_up_and_one_sideways() -> None:
    layers = (("low",), ("mid", "side"), ("top",))
    graph = {"harness.low.a": set(), "harness.mid.b": {"harness.low.a"}, "harness.side.c": set(),
             "harness.top": {"harness.mid.b", "harness.low.a"}}
    assert arrows_against_layers(graph, layers) == []
    graph["harness.low.a"] = {"harness.mid.b"}
    graph["harness.side.c"] = {"harness.mid.b"}
    assert arrows_against_layers(graph, layers) == ["harness.low.a -> harness.mid.b", "harness.side.c -> harness.mid.b"]


def test_every_package_has_a_row_and_the_top_holds_only_packages_and_the_entry_points() -> None:
    placed = {name for names in LAYERS for name in names}
    units = {unit(module) for module in import_graph() if module != "harness"}
    assert units == placed, f"not placed in LAYERS: {sorted(units - placed)}; gone: {sorted(placed - units)}"
    loose = sorted(p.stem for p in ROOT.glob("*.py") if p.stem != "__init__")
    assert loose == ["cli", "fetch_weights", "plugins"]


def test_no_package_imports_one_beside_or_above_it() -> None:
    assert arrows_against_layers(import_graph(), LAYERS) == []


def test_every_package_says_what_it_holds_and_what_it_may_import() -> None:
    for init in sorted(ROOT.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert len(doc.split()) >= 20 and "import" in doc, f"{init.relative_to(ROOT.parent)}: {doc[:60]!r}"


def test_the_report_reads_mlflow_through_the_read_side_only() -> None:
    """The report imports `harness.tracking.read` and nothing else of tracking, and that module pulls in
    neither the training loop nor Optuna: reading the stores never needs the trainer."""
    graph = import_graph()
    from_report = {dep for module, deps in graph.items() if unit(module) == "report"
                   for dep in deps if unit(dep) == "tracking"}
    assert from_report == {"harness.tracking.read"}
    assert loaded_by_import("harness.tracking.read", ("harness.train.trainer", "optuna")) == []


def documented_layers(markdown: str) -> tuple[tuple[str, ...], ...]:
    """The rows of docs/extending.md's layout table, bottom first, as the LAYERS tuple spells them."""
    rows: dict[int, tuple[str, ...]] = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].isdigit():
            names = [name.rstrip("/").removesuffix(".py") for name in cells[1].replace("`", "").split(", ")]
            rows[int(cells[0])] = tuple(sorted(names))
    return tuple(rows[index] for index in sorted(rows))


def test_the_documented_layout_is_the_enforced_one() -> None:
    text = (ROOT.parent / "docs" / "extending.md").read_text(encoding="utf-8")
    assert documented_layers(text) == tuple(tuple(sorted(row)) for row in LAYERS)
    assert documented_layers("| 1 | `b/`, `a.py` | x |\n| 0 | `c/` | y |\n") == (("c",), ("a", "b"))
