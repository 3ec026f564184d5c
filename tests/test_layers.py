"""The house's layers point down, and no module imports itself round a circle (issue 12).

Read statically (``ast``), every import statement of every module counts, function-local ones
included: a lazy import is still a dependency, and hiding a circle inside a function is still a
circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "vaerepro"

# What each room (sub-package or top-level module) may import from the project besides itself.
# Lower layers first; models know nothing of evaluation, the report only reads records.
ALLOWED: dict[str, set[str]] = {
    "structured": set(),
    "revision": set(),
    "config": {"structured"},
    "baselines": set(),
    "pixels": set(),
    "metrics": {"pixels"},
    "data": {"config", "structured", "pixels"},
    "image_grids": {"data"},
    "records": {"data", "revision"},
    "models": {"baselines", "metrics", "structured"},
    "training": {"models", "revision", "structured", "data", "metrics", "config"},
    "evaluation": {"data", "image_grids", "metrics", "models", "records", "structured", "training", "config", "pixels"},
    "experiment": {
        "config",
        "data",
        "evaluation",
        "image_grids",
        "metrics",
        "models",
        "records",
        "structured",
        "training",
        "revision",
        "baselines",
        "lineage",
        "pixels",
    },
    "archive": {"data"},  # reports/profiles/<profile>/: files and dvc.lock md5s (data.integrity)
    "report": {"data", "image_grids", "records", "structured", "config", "revision", "archive"},
    "lineage": set(),
    "cli_errors": set(),
    "threads": set(),  # the OpenMP policy the package sets when imported, before torch
    # The device batch drives training from outside DVC (pack → run on a GPU machine → import).
    "device_batch": {"config", "data", "experiment", "image_grids", "metrics", "models", "revision", "training"},
    "cli": {"cli_errors", "config", "data", "structured", "archive", "device_batch"},
}


def module_names(package: Path) -> dict[str, Path]:
    names = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        names[name] = path
    return names


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules ``path`` imports (``from a import b`` counts ``a.b`` when it is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.split(".")[0] == "vaerepro"
        ):
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in modules
            )
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "vaerepro")
    return {name for name in found if name in modules}


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def import_graph(package: Path) -> dict[str, set[str]]:
    modules = module_names(package)
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def layer_violations(graph: dict[str, set[str]], allowed: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        source = room(module)
        if source == "vaerepro":  # the package's own __init__
            continue
        if source not in allowed:
            problems.append(f"{module}: room '{source}' has no entry in ALLOWED (say what it may import)")
            continue
        problems += [
            f"{module} imports {target}"
            for target in sorted(targets)
            if room(target) != source and room(target) != "vaerepro" and room(target) not in allowed[source]
        ]
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def without_package_registration(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package ``__init__`` that imports its own modules to register them, and those modules
    importing the package's registry, is registration, not a circle: drop the edges from a module
    to its own parent package."""
    return {
        module: {target for target in targets if not module.startswith(target + ".")}
        for module, targets in graph.items()
    }


def test_layers_point_down():
    assert layer_violations(import_graph(PACKAGE), ALLOWED) == []


def test_no_import_circles():
    assert cycles(without_package_registration(import_graph(PACKAGE))) == []


def test_models_import_neither_evaluation_nor_report():
    graph = import_graph(PACKAGE)
    offenders = {
        module: sorted(
            target
            for target in targets
            if room(target) in ("evaluation", "report", "records", "experiment", "image_grids")
        )
        for module, targets in graph.items()
        if room(module) == "models"
    }
    assert {module: targets for module, targets in offenders.items() if targets} == {}


@pytest.fixture
def tiny_package(tmp_path: Path) -> Path:
    package = tmp_path / "vaerepro"
    (package / "models").mkdir(parents=True)
    (package / "evaluation").mkdir()
    (package / "__init__.py").write_text("")
    (package / "models" / "__init__.py").write_text("")
    (package / "evaluation" / "__init__.py").write_text("")
    (package / "evaluation" / "score.py").write_text("from vaerepro.models import net\n")
    (package / "models" / "net.py").write_text("def f():\n    from vaerepro.evaluation import score\n")
    return package


def test_the_checks_catch_an_upward_import_and_a_circle(tiny_package: Path):
    graph = import_graph(tiny_package)
    assert graph["vaerepro.models.net"] == {"vaerepro.evaluation.score", "vaerepro.evaluation"}
    assert layer_violations(graph, {"models": set(), "evaluation": {"models"}}) == [
        "vaerepro.models.net imports vaerepro.evaluation",
        "vaerepro.models.net imports vaerepro.evaluation.score",
    ]
    assert cycles(without_package_registration(graph)) == [["vaerepro.evaluation.score", "vaerepro.models.net"]]
