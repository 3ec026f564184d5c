"""Provenance and audit trail: what produced a number, from the record and from ``dvc.lock``.

The record carries the run's own provenance (profile, device, data variant and hash, seed,
params, git revision, wall time, parameter count, package versions). ``dvc.lock`` carries
the hashes DVC checked: for ``evaluate@<experiment>`` and, walking upstream through the
outputs each stage consumed, ``train@…``, ``prepare@…`` and ``download@…``. Together they
let an auditor trace one number back to data, params and code (DESIGN.md, stages).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vaerepro.report.budget import budget_text, evaluation_text, record_budget


@dataclass(frozen=True)
class LockEntry:
    """One stage of ``dvc.lock``: its command, dependency and output hashes, and params."""

    stage: str
    cmd: str
    deps: list[tuple[str, str]] = field(default_factory=list)  # (path, md5)
    outs: list[tuple[str, str]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # key → value, flattened per file


def _hash_of(item: Mapping[str, Any]) -> str:
    return str(item.get("md5") or item.get("etag") or item.get("checksum") or "?")


def read_lock(path: Path) -> dict[str, LockEntry]:
    """Parse ``dvc.lock`` (schema 2.0); a missing or unreadable file gives no entries."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    stages = data.get("stages") if isinstance(data, Mapping) else None
    if not isinstance(stages, Mapping):
        return {}
    entries = {}
    for name, stage in stages.items():
        if not isinstance(stage, Mapping):
            continue
        params: dict[str, Any] = {}
        for file_params in (stage.get("params") or {}).values():
            if isinstance(file_params, Mapping):
                params.update(file_params)
        entries[str(name)] = LockEntry(
            stage=str(name),
            cmd=str(stage.get("cmd", "")),
            deps=[(str(d.get("path")), _hash_of(d)) for d in stage.get("deps") or [] if isinstance(d, Mapping)],
            outs=[(str(o.get("path")), _hash_of(o)) for o in stage.get("outs") or [] if isinstance(o, Mapping)],
            params=params,
        )
    return entries


def _overlaps(first: str, second: str) -> bool:
    """Equal paths, or one inside the other (a dep on a directory that holds an output)."""
    a, b = first.rstrip("/"), second.rstrip("/")
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def upstream_trail(lock: Mapping[str, LockEntry], stage: str) -> list[LockEntry]:
    """``stage`` and every stage whose outputs it (transitively) depends on, nearest first."""
    producers = [(out, entry) for entry in lock.values() for out, _ in entry.outs]
    trail: list[LockEntry] = []
    queue = [stage]
    while queue:
        name = queue.pop(0)
        if name not in lock or any(entry.stage == name for entry in trail):
            continue
        entry = lock[name]
        trail.append(entry)
        for dep, _ in entry.deps:
            queue += [producer.stage for out, producer in producers if producer.stage != name and _overlaps(dep, out)]
    return trail


# Code deps: the stage's fingerprint (lineage/<stage>.json), or code paths in older dvc.lock files.
_CODE_DEPS = ("lineage/", "src/", "pipeline/")


@dataclass(frozen=True)
class ChainLink:
    """One stage of a number's chain: what it read, as ``dvc.lock`` hashes it (md5)."""

    stage: str
    inputs: list[tuple[str, str]]  # (path, md5) of data, models and upstream outputs
    code: list[tuple[str, str]]  # (fingerprint path, md5): the code it ran (lineage/<stage>.json)
    params: list[str]  # the params keys it read


def lineage_chain(lock: Mapping[str, LockEntry], experiment: str) -> list[ChainLink]:
    """``evaluate@<experiment>`` and every stage upstream of it, nearest first, each with the
    md5s ``dvc.lock`` records (the hashes ``dvc status`` compares, so a reader can match them),
    leaving out the stages that only record where files came from (``lineage``, ``local_copy``)."""
    links = []
    for entry in upstream_trail(lock, f"evaluate@{experiment}"):
        if entry.stage == "lineage" or entry.stage.startswith("local_copy@"):
            continue
        deps = dict(entry.deps)  # a dep listed twice (dataset = train data) once
        code = [(path, digest) for path, digest in deps.items() if path.startswith(_CODE_DEPS)]
        inputs = [
            (path, digest) for path, digest in deps.items() if not path.startswith((*_CODE_DEPS, "data/local_copy/"))
        ]
        links.append(ChainLink(entry.stage, inputs, code, sorted(entry.params)))
    return links


def dataset_hash_check(record: Mapping[str, Any], summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """Does the record's ``dataset_sha256`` match ``reports/data/<dataset>.json``?"""
    summary = summaries.get(str(record.get("dataset")))
    if summary is None:
        return "no dataset summary to check against"
    if summary.get("sha256") == record.get("dataset_sha256"):
        return "matches reports/data/{}.json".format(record.get("dataset"))
    return "DIFFERS from reports/data/{}.json ({}): the data changed after this run".format(
        record.get("dataset"), str(summary.get("sha256"))[:12]
    )


def provenance_rows(record: Mapping[str, Any], summaries: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(label, text) rows of one record's provenance, in reading order."""
    wall = record.get("wall_time_seconds") or {}
    wall_text = (
        ", ".join(f"{name} {seconds:.1f} s" for name, seconds in wall.items() if isinstance(seconds, int | float))
        if isinstance(wall, Mapping)
        else str(wall)
    )
    count = record.get("parameter_count")
    return [
        ("profile", str(record.get("profile"))),
        ("device", str(record.get("device"))),
        ("trained on", _training_device(record)),
        ("data variant", str(record.get("data_variant"))),
        ("data sha256", f"{record.get('dataset_sha256')} ({dataset_hash_check(record, summaries)})"),
        ("seed", str(record.get("seed"))),
        ("git revision", str(record.get("git_revision"))),
        ("wall time", wall_text or "-"),
        ("parameters", f"{count:,}" if isinstance(count, int) else str(count)),
        ("budget", _budget_row(record)),
    ]


def _training_device(record: Mapping[str, Any]) -> str:
    """``cuda:0 (NVIDIA H100 80GB HBM3), 412 s, stopped by its time limit (device batch)``."""
    training = record.get("training") if isinstance(record.get("training"), Mapping) else {}
    if not training.get("device"):
        return "the evaluation's device (not recorded separately)"
    parts = [str(training["device"])]
    if isinstance(training.get("wall_seconds"), int | float):
        parts.append(f"{training['wall_seconds']:.0f} s")
    if training.get("stopped_by_time_limit"):
        parts.append("stopped by its time limit")
    if training.get("device_batch"):
        parts.append("device batch")
    return ", ".join(parts)


def _budget_row(record: Mapping[str, Any]) -> str:
    """``300 of 150,000 steps (0.2 %) · N 500 (negative_elbo.test_count) · paper: <source>``."""
    budget = record_budget(record)
    parts = [budget_text(budget)]
    if evaluation := evaluation_text(budget):
        source = budget.get("evaluation_n_source")
        parts.append(f"{evaluation} ({source})" if source else evaluation)
    if budget.get("paper_source"):
        parts.append(f"budget from {budget['paper_source']}")
    elif budget.get("unit") == "unknown" and budget.get("note"):
        parts.append(str(budget["note"]))
    return " · ".join(parts)


def environment_table(records: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str]]:
    """Package → version(s) across all records; differing versions name their experiments."""
    versions: dict[str, dict[str, list[str]]] = {}
    for experiment, record in sorted(records.items()):
        environment = record.get("environment") or {}
        if not isinstance(environment, Mapping):
            continue
        for package, version in environment.items():
            versions.setdefault(str(package), {}).setdefault(str(version), []).append(experiment)
    rows = []
    for package in sorted(versions):
        seen = versions[package]
        if len(seen) == 1:
            rows.append((package, next(iter(seen))))
        else:
            rows.append((package, "; ".join(f"{v} ({', '.join(names)})" for v, names in sorted(seen.items()))))
    return rows


def audit_commands(experiment: str, metric: str) -> list[tuple[str, str]]:
    """(command, what it shows) for re-checking one number."""
    stage = f"evaluate@{experiment}"
    return [
        (f"uv run dvc status {stage}", "is the number current with its data, params and code? (empty = yes)"),
        (f"uv run dvc repro --dry {stage}", "which stages would re-run to recompute it"),
        (f"git log --oneline -- dvc.lock reports/metrics/{experiment}.json", "when its hashes and value last changed"),
        ("uv run dvc params diff HEAD~1", "which parameters changed since the previous commit"),
        ("uv run dvc exp show --drop 'datasets.*'", "experiments side by side with their params and metrics"),
        (
            f"uv run dvc repro --force {stage} && git diff --stat reports/metrics/{experiment}.json",
            f"recompute it from the cached inputs and compare ({metric})",
        ),
    ]
