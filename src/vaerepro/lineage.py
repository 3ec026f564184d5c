"""Derived code lineage: the project files each pipeline stage's entry point imports, hashed.

A stage must re-run when any project file its script runs changes, or the lineage has a hole.
Listing those files in every stage's ``deps`` made ``dvc.lock`` hold ~50 file hashes per stage
(572 kB for 85 stages), and DVC re-parses and rewrites that file after every stage it runs
(~3 s a stage on the 2-core CI machine at 573 kB: benchmarks/dvc_overhead.py). Instead one stage, ``lineage``, depends on the code
folders and writes, per stage kind, a small fingerprint ``lineage/<stage>.json`` (every derived
file with its sha256, and one sha256 over all of them); each stage depends on its own fingerprint.
A change to a file a stage imports changes that stage's fingerprint and re-runs it; a change
elsewhere re-writes the other fingerprints unchanged, and DVC re-runs nothing downstream.
``dvc status`` shows such an edit as ``lineage`` changed until ``dvc repro`` runs it (DVC reports
a stage only by its own deps).

The file set is derived statically (``ast``, nothing is imported, so no torch and no side effects):

* every ``import`` / ``from ... import`` statement anywhere in a module counts (module level,
  inside functions, under ``if TYPE_CHECKING``, in ``try``): conservative, never less than runs;
* ``from package import name`` counts ``package.name`` when that is a module (a submodule);
* relative imports are resolved against the importing module's package;
* importing ``a.b.c`` executes ``a/__init__.py`` and ``a/b/__init__.py``: those count, and so
  does everything *they* import (``vaerepro/models/__init__.py`` imports every model module);
* a string constant that names a project module in full (``"vaerepro.metrics.psnr"``) counts
  as an import: it covers ``importlib.import_module`` and lazy re-exports (``vaerepro/metrics``);
  a qualified class name (``"vaerepro.data.errors.DatasetError"``) does not;
* a string constant that names a non-Python file beside the module (``"claims.yaml"`` read via
  ``Path(__file__).with_name(...)``) counts as that module's resource.

Modules are searched where the stage's interpreter searches them: the script's own folder
(``sys.path[0]`` for ``python pipeline/x.py``) and ``src/``; anything not found there (stdlib,
third party) is not project code. Imports built from computed strings are not seen.

The check (``python -m vaerepro.lineage [stage ...]``, and ``tests/test_lineage.py``): a stage's
derived files must be covered by its own code deps (a dep names the file or a folder above it)
or, when it depends on its fingerprint, by the deps of the ``lineage`` stage that writes it.
Code deps are deps under ``pipeline/`` or ``src/``; others (data, models, ``uv.lock``) are not
judged. ``--why FILE`` prints the import chain by which each stage reaches ``FILE``;
``--fingerprints FOLDER`` writes the fingerprints (the ``lineage`` stage's command).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import shlex
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

SOURCE_ROOTS = ("src",)  # where `src`-layout packages live (pyproject's wheel packages)
CODE_ROOTS = ("pipeline", "src")  # deps under these are code deps; the rest are data/models/...
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
_SKIPPED_PARTS = {"__pycache__"}
FINGERPRINT_OPTION = "--fingerprints"  # `python -m vaerepro.lineage --fingerprints FOLDER`: the lineage stage


@dataclass(frozen=True)
class _Module:
    """A resolved project module: its file (None for a namespace package) and its package."""

    name: str
    file: Path | None
    is_package: bool


def _called_name(call: ast.Call) -> str:
    function = call.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")


def _package_members(folder: Path) -> list[str]:
    """Module and sub-package names directly inside a package folder (what ``iter_modules`` lists)."""
    members = [path.stem for path in folder.glob("*.py") if path.stem != "__init__"]
    members += [path.name for path in folder.iterdir() if path.is_dir() and (path / "__init__.py").is_file()]
    return sorted(members)


class ImportGraph:
    """Resolves module names to project files and follows their imports (each file parsed once)."""

    def __init__(self, repository: Path, source_roots: Sequence[str] = SOURCE_ROOTS) -> None:
        self.repository = Path(repository).resolve()
        self.source_roots = tuple(self.repository / root for root in source_roots)
        self._parsed: dict[Path, ast.Module] = {}

    # -- resolution -------------------------------------------------------------------------

    def _resolve(self, name: str, search: Sequence[Path]) -> _Module | None:
        """The project module ``name`` as found on ``search`` (first root holding its top level)."""
        parts = name.split(".")
        for root in search:
            top = root / parts[0]
            if not (top.is_dir() or top.with_suffix(".py").is_file()):
                continue
            base = root.joinpath(*parts)
            if (base / "__init__.py").is_file():
                return _Module(name, base / "__init__.py", True)
            if base.with_suffix(".py").is_file():
                return _Module(name, base.with_suffix(".py"), False)
            if base.is_dir():  # namespace package (no __init__.py): executes nothing itself
                return _Module(name, None, True)
            return None  # the top level is ours but this submodule is not: not a module
        return None

    def _with_parents(self, name: str, search: Sequence[Path]) -> list[_Module]:
        """``a.b.c`` and the packages whose ``__init__`` importing it executes (``a``, ``a.b``)."""
        parts = name.split(".")
        modules = []
        for end in range(1, len(parts) + 1):
            module = self._resolve(".".join(parts[:end]), search)
            if module is None:
                return modules if end > 1 else []
            modules.append(module)
        return modules

    # -- parsing ----------------------------------------------------------------------------

    def _tree(self, path: Path) -> ast.Module:
        if path not in self._parsed:
            self._parsed[path] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        return self._parsed[path]

    def _imported_names(self, module: _Module) -> tuple[set[str], set[str]]:
        """(module names ``module`` may import, string constants in it), statically."""
        assert module.file is not None
        package = module.name if module.is_package else module.name.rpartition(".")[0]
        names: set[str] = set()
        strings: set[str] = set()
        for node in ast.walk(self._tree(module.file)):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = package.split(".") if package else []
                    if node.level - 1 > len(anchor):
                        continue  # beyond the top-level package: an ImportError at run time
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                else:
                    base = node.module or ""
                if not base:
                    continue
                names.add(base)
                names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
            elif module.is_package and isinstance(node, ast.Call) and _called_name(node) == "iter_modules":
                # A package that discovers its modules (``pkgutil.iter_modules(__path__)``, how the
                # model and evaluation-extras registries load every member) imports all of them.
                names.update(f"{module.name}.{member}" for member in _package_members(module.file.parent))
        return names, strings

    def _resources(self, module: _Module, strings: Iterable[str]) -> set[Path]:
        """Non-Python files beside ``module`` that one of its string constants names."""
        assert module.file is not None
        folder = module.file.parent
        found = set()
        for text in strings:
            if not text or "\n" in text or len(text) > 200 or text.startswith(("/", ".")):
                continue
            candidate = folder / text
            try:
                is_file = candidate.is_file()
            except (OSError, ValueError):
                continue
            if is_file and candidate.suffix != ".py" and folder in candidate.resolve().parents:
                found.add(candidate.resolve())
        return found

    # -- the closure --------------------------------------------------------------------------

    def script_files(self, script: Path) -> dict[Path, Path | None]:
        """Every project file ``python <script>`` may execute or read as a resource (absolute),
        each with the file whose import first reached it (``None`` for the script itself)."""
        script = (self.repository / script).resolve()
        search = (script.parent, *self.source_roots)
        return self._closure([(_Module("__main__", script, False), None)], search)

    def module_files(self, name: str) -> dict[Path, Path | None]:
        """Every project file ``python -m <name>`` may execute or read (as :meth:`script_files`)."""
        search = (self.repository, *self.source_roots)  # -m puts the working directory first
        return self._closure([(module, None) for module in self._with_parents(name, search)], search)

    def _closure(self, start: list[tuple[_Module, Path | None]], search: Sequence[Path]) -> dict[Path, Path | None]:
        reached: dict[Path, Path | None] = {}
        seen: set[str] = set()
        pending = list(start)
        while pending:
            module, importer = pending.pop(0)
            if module.name in seen:
                continue
            seen.add(module.name)
            if module.file is None:
                continue
            file = module.file.resolve()
            reached.setdefault(file, importer)
            names, strings = self._imported_names(module)
            # A string counts only when it names a module in full: "vaerepro.metrics.psnr" (an
            # import_module target) does, "vaerepro.data.errors.DatasetError" (a class's name) not.
            names |= {text for text in strings if _DOTTED.fullmatch(text) and self._resolve(text, search)}
            for resource in self._resources(module, strings):
                reached.setdefault(resource, file)
            for name in sorted(names):
                pending.extend((found, file) for found in self._with_parents(name, search))
        return reached


# -- dvc.yaml ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """One ``dvc.yaml`` stage (a ``foreach`` template counts once: its ``do`` holds the code deps)."""

    name: str
    commands: tuple[str, ...]
    deps: tuple[str, ...]
    wdir: str = "."
    outs: tuple[str, ...] = ()


def load_stages(dvc_yaml: Path) -> list[Stage]:
    import yaml  # here: training imports this module (code_fingerprint) on machines without PyYAML

    document = yaml.safe_load(Path(dvc_yaml).read_text()) or {}
    stages = []
    for name, body in (document.get("stages") or {}).items():
        definition = body.get("do", body) if isinstance(body, dict) else {}
        commands = definition.get("cmd", [])
        commands = (commands,) if isinstance(commands, str) else tuple(commands)
        deps = _paths(definition.get("deps"))
        stages.append(Stage(name, commands, deps, str(definition.get("wdir", ".")), _paths(definition.get("outs"))))
    return stages


def _paths(entries: list | None) -> tuple[str, ...]:
    """Paths of a ``deps``/``outs`` list whose entries are ``path`` or ``{path: {options}}``."""
    return tuple(next(iter(entry)) if isinstance(entry, dict) else str(entry) for entry in entries or [])


def entry_points(command: str) -> list[tuple[str, str]]:
    """The Python programs a stage command runs: ``("script", path)`` or ``("module", name)``."""
    found = []
    for part in re.split(r"&&|\|\||;|\|", command):
        try:
            words = shlex.split(part)
        except ValueError:
            words = part.split()
        for index, word in enumerate(words):
            if not re.fullmatch(r"(.*/)?python(3(\.\d+)?)?", word):
                continue
            rest = words[index + 1 :]
            while rest and rest[0].startswith("-") and rest[0] != "-m":
                rest = rest[1:]  # interpreter options (-u, -X ..., -O)
            if len(rest) >= 2 and rest[0] == "-m":
                found.append(("module", rest[1]))
            elif rest and rest[0].endswith(".py"):
                found.append(("script", rest[0]))
            break
    return found


# -- the check -------------------------------------------------------------------------------------


def _covers(dep: str, file: str) -> bool:
    dep = dep.rstrip("/")
    return file == dep or file.startswith(dep + "/")


def _is_code_path(path: str) -> bool:
    return "${" not in path and PurePosixPath(path).parts[:1] in {(root,) for root in CODE_ROOTS}


def _project_files(repository: Path, path: str) -> set[str]:
    """The files (repository-relative) a dep path names, for code paths that exist."""
    target = repository / path
    if target.is_file():
        return {path.rstrip("/")}
    if target.is_dir():
        return {
            file.relative_to(repository).as_posix()
            for file in target.rglob("*")
            if file.is_file() and not _SKIPPED_PARTS & set(file.parts) and file.suffix != ".pyc"
        }
    return set()


@dataclass
class StageLineage:
    """A stage's derived code files against its declared deps."""

    stage: Stage
    derived: set[str]  # repository-relative files the stage's entry points import or read
    missing: list[str] = field(default_factory=list)  # derived files no dep covers (fail)
    dangling: list[str] = field(default_factory=list)  # code deps that name nothing (dvc fails)
    unused: list[str] = field(default_factory=list)  # code deps that cover no derived file
    fingerprint: str | None = None  # the fingerprint file the stage depends on (its code lineage)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.dangling)


def _reached(stage: Stage, repository: Path, graph: ImportGraph) -> dict[Path, Path | None]:
    reached: dict[Path, Path | None] = {}
    for command in stage.commands:
        for kind, target in entry_points(command):
            found = (
                graph.module_files(target) if kind == "module" else graph.script_files(repository / stage.wdir / target)
            )
            for file, importer in found.items():
                reached.setdefault(file, importer)
    return reached


def derive(stage: Stage, repository: Path, graph: ImportGraph | None = None) -> set[str]:
    """The repository-relative project files ``stage``'s commands import (scripts included)."""
    repository = Path(repository).resolve()
    reached = _reached(stage, repository, graph or ImportGraph(repository))
    return {file.relative_to(repository).as_posix() for file in reached if repository in file.parents}


def import_chain(stage: Stage, file: str, repository: Path) -> list[str]:
    """How ``stage`` reaches ``file``: the entry point first, ``file`` last (empty: it does not)."""
    repository = Path(repository).resolve()
    reached = _reached(stage, repository, ImportGraph(repository))
    current: Path | None = (repository / file).resolve()
    if current not in reached:
        return []
    chain = []
    while current is not None and current.relative_to(repository).as_posix() not in chain:
        chain.append(current.relative_to(repository).as_posix())
        current = reached[current]
    return chain[::-1]


def fingerprint_path(folder: str, stage_name: str) -> str:
    """Where the ``lineage`` stage writes ``stage_name``'s fingerprint (repository-relative)."""
    return f"{folder.rstrip('/')}/{stage_name}.json"


def fingerprint_stage(stages: Sequence[Stage]) -> Stage | None:
    """The stage that writes the fingerprints: it runs ``python -m vaerepro.lineage --fingerprints``."""
    for stage in stages:
        if any(FINGERPRINT_OPTION in command and "vaerepro.lineage" in command for command in stage.commands):
            return stage
    return None


def _fingerprint_folder(stage: Stage) -> str:
    for command in stage.commands:
        words = shlex.split(command)
        if FINGERPRINT_OPTION in words and words.index(FINGERPRINT_OPTION) + 1 < len(words):
            return words[words.index(FINGERPRINT_OPTION) + 1]
    raise ValueError(f"stage {stage.name!r} names no folder after {FINGERPRINT_OPTION}")


def check_stage(
    stage: Stage, repository: Path, graph: ImportGraph | None = None, fingerprinter: Stage | None = None
) -> StageLineage:
    """``stage``'s derived files against its code deps, plus the ``lineage`` stage's deps (``fingerprinter``)
    when ``stage`` depends on the fingerprint that stage writes for it."""
    repository = Path(repository).resolve()
    derived = derive(stage, repository, graph)
    deps = [(PurePosixPath(stage.wdir) / dep).as_posix() if stage.wdir != "." else dep for dep in stage.deps]
    lineage = StageLineage(stage, derived)
    covering = list(deps)
    if fingerprinter is not None and fingerprinter is not stage:
        own = fingerprint_path(_fingerprint_folder(fingerprinter), stage.name)
        if own in deps and own in fingerprinter.outs:
            covering += list(fingerprinter.deps)
            lineage.fingerprint = own
    lineage.missing = sorted(file for file in derived if not any(_covers(dep, file) for dep in covering))
    if stage is fingerprinter:
        return lineage  # its code deps are what it hashes (data to it), not only what it imports
    for dep in deps:
        if not _is_code_path(dep):
            continue
        named = _project_files(repository, dep)
        if not named:
            lineage.dangling.append(dep)
        elif any(file.endswith(".py") for file in named) and not any(_covers(dep, file) for file in derived):
            lineage.unused.append(dep)  # holds code, none of it imported (data-only deps are not judged)
    return lineage


def check(dvc_yaml: Path, repository: Path | None = None) -> list[StageLineage]:
    """Every stage of ``dvc_yaml`` checked (the repository defaults to its folder)."""
    repository = Path(repository or Path(dvc_yaml).parent).resolve()
    graph = ImportGraph(repository)
    stages = load_stages(dvc_yaml)
    fingerprinter = fingerprint_stage(stages)
    return [check_stage(stage, repository, graph, fingerprinter) for stage in stages]


def fingerprint(stage: Stage, repository: Path, graph: ImportGraph | None = None) -> dict:
    """The code ``stage`` runs, hashed: ``{"stage", "entry_points", "files": {path: sha256}, "sha256"}``.

    ``sha256`` is taken over the sorted (path, content) pairs, so it changes when a derived file's
    content or the set of files changes (a new import, a moved module), and with nothing else.
    """
    repository = Path(repository).resolve()
    files = sorted(derive(stage, repository, graph))
    digests = {}
    combined = hashlib.sha256()
    for relative in files:
        content = (repository / relative).read_bytes()
        digests[relative] = hashlib.sha256(content).hexdigest()
        combined.update(relative.encode() + b"\0" + content + b"\0")
    entry = [f"{kind} {target}" for command in stage.commands for kind, target in entry_points(command)]
    return {"stage": stage.name, "entry_points": entry, "files": digests, "sha256": combined.hexdigest()}


def write_fingerprints(dvc_yaml: Path, folder: Path) -> list[Path]:
    """Write ``folder/<stage>.json`` for every stage of ``dvc_yaml`` that runs project code.

    A file whose content is unchanged is left alone; a new one is written atomically (temporary
    file, then rename), so an interrupted run never leaves half a fingerprint. Returns the files
    that changed.
    """
    dvc_yaml = Path(dvc_yaml)
    repository = dvc_yaml.resolve().parent
    graph = ImportGraph(repository)
    stages = load_stages(dvc_yaml)
    fingerprinter = fingerprint_stage(stages)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for stage in stages:
        if stage is fingerprinter or not any(entry_points(command) for command in stage.commands):
            continue
        text = json.dumps(fingerprint(stage, repository, graph), indent=1) + "\n"
        target = folder / f"{stage.name}.json"
        if target.is_file() and target.read_text() == text:
            continue
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_text(text)
        os.replace(temporary, target)
        changed.append(target)
    return changed


def _report(lineage: StageLineage, repository: Path) -> str:
    stage = lineage.stage
    lines = [
        f"{stage.name}: {len(lineage.missing)} missing, {len(lineage.dangling)} dangling, {len(lineage.unused)} unused code deps"
    ]
    for label, items in (
        ("missing (imported, not covered)", lineage.missing),
        ("dangling (no such file)", lineage.dangling),
        ("unused (covers nothing imported)", lineage.unused),
    ):
        lines.extend(f"  {label}: {item}" for item in items)
    if lineage.fingerprint:
        lines.append(f"  code lineage: {lineage.fingerprint} ({len(lineage.derived)} files)")
    lines.extend(f"    {file}" for file in sorted(lineage.derived))
    return "\n".join(lines)


def main(arguments: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vaerepro.lineage",
        description="Check that each stage's code lineage covers what its script imports; list those files.",
    )
    parser.add_argument("--dvc-yaml", type=Path, default=Path("dvc.yaml"))
    parser.add_argument("--why", metavar="FILE", help="print how each stage reaches FILE (repository-relative)")
    parser.add_argument(
        FINGERPRINT_OPTION,
        metavar="FOLDER",
        type=Path,
        help="write each stage's code fingerprint to FOLDER/<stage>.json (the lineage stage's command)",
    )
    parser.add_argument("stages", nargs="*", help="stage names (default: all)")
    options = parser.parse_args(arguments)
    repository = options.dvc_yaml.resolve().parent
    if options.fingerprints:
        changed = write_fingerprints(options.dvc_yaml, options.fingerprints)
        names = ", ".join(path.stem for path in changed) or "none"
        print(f"lineage: code fingerprints in {options.fingerprints}/; changed: {names}")
        return 0
    if options.why:
        for stage in load_stages(options.dvc_yaml):
            if not options.stages or stage.name in options.stages:
                chain = import_chain(stage, options.why, repository)
                print(f"{stage.name}: {' -> '.join(chain) if chain else 'does not import it'}")
        return 0
    results = [r for r in check(options.dvc_yaml) if not options.stages or r.stage.name in options.stages]
    for lineage in results:
        print(_report(lineage, repository))
    failed = [lineage.stage.name for lineage in results if not lineage.ok]
    if failed:
        print(f"code deps incomplete or dangling in: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
