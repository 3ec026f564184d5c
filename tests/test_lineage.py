"""Lineage: every stage's code deps in dvc.yaml cover what its entry point imports (issue 12)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY
from vaerepro import lineage

STAGES = lineage.load_stages(REPOSITORY / "dvc.yaml")
GRAPH = lineage.ImportGraph(REPOSITORY)
FINGERPRINTER = lineage.fingerprint_stage(STAGES)


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


def fingerprinted_project(root: Path) -> Path:
    """The synthetic project with a lineage stage and two stages that depend on their fingerprints."""
    write(root, {**SYNTHETIC, "pipeline/other.py": "from pkg.other import more\n"})
    (root / "dvc.yaml").write_text(
        "stages:\n"
        "  lineage:\n    cmd: python -m vaerepro.lineage --fingerprints lineage\n"
        "    deps: [pipeline, src/pkg]\n    outs: [lineage/run.json, lineage/other.json]\n"
        "  run:\n    cmd: python pipeline/run.py\n    deps: [lineage/run.json, data/raw]\n"
        "  other:\n    cmd: python pipeline/other.py\n    deps: [lineage/other.json]\n"
    )
    return root / "dvc.yaml"


def test_a_stage_is_covered_by_the_fingerprint_it_depends_on(tmp_path):
    dvc_yaml = fingerprinted_project(tmp_path)
    results = {result.stage.name: result for result in lineage.check(dvc_yaml)}
    assert results["run"].ok and results["run"].fingerprint == "lineage/run.json"
    assert results["other"].ok and results["lineage"].ok

    # Without the fingerprint dep nothing covers the stage's imports.
    text = dvc_yaml.read_text().replace("deps: [lineage/run.json, data/raw]", "deps: [data/raw]")
    dvc_yaml.write_text(text)
    results = {result.stage.name: result for result in lineage.check(dvc_yaml)}
    assert not results["run"].ok and "src/pkg/a.py" in results["run"].missing

    # A fingerprint the lineage stage does not write covers nothing either.
    dvc_yaml.write_text(text.replace("outs: [lineage/run.json, lineage/other.json]", "outs: [lineage/other.json]"))
    dvc_yaml.write_text(dvc_yaml.read_text().replace("deps: [data/raw]", "deps: [lineage/run.json, data/raw]"))
    results = {result.stage.name: result for result in lineage.check(dvc_yaml)}
    assert not results["run"].ok


def test_fingerprints_change_only_for_the_stages_that_import_the_edited_file(tmp_path):
    dvc_yaml = fingerprinted_project(tmp_path)
    folder = tmp_path / "lineage"
    assert sorted(path.name for path in lineage.write_fingerprints(dvc_yaml, folder)) == ["other.json", "run.json"]
    run = json.loads((folder / "run.json").read_text())
    assert set(run["files"]) == DERIVED and run["entry_points"] == ["script pipeline/run.py"]
    assert run["files"]["src/pkg/a.py"] == hashlib.sha256((tmp_path / "src/pkg/a.py").read_bytes()).hexdigest()
    assert lineage.write_fingerprints(dvc_yaml, folder) == []  # nothing changed: nothing rewritten

    (tmp_path / "src/pkg/lazy.py").write_text("VALUE = 2\n")  # imported by run only
    assert lineage.write_fingerprints(dvc_yaml, folder) == [folder / "run.json"]
    assert json.loads((folder / "run.json").read_text())["sha256"] != run["sha256"]

    (tmp_path / "src/pkg/unused.py").write_text("VALUE = 3\n")  # imported by no stage
    assert lineage.write_fingerprints(dvc_yaml, folder) == []

    # A new import changes the file set, hence the fingerprint, even of files that did not change.
    (tmp_path / "pipeline/other.py").write_text("from pkg.other import more\nfrom pkg import unused\n")
    assert lineage.write_fingerprints(dvc_yaml, folder) == [folder / "other.json"]
    assert "src/pkg/unused.py" in json.loads((folder / "other.json").read_text())["files"]
    assert lineage.main(["--dvc-yaml", str(dvc_yaml), "--fingerprints", str(folder)]) == 0


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
    result = lineage.check_stage(stage, REPOSITORY, GRAPH, FINGERPRINTER)
    entries = [entry for command in stage.commands for entry in lineage.entry_points(command)]
    scripts = [target for kind, target in entries if kind == "script"]
    assert entries and all(script in result.derived for script in scripts), (
        f"{stage.name}: no entry point read from {stage.commands}"
    )
    assert not result.missing, (
        f"stage {stage.name!r} imports project files its dvc.yaml deps do not cover: {result.missing}. "
        "Depend on its fingerprint lineage/" + stage.name + ".json and list that file in the lineage stage's outs."
    )
    assert not result.dangling, f"stage {stage.name!r} depends on code paths that do not exist: {result.dangling}"


@pytest.mark.parametrize("stage", STAGES, ids=[stage.name for stage in STAGES])
def test_stage_code_deps_name_nothing_it_never_imports(stage):
    """Softer than coverage (an unused dep only re-runs the stage for nothing): a code dep that
    covers none of the stage's imports is stale, e.g. left behind by a move."""
    result = lineage.check_stage(stage, REPOSITORY, GRAPH, FINGERPRINTER)
    assert not result.unused, f"stage {stage.name!r} depends on code it never imports: {result.unused}"


def test_every_stage_depends_on_its_own_fingerprint_and_the_lineage_stage_writes_each():
    assert FINGERPRINTER is not None and FINGERPRINTER.name == "lineage"
    assert set(FINGERPRINTER.deps) == {"pipeline", "src/vaerepro"}  # every code root: nothing escapes
    others = [stage for stage in STAGES if stage is not FINGERPRINTER]
    assert sorted(FINGERPRINTER.outs) == sorted(f"lineage/{stage.name}.json" for stage in others)
    for stage in others:
        assert f"lineage/{stage.name}.json" in stage.deps, stage.name
        assert not [dep for dep in stage.deps if dep.startswith(("src/", "pipeline/"))], (
            f"{stage.name}: code deps belong in its fingerprint, not in dvc.yaml"
        )


def test_the_real_check_fails_without_the_fingerprint():
    train = next(stage for stage in STAGES if stage.name == "train")
    without = dataclasses.replace(train, deps=tuple(dep for dep in train.deps if not dep.startswith("lineage/")))
    result = lineage.check_stage(without, REPOSITORY, GRAPH, FINGERPRINTER)
    assert result.missing == sorted(result.derived)
    assert "src/vaerepro/__init__.py" in result.missing  # executed by every `vaerepro.*` import
