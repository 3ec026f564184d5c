"""The ``download@<dataset>`` stage: obtain a dataset's files, verified, into ``data/raw/<name>/``.

Order of sources:
1. the user's local copy (``local_copy`` in params.yaml → ``<local_copy>/<name>/``), in any
   form the dataset's handler knows (official archive, extracted layout, known variants);
2. files already placed in ``data/downloads/<name>/`` (where manual downloads go);
3. the official URLs, downloaded into ``data/downloads/<name>/`` with retries.

Every file with a known checksum (official md5/sha256 from params, or the per-file manifest
of known copies) is verified before it is used. The raw directory is written atomically and
ends with ``source.json``: form, variant, and the sha256 of every file, so the DVC hash of
``data/raw/<name>`` depends on content only.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tqdm import tqdm

from vaerepro.config import DatasetParams, Params
from vaerepro.data.datasets import LocalMatch, handler
from vaerepro.data.download import download_file
from vaerepro.data.errors import ChecksumMismatch, MissingDatasetFile
from vaerepro.data.integrity import atomic_directory, file_digests, verify_file, write_json
from vaerepro.data.source_tree import check_archive_members, is_archive

SOURCE_RECORD = "source.json"


def read_manifest(path: Path) -> dict[str, str]:
    """Parse a ``sha256  relative/path`` manifest (sha256sum format) into {path: sha256}."""
    entries = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            digest, relative = line.split(maxsplit=1)
            entries[relative.strip().lstrip("*")] = digest.lower()
    return entries


def manual_instructions(name: str, dataset: DatasetParams, params: Params, downloads: Path) -> str:
    lines = [f"dataset '{name}' is not available and cannot be downloaded automatically."]
    if dataset.manual_instructions:
        lines.append(dataset.manual_instructions.strip())
    for source in dataset.files:
        checksum = (
            f"sha256 {source.sha256}"
            if source.sha256
            else (f"md5 {source.md5}" if source.md5 else "no checksum published")
        )
        lines.append(f"  file: {source.name} ({checksum})")
    lines.append(f"Put the file(s) in {downloads}/ , or set `local_copy` in params.yaml to a directory")
    lines.append(f"that contains a '{name}/' folder with the files (currently local_copy = {params.local_copy!r}).")
    return "\n".join(lines)


def _verify_against_manifest(match: LocalMatch, manifest: dict[str, str]) -> dict[str, str]:
    """Check every file of a local copy that the manifest lists; return {relative: sha256}."""
    digests = {}
    for source, relative in tqdm(sorted(match.files.items()), desc="verify", unit="file", leave=False):
        digest = file_digests(source, ("sha256",))["sha256"]
        expected = manifest.get(relative)
        if expected is not None and digest != expected:
            raise ChecksumMismatch(str(source), "sha256", expected, digest, None)
        digests[relative] = digest
    return digests


def _from_local_copy(
    name: str, dataset: DatasetParams, params: Params
) -> tuple[LocalMatch, dict[str, str], dict] | None:
    local_root = params.local_copy_dir
    if local_root is None:
        return None
    directory = local_root / name
    if not directory.is_dir():
        return None
    match = handler(name).find_local(directory, dataset)
    if match is None:
        return None
    by_name = {source.name: source for source in dataset.files}
    manifest = read_manifest(params.resolve(dataset.checksum_manifest)) if dataset.checksum_manifest else {}
    verification = {"official_checksum": 0, "known_copy_checksum": 0, "unverified": 0}
    if match.form == handler(name).official_form and by_name:
        digests = {}
        for source, relative in match.files.items():
            expected = by_name[relative]
            digests[relative] = verify_file(
                source, sha256=expected.sha256, md5=expected.md5, move_aside_on_mismatch=False
            )["sha256"]
        checked = sum(1 for relative in digests if by_name[relative].sha256 or by_name[relative].md5)
        verification["official_checksum"] = checked
        verification["unverified"] = len(digests) - checked
    else:
        digests = _verify_against_manifest(match, manifest)
        known = sum(relative in manifest for relative in digests)
        verification["known_copy_checksum"] = known
        verification["unverified"] = len(digests) - known
    return match, digests, verification


def _from_downloads(
    name: str, dataset: DatasetParams, params: Params, downloads: Path
) -> tuple[LocalMatch, dict[str, str], dict]:
    files, digests = {}, {}
    for source in dataset.files:
        target = downloads / source.name
        if target.is_file():
            digests[source.name] = verify_file(target, sha256=source.sha256, md5=source.md5)["sha256"]
        elif source.urls:
            digests[source.name] = download_file(source.urls, target, sha256=source.sha256, md5=source.md5)["sha256"]
        else:
            raise MissingDatasetFile(manual_instructions(name, dataset, params, downloads))
        files[target] = source.name
    if not files:
        raise MissingDatasetFile(manual_instructions(name, dataset, params, downloads))
    checked = sum(1 for source in dataset.files if source.sha256 or source.md5)
    verification = {"official_checksum": checked, "known_copy_checksum": 0, "unverified": len(files) - checked}
    return LocalMatch(form=handler(name).official_form, variant="official", files=files), digests, verification


def fetch(name: str, params: Params, raw_root: Path, downloads_root: Path) -> dict:
    """Fill ``raw_root/<name>`` from the best available source; return the source record."""
    dataset = params.dataset(name)
    downloads = downloads_root / name
    found = _from_local_copy(name, dataset, params)
    origin = "local copy"
    if found is None:
        if params.local_copy_dir is not None:
            print(f"[{name}] no usable copy under {params.local_copy_dir / name}; trying downloads")
        found = _from_downloads(name, dataset, params, downloads)
        origin = "official download"
    match, digests, verification = found
    for source in match.files:
        if is_archive(source):
            check_archive_members(source)  # an unsafe member is refused here, before it is recorded
    for note in match.notes:
        print(f"[{name}] note: {note}")
    record = {
        "dataset": name,
        "origin": origin,
        "form": match.form,
        "variant": match.variant,
        "notes": match.notes,
        "verification": verification,
        "files": dict(sorted(digests.items())),
    }
    with atomic_directory(raw_root / name) as staging:
        for source, relative in tqdm(sorted(match.files.items()), desc=f"copy {name}", unit="file", leave=False):
            destination = staging / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)
        write_json(staging / SOURCE_RECORD, record)
    return record
