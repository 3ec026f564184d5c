"""Results of several profiles side by side: ``reports/profiles/<profile>/``.

DVC tracks one profile at a time: ``params.yaml``'s ``profile`` and the ``dvc.lock`` made with
it. A reproduction needs more: the smoke run CI repeats on every change, the CPU budget tier
(``cpu``, about two hours here) and whatever full-profile runs a borrowed GPU produced. So a
finished run's committed results are archived, each profile in its own folder::

    reports/profiles/<profile>/
        dvc.lock          the lock file the run ended with (every stage's params, code and data md5s)
        params.yaml       the params file it ran with
        metrics/<experiment>.json, figures/<experiment>/..., fid/<dataset>.json
                          the results, byte for byte as the run wrote them

The report reads the live results (``reports/metrics``) and every archived profile, and shows
per experiment the record with the largest training budget (:func:`vaerepro.report.records`).

A long profile (the CPU tier) may run in chunks: only the stages whose ``dvc.lock`` entry ran
at the archived profile are archived (the others still hold another profile's entry), and
archiving again after the next chunk replaces the folder with the larger set. Chunks run in
another checkout (a later revision, a second machine) are archived beside it as parts,
``reports/profiles/<profile>.<part>/`` (``vaerepro archive --part NAME``): each folder is one
checkout's snapshot with its own dvc.lock and params.yaml, checked on its own, and the report
reads them all.

Auditing an archived number: :func:`check_archive` (``vaerepro archive --check``) recomputes
every archived file's md5 the way DVC does (a file's md5; a folder's md5 over the JSON list of
its files' md5s and paths, suffixed ``.dir``) and compares it with the archived ``dvc.lock``,
whose entries then lead to the params, code fingerprints and data hashes of the run, exactly as
``dvc status`` would read them at the archived revision (``git_revision`` in every record).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from vaerepro.data.integrity import atomic_directory, file_digests

ARCHIVE_ROOT = Path("reports") / "profiles"
# Files above this size stay in the run's outputs, not in git: the archive lists them with their
# md5 (LEFT_OUT_FILE) so the folder digests still check against dvc.lock, and the report shows
# the figure as missing from the archive.
GIT_FILE_LIMIT = 1 << 20
LEFT_OUT_FILE = "left_out.json"
# The committed results a profile run produces, as dvc.lock names them (paths under reports/).
ARCHIVED_PREFIXES = ("reports/metrics/", "reports/figures/", "reports/fid/")
# Shared figures of the report stage itself (made from whichever records it chose), not a run's.
NOT_ARCHIVED = ("reports/figures/findings", "reports/figures/data/")


class ArchiveError(RuntimeError):
    """The run cannot be archived (its results do not match its dvc.lock), or an archive is damaged."""


def file_md5(path: Path) -> str:
    return file_digests(path, ("md5",))["md5"]


def dvc_md5(path: Path, left_out: Mapping[str, str] | None = None) -> str:
    """The md5 DVC records for ``path``: the file's, or for a folder ``<md5>.dir`` where the md5 is
    over ``json.dumps`` of its files' ``{"md5", "relpath"}`` sorted by path (DVC 3's tree digest;
    checked against dvc.lock entries in tests/test_archive.py). ``left_out``: md5 by path (relative
    to the folder) of files the archive did not copy, counted as if present."""
    if path.is_file():
        return file_md5(path)
    entries = [
        {"md5": file_md5(file), "relpath": file.relative_to(path).as_posix()}
        for file in (sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [])
    ]
    entries += [{"md5": md5, "relpath": relpath} for relpath, md5 in (left_out or {}).items()]
    entries.sort(key=lambda entry: entry["relpath"])
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest() + ".dir"


def _lock_stages(lock_path: Path) -> Mapping[str, Any]:
    try:
        data = yaml.load(lock_path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as error:
        raise ArchiveError(f"{lock_path}: cannot be read ({error})") from error
    stages = data.get("stages") if isinstance(data, Mapping) else None
    if not isinstance(stages, Mapping):
        raise ArchiveError(f"{lock_path}: no 'stages' in it")
    return stages


def stage_profile(entry: Any) -> str | None:
    """The ``profile`` param a dvc.lock stage entry ran with (None: it reads no profile)."""
    for params in ((entry or {}).get("params") or {}).values():
        if isinstance(params, Mapping) and "profile" in params:
            return str(params["profile"])
    return None


def archived_outputs(lock_path: Path, profile: str) -> Iterator[tuple[str, str, str]]:
    """(stage, output path, md5) of every committed result output of the stages that ran at ``profile``."""
    for stage, entry in _lock_stages(lock_path).items():
        if stage_profile(entry) != profile:
            continue
        for out in (entry or {}).get("outs") or []:
            path = str(out.get("path", ""))
            if path.startswith(ARCHIVED_PREFIXES) and not path.startswith(NOT_ARCHIVED):
                yield str(stage), path, str(out.get("md5", ""))


def params_profile(repository: Path) -> str:
    """The top-level ``profile`` of the repository's params.yaml (the profile the run was made at)."""
    import yaml

    try:
        profile = (yaml.safe_load((repository / "params.yaml").read_text()) or {}).get("profile")
    except (OSError, yaml.YAMLError) as error:
        raise ArchiveError(f"{repository / 'params.yaml'}: cannot be read ({error})") from error
    if not isinstance(profile, str):
        raise ArchiveError(f"{repository / 'params.yaml'} has no top-level profile")
    return profile


def folder_profile(folder: Path) -> str:
    """The profile an archive folder holds: its name up to the first dot (``cpu.vq`` → ``cpu``)."""
    return folder.name.split(".", 1)[0]


def archive_profile(repository: Path, part: str | None = None) -> Path:
    """Copy the run's results and its dvc.lock/params.yaml into ``reports/profiles/<profile>/``
    (``<profile>.<part>/`` for a part run in another checkout).

    The profile is params.yaml's; the results are the outputs of the stages whose dvc.lock entry
    ran at it (module docstring). Only results whose files match their dvc.lock md5 are archived
    (a result edited by hand or a stage still running would be caught here); the folder is
    replaced as a whole, atomically.

    Raises:
        ArchiveError: a result differs from dvc.lock or is missing, or no stage ran at the profile.
    """
    lock_path = repository / "dvc.lock"
    profile = params_profile(repository)
    outputs = list(archived_outputs(lock_path, profile))
    if not outputs:
        raise ArchiveError(f"{lock_path}: no stage ran at profile {profile!r} (params.yaml's); run it first")
    problems = [
        f"{path} ({stage}): {'missing' if not (repository / path).exists() else 'differs from dvc.lock'}"
        for stage, path, md5 in outputs
        if not (repository / path).exists() or dvc_md5(repository / path) != md5
    ]
    if problems:
        raise ArchiveError("results that do not match dvc.lock, not archived:\n  " + "\n  ".join(problems))
    if part is not None and (not part or not all(c.isalnum() or c in "-_" for c in part)):
        raise ArchiveError(f"part name {part!r}: use letters, digits, '-' and '_' only")
    target = repository / ARCHIVE_ROOT / (profile if part is None else f"{profile}.{part}")
    left_out: dict[str, dict[str, Any]] = {}
    with atomic_directory(target) as staging:
        shutil.copy2(lock_path, staging / "dvc.lock")
        shutil.copy2(repository / "params.yaml", staging / "params.yaml")
        for _, path, _ in outputs:
            source = repository / path
            for file in sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else [source]:
                relative = file.relative_to(repository).as_posix()
                if file.stat().st_size > GIT_FILE_LIMIT:
                    left_out[relative] = {"md5": file_md5(file), "bytes": file.stat().st_size}
                    continue
                destination = staging / file.relative_to(repository / "reports")
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(file, destination)
        if left_out:
            (staging / LEFT_OUT_FILE).write_text(json.dumps(left_out, indent=1, sort_keys=True) + "\n")
    return target


def _left_out_file(folder: Path, path: str) -> str | None:
    """The recorded md5 of output file ``path`` if the archive left it out, else None."""
    listing = folder / LEFT_OUT_FILE
    entry = json.loads(listing.read_text()).get(path) if listing.is_file() else None
    return entry["md5"] if entry else None


def _left_out_under(folder: Path, path: str) -> dict[str, str]:
    """md5 by path relative to output ``path`` of its files the archive left out (LEFT_OUT_FILE)."""
    listing = folder / LEFT_OUT_FILE
    if not listing.is_file():
        return {}
    entries = json.loads(listing.read_text())
    prefix = path.rstrip("/") + "/"
    return {name.removeprefix(prefix): entry["md5"] for name, entry in entries.items() if name.startswith(prefix)}


def check_archive(folder: Path) -> list[str]:
    """What is wrong with an archived profile folder (empty when every file matches its dvc.lock)."""
    lock_path = folder / "dvc.lock"
    if not lock_path.is_file():
        return [f"{folder}: no dvc.lock"]
    try:
        outputs = list(archived_outputs(lock_path, folder_profile(folder)))
    except ArchiveError as error:
        return [str(error)]
    problems = []
    if not outputs:
        problems.append(f"{folder}: its dvc.lock has no stage that ran at profile {folder_profile(folder)!r}")
    for stage, path, md5 in outputs:
        archived = folder / Path(path).relative_to("reports")
        left_out = _left_out_under(folder, path)
        listed_file = _left_out_file(folder, path)
        if not archived.exists() and listed_file is not None:
            if listed_file != md5:
                problems.append(f"{archived} ({stage}): left out with md5 {listed_file} but dvc.lock says {md5}")
        elif not archived.exists() and not left_out:
            problems.append(f"{archived} ({stage}): missing")
        elif dvc_md5(archived, left_out) != md5:
            problems.append(f"{archived} ({stage}): md5 {dvc_md5(archived, left_out)} but dvc.lock says {md5}")
    return problems


def archived_profiles(reports_root: Path) -> list[Path]:
    """The archived profile folders under ``reports_root/profiles`` (hidden staging ones excluded)."""
    root = reports_root / "profiles"
    if not root.is_dir():
        return []
    return sorted(path for path in root.iterdir() if path.is_dir() and not path.name.startswith("."))
