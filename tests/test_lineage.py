"""Lineage: every stage's code deps in dvc.yaml cover what its entry point imports (issue 12)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY
from vaerepro import lineage

STAGES = lineage.load_stages(REPOSITORY / "dvc.yaml")
GRAPH = lineage.ImportGraph(REPOSITORY)


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# A tiny project: each module reaches the next by one kind of import.
SYNTHETIC = {
    "pipeline/run.py": "import os\nimport yaml\nimport helper\nfrom pkg.a import f\n",
    "pipeline/helper.py": "",  # the script's own folder
    "src/pkg/__init__.py": "from pkg import registered  # noqa\n",  # executed by any pkg import
    "src/pkg/registered.py": "",
    "src/pkg/a.py": "from .b import g\n\ndef f():\n    from pkg.sub import deep\n",  # relative; in a function
    "src/pkg/b.py": "from . import c\n\ndef g():\n    pass\n",  # `from package import submodule`
    "src/pkg/c.py": 'NAMES = {"pkg.named.Thing"}\n',  # a qualified class name, no import
    "src/pkg/named.py": "class Thing: ...\n",
    "src/pkg/sub/__init__.py": "",
    "src/pkg/sub/deep.py": (
        "import importlib\nfrom pathlib import Path\n"
        'TABLE = Path(__file__).with_name("table.yaml")\n'
        'lazy = importlib.import_module("pkg.lazy")\n'
    ),
    "src/pkg/sub/table.yaml": "a: 1\n",
    "src/pkg/lazy.py": "",
    "src/pkg/unused.py": "",
    "src/pkg/other/__init__.py": "",
    "src/pkg/other/more.py": "",
}
DERIVED = {
    "pipeline/run.py",
    "pipeline/helper.py",
    "src/pkg/__init__.py",
    "src/pkg/registered.py",
    "src/pkg/a.py",
    "src/pkg/b.py",
    "src/pkg/c.py",
    "src/pkg/sub/__init__.py",
    "src/pkg/sub/deep.py",
    "src/pkg/sub/table.yaml",
    "src/pkg/lazy.py",
}


def synthetic_stage(root: Path, deps: list[str]) -> lineage.Stage:
    write(root, SYNTHETIC)
    (root / "dvc.yaml").write_text(
        "stages:\n  run:\n    foreach: [x, y]\n    do:\n      cmd: python pipeline/run.py ${key}\n"
        "      deps:\n" + "".join(f"        - {dep}\n" for dep in deps)
    )
    (stage,) = lineage.load_stages(root / "dvc.yaml")
    return stage


def test_derivation_follows_transitive_relative_local_init_and_string_imports(tmp_path):
    stage = synthetic_stage(tmp_path, [])
    assert lineage.derive(stage, tmp_path) == DERIVED
    assert lineage.import_chain(stage, "src/pkg/lazy.py", tmp_path) == [
        "pipeline/run.py",
        "src/pkg/a.py",
        "src/pkg/sub/deep.py",
        "src/pkg/lazy.py",
    ]
    assert lineage.import_chain(stage, "src/pkg/unused.py", tmp_path) == []


def test_a_package_that_discovers_its_modules_imports_all_of_them(tmp_path):
    write(
        tmp_path,
        {
            "pipeline/run.py": "import plugins\n",
            "src/plugins/__init__.py": "import importlib\nimport pkgutil\n\nfor member in pkgutil.iter_modules(__path__):\n"
            "    importlib.import_module(f'{__name__}.{member.name}')\n",
            "src/plugins/one.py": "from other import thing\n",
            "src/plugins/two.py": "",
            "src/plugins/inner/__init__.py": "",
            "src/other/thing.py": "",
            "src/elsewhere.py": "",
        },
    )
    stage = lineage.Stage("run", ("python pipeline/run.py",), ())
    assert lineage.derive(stage, tmp_path) == {
        "pipeline/run.py",
        "src/plugins/__init__.py",
        "src/plugins/one.py",
        "src/plugins/two.py",
        "src/plugins/inner/__init__.py",
        "src/other/thing.py",
    }


def test_check_fails_when_a_dep_is_missing(tmp_path):
    complete = ["pipeline/run.py", "pipeline/helper.py", "src/pkg", "data/raw/${key}"]
    synthetic_stage(tmp_path, complete)
    assert lineage.check(tmp_path / "dvc.yaml")[0].ok

    without_room = [dep for dep in complete if dep != "src/pkg"] + ["src/pkg/a.py", "src/pkg/b.py"]
    synthetic_stage(tmp_path, without_room)
    (result,) = lineage.check(tmp_path / "dvc.yaml")
    assert not result.ok
    assert "src/pkg/sub/deep.py" in result.missing and "src/pkg/lazy.py" in result.missing
    assert "src/pkg/a.py" not in result.missing
    assert lineage.main(["--dvc-yaml", str(tmp_path / "dvc.yaml")]) == 1


def test_check_reports_dangling_and_unused_code_deps(tmp_path):
    synthetic_stage(
        tmp_path,
        [
            "pipeline/run.py",
            "pipeline/helper.py",
            "src/pkg",
            "src/pkg/moved_away.py",
            "src/pkg/other",
            "src/pkg/unused.py",
        ],
    )
    (result,) = lineage.check(tmp_path / "dvc.yaml")
    assert result.missing == []
    assert result.dangling == ["src/pkg/moved_away.py"]  # dvc repro would fail on it
    assert result.unused == ["src/pkg/other", "src/pkg/unused.py"]
    assert not result.ok


def test_suggested_deps_are_exact_and_collapse_only_whole_rooms(tmp_path):
    stage = synthetic_stage(tmp_path, [])
    suggested = lineage.suggested_deps(lineage.derive(stage, tmp_path), tmp_path)
    assert "src/pkg/sub" in suggested  # every file of it is used
    assert "src/pkg" not in suggested and "src/pkg/a.py" in suggested  # not unused.py, other/
    synthetic_stage(tmp_path, suggested)
    result = lineage.check(tmp_path / "dvc.yaml")[0]
    assert result.ok and result.unused == []


@pytest.mark.parametrize(
    "command, expected",
    [
        ("python pipeline/train.py ${key}", [("script", "pipeline/train.py")]),
        (
            "python -u pipeline/x.py && python3 -m pkg.tool --flag",
            [("script", "pipeline/x.py"), ("module", "pkg.tool")],
        ),
        ("dvc --version", []),
    ],
)
def test_entry_points_are_read_from_the_command(command, expected):
    assert lineage.entry_points(command) == expected


# -- the repository's own dvc.yaml ---------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES, ids=[stage.name for stage in STAGES])
def test_stage_code_deps_cover_everything_its_script_imports(stage):
    result = lineage.check_stage(stage, REPOSITORY, GRAPH)
    scripts = [
        target for command in stage.commands for kind, target in lineage.entry_points(command) if kind == "script"
    ]
    assert scripts and all(script in result.derived for script in scripts), (
        f"{stage.name}: no entry point read from {stage.commands}"
    )
    assert not result.missing, (
        f"stage {stage.name!r} imports project files its dvc.yaml deps do not cover: {result.missing}. "
        "Paste the derived list from `python -m vaerepro.lineage " + stage.name + "`."
    )
    assert not result.dangling, f"stage {stage.name!r} depends on code paths that do not exist: {result.dangling}"


@pytest.mark.parametrize("stage", STAGES, ids=[stage.name for stage in STAGES])
def test_stage_code_deps_name_nothing_it_never_imports(stage):
    """Softer than coverage (an unused dep only re-runs the stage for nothing): a code dep that
    covers none of the stage's imports is stale, e.g. left behind by a move."""
    result = lineage.check_stage(stage, REPOSITORY, GRAPH)
    assert not result.unused, f"stage {stage.name!r} depends on code it never imports: {result.unused}"


def test_the_real_check_fails_when_real_deps_are_dropped():
    train = next(stage for stage in STAGES if stage.name == "train")
    without_source = dataclasses.replace(train, deps=tuple(dep for dep in train.deps if not dep.startswith("src/")))
    result = lineage.check_stage(without_source, REPOSITORY, GRAPH)
    assert result.missing == sorted(file for file in result.derived if file.startswith("src/"))
    assert "src/vaerepro/__init__.py" in result.missing  # executed by every `vaerepro.*` import
