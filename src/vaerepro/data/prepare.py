"""The ``prepare@<dataset>`` stage: decode raw files into compact uint8 arrays with fixed splits.

Output layout (``data/prepared/<name>/``, written atomically)::

    summary.json              counts, shapes, dtypes, sha256 per array, data variant, source
    <split>/images.npy        uint8 N×H×W×C        (generation datasets)
    <split>/labels.npy        int64 N              (when the dataset has labels)
    <split>/inputs.npy        uint8 N×H×W×C        (paired datasets: degraded input)
    <split>/targets.npy       uint8 N×H×W×C        (paired datasets: clean reference)
    <split>/names.json        item identifiers (source file names or indices)

Splits: the dataset's own (train/test, LOL our485/eval15, ...) plus ``validation`` carved
from train with ``datasets.<name>.split_seed``. ``.npy`` (not ``.npz``) so that large sets
can be memory-mapped by training. The data variant (``official``, ``lossy-jpeg-q75``,
``subset-...``) is written into the summary and travels into every metric computed on it.

Paired datasets skip a pair whose file cannot be decoded or has an odd size (see
:mod:`vaerepro.data.datasets.paired`). Skipped pairs are listed per split in the summary
(``splits.<split>.skipped``: ``[{"name", "error"}]``, present only when non-empty, so the
hash of a complete dataset is unchanged), are part of the hashed content (another skip set →
another ``sha256``), are announced on the console, and add ``+subset-<n>-pairs-skipped`` to
the variant so that no number computed without them passes for one on the full dataset.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from vaerepro.config import Params
from vaerepro.data.datasets import handler
from vaerepro.data.errors import ChecksumMismatch, CorruptArchive
from vaerepro.data.fetch import SOURCE_RECORD
from vaerepro.data.integrity import atomic_directory, file_digests, write_json
from vaerepro.data.splits import Split, carve_validation

SUMMARY = "summary.json"
SKIPPED_VARIANT_PART = "subset-{count}-pairs-skipped"


def array_sha256(array: np.ndarray) -> str:
    """sha256 over dtype, shape and the C-order bytes: equal arrays ⇔ equal digests."""
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def read_source_record(raw: Path) -> dict:
    path = raw / SOURCE_RECORD
    if not path.is_file():
        raise CorruptArchive(f"{path} is missing: run the download stage first (dvc repro download@{raw.name})")
    return json.loads(path.read_text())


def verify_raw_files(raw: Path, source: dict) -> None:
    """Check every raw file against the sha256 ``download@`` recorded, before anything is decoded.

    ``data/raw/<name>`` may have been edited or damaged after the download stage verified it
    (by hand, a bad disk, a copy that bypassed the stage); decoding it would silently turn a
    flipped byte into a corrupt image.
    """
    for relative, expected in sorted(source.get("files", {}).items()):
        path = raw / relative
        if not path.is_file():
            raise CorruptArchive(
                f"{path} is missing from the raw data; restore it with `dvc checkout download@{raw.name}` "
                f"or rerun `dvc repro -f download@{raw.name}`"
            )
        actual = file_digests(path, ("sha256",))["sha256"]
        if actual != expected:
            raise ChecksumMismatch(
                f"{path} (changed since download@{raw.name} verified it; restore it with `dvc checkout "
                f"download@{raw.name}` or rerun `dvc repro -f download@{raw.name}`)",
                "sha256",
                expected,
                actual,
                None,
            )


def prepare(name: str, params: Params, raw_root: Path, prepared_root: Path) -> dict:
    """Decode ``raw_root/<name>`` into ``prepared_root/<name>``; return the summary."""
    dataset = params.dataset(name)
    raw = raw_root / name
    source = read_source_record(raw)
    verify_raw_files(raw, source)
    dataset_handler = handler(name)
    splits = dataset_handler.decode(raw, source["form"], dataset)
    if dataset.validation_count and "train" in splits:
        splits["train"], splits["validation"] = carve_validation(
            splits["train"], dataset.validation_count, dataset.split_seed
        )
    variant = dataset_handler.variant_for(splits, source["form"], source["variant"], raw)
    skipped = {split_name: split.skipped for split_name, split in splits.items() if split.skipped}
    if skipped:
        count = sum(len(items) for items in skipped.values())
        variant += "+" + SKIPPED_VARIANT_PART.format(count=count)
        _announce_skipped(name, skipped)
    summary = {
        "dataset": name,
        "title": dataset_handler.title,
        "paired": dataset_handler.paired,
        "class_names": list(dataset_handler.class_names),
        "variant": variant,
        "source": {key: source[key] for key in ("origin", "form", "variant", "notes", "verification")},
        "split_seed": dataset.split_seed,
        "validation_count": dataset.validation_count if "validation" in splits else 0,
        "splits": {},
    }
    with atomic_directory(prepared_root / name) as staging:
        for split_name, split in splits.items():
            summary["splits"][split_name] = _write_split(staging / split_name, split)
        summary["sha256"] = hashlib.sha256(json.dumps(summary["splits"], sort_keys=True).encode()).hexdigest()
        write_json(staging / SUMMARY, summary)
    return summary


def _write_split(directory: Path, split: Split) -> dict:
    directory.mkdir(parents=True)
    arrays = {}
    for key, array in split.arrays.items():
        np.save(directory / f"{key}.npy", array, allow_pickle=False)
        arrays[key] = {
            "shape": list(array.shape),
            "dtype": str(array.dtype),
            "sha256": array_sha256(array),
        }
    (directory / "names.json").write_text(json.dumps(split.names))
    record = {"count": len(split), "arrays": arrays}
    if split.skipped:
        record["skipped"] = [{"name": str(item["name"]), "error": str(item["error"])} for item in split.skipped]
    if "labels" in split.arrays:
        counts = np.bincount(split.arrays["labels"])
        record["label_counts"] = [int(count) for count in counts]
    return record


def _announce_skipped(name: str, skipped: dict[str, list[dict]]) -> None:
    total = sum(len(items) for items in skipped.values())
    lines = [
        f"warning: prepare@{name}: skipped {total} pair(s) that could not be decoded or had an odd size "
        f"(listed in {SUMMARY} under splits.<split>.skipped):"
    ]
    lines += [
        f"  {split_name}: {item['name']}: {item['error']}" for split_name, items in skipped.items() for item in items
    ]
    print("\n".join(lines), file=sys.stderr)
