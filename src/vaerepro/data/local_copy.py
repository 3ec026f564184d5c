"""What a dataset's local copy holds, as a small JSON file DVC can compare between runs.

``download@<dataset>`` reads ``<local_copy>/<dataset>/``, a folder outside the repository that
DVC does not watch, so a file repaired or replaced there would leave the stage "up to date"
(and the run-cache could restore an old copy). The ``local_copy@<dataset>`` stage runs on every
``dvc repro`` (``always_changed``) and writes this manifest: the local-copy setting as written in
params.yaml (relative, so the same on every machine) and the sha256 of every file under the
dataset's folder, keyed by relative path. ``download@`` depends on the manifest, so it re-runs
exactly when the copy's content changes. Hashing is cached per (path, size, mtime) in a side
file, so an unchanged copy costs a directory walk.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from vaerepro.config import Params
from vaerepro.data.integrity import file_digests, write_json


def _load_cache(path: Path) -> dict[str, Any]:
    try:
        cache = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return cache if isinstance(cache, dict) else {}


def local_copy_manifest(name: str, params: Params, cache_path: Path | None = None) -> dict[str, Any]:
    """The manifest of ``<local_copy>/<name>/``: ``{"dataset", "local_copy", "present", "files"}``."""
    manifest: dict[str, Any] = {"dataset": name, "local_copy": params.local_copy, "present": False, "files": {}}
    root = params.local_copy_dir
    if root is None or not (root / name).is_dir():
        return manifest
    folder = root / name
    cache = _load_cache(cache_path) if cache_path is not None else {}
    fresh_cache: dict[str, Any] = {}
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        status = path.stat()
        key = f"{status.st_size}:{status.st_mtime_ns}"
        entry = cache.get(relative)
        digest = (
            entry["sha256"]
            if isinstance(entry, dict) and entry.get("key") == key
            else file_digests(path, ("sha256",))["sha256"]
        )
        fresh_cache[relative] = {"key": key, "sha256": digest}
        files[relative] = digest
    if cache_path is not None:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache_path.with_name(f".{cache_path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(fresh_cache))
        os.replace(temporary, cache_path)
    manifest.update(present=True, files=files)
    return manifest


def write_local_copy_manifest(name: str, params: Params, output: Path) -> dict[str, Any]:
    """Write the manifest to ``output`` (atomically, sorted keys) with its hash cache beside it."""
    manifest = local_copy_manifest(name, params, output.with_name(f".{output.stem}.hash-cache.json"))
    write_json(output, manifest)
    return manifest
