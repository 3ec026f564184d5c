"""Gather everything the report shows into one :class:`Report`; the renderers only format it.

Inputs live under ``reports/`` (metrics records, dataset summaries, figures) and in the
repository root (``dvc.lock``, ``params.yaml`` for the planned experiments, ``dvc dag``).
Everything is optional: a missing input shows up as "not run" or "unavailable". The params
files are the exception to leniency: when present they are read through
:func:`vaerepro.config.load_params`, so a mistyped key fails here as in every other stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from vaerepro.archive import archived_profiles
from vaerepro.config import load_params
from vaerepro.report.choice import load_all_records
from vaerepro.report.claims import DEFAULT_CLAIMS_PATH, Claim, load_claims
from vaerepro.report.fid_table import FidRow, fid_rows, load_floors
from vaerepro.report.findings import save_rate_distortion
from vaerepro.report.metric_catalog import split_experiment, task_of
from vaerepro.report.pipeline_graph import PipelineGraph, pipeline_graph
from vaerepro.report.provenance import LockEntry, read_lock
from vaerepro.report.records import LIVE, RecordSet, load_dataset_summaries
from vaerepro.report.restoration_tables import RestorationGroup, restoration_groups
from vaerepro.report.scorecard import ScorecardRow, metric_conventions, scorecard_rows
from vaerepro.report.status import Assessment, StatusKind, assess_all

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")


@dataclass(frozen=True)
class Figure:
    """A figure to show: ``path`` is relative to ``reports/``; ``problem`` says why it cannot be.

    ``width`` and ``height`` are the file's pixel size (0 when unknown), so the page can reserve
    the space before a lazily loaded image arrives and show native-size figures at their size.
    """

    name: str
    path: str
    problem: str = ""
    width: int = 0
    height: int = 0


@dataclass
class Experiment:
    name: str
    model: str
    dataset: str
    task: str
    record: dict[str, Any] | None = None
    error: str = ""
    figures: list[Figure] = field(default_factory=list)
    # Why it has not run, where the reason is known: its dataset was never prepared here (no
    # reports/data/<dataset>.json), e.g. CelebA-HQ, which the user must supply.
    unavailable: str = ""

    @property
    def state(self) -> str:
        if self.error:
            return "metrics file unreadable"
        if self.record is None:
            return f"not run: {self.unavailable}" if self.unavailable else "not run"
        return str(self.record.get("profile"))


@dataclass
class Report:
    claims: list[Claim]
    assessments: list[Assessment]
    experiments: list[Experiment]
    records: RecordSet
    datasets: dict[str, dict[str, Any]]
    dataset_figures: dict[str, Figure]
    lock: dict[str, LockEntry]
    graph: PipelineGraph
    audit_target: tuple[str, str] | None = None  # (experiment, metric) traced in the audit section
    findings: list[Figure] = field(default_factory=list)  # figures across experiments (findings.py)
    restoration: list[RestorationGroup] = field(default_factory=list)  # methods side by side per test set
    fid: list[FidRow] = field(default_factory=list)  # every generated set's FID (fid_table.py)
    fid_floors: dict[str, dict[str, Any]] = field(default_factory=dict)  # reports/fid/<dataset>.json
    scorecard: list[ScorecardRow] = field(default_factory=list)  # one row per claim (scorecard.py)
    conventions: list[tuple[str, str, list[str]]] = field(default_factory=list)  # each metric's, once
    # dvc.lock of each archived profile (reports/profiles/<profile>/dvc.lock), by profile name
    archived_locks: dict[str, dict[str, LockEntry]] = field(default_factory=dict)

    def lock_for(self, experiment: str) -> dict[str, LockEntry]:
        """The dvc.lock that made the experiment's shown record: the live one, or its archive's."""
        source = self.records.sources.get(experiment, LIVE)
        return self.lock if source == LIVE else self.archived_locks.get(source, {})

    def record_path(self, experiment: str) -> str:
        """Where the shown record lies: ``reports/metrics/<e>.json`` or its archived profile's copy."""
        source = self.records.sources.get(experiment, LIVE)
        folder = "reports/metrics" if source == LIVE else f"reports/profiles/{source}/metrics"
        return f"{folder}/{experiment}.json"

    def lock_path(self, experiment: str) -> str:
        source = self.records.sources.get(experiment, LIVE)
        return "dvc.lock" if source == LIVE else f"reports/profiles/{source}/dvc.lock"

    def counts(self) -> dict[StatusKind, int]:
        result: dict[StatusKind, int] = {}
        for assessment in self.assessments:
            result[assessment.status.kind] = result.get(assessment.status.kind, 0) + 1
        return result


def checked_figure(name: str, path: Any, reports_root: Path) -> Figure:
    """Accept only an existing image file inside ``reports/``, named by a relative path.

    Why: the HTML must work offline and must not load anything from outside ``reports/``;
    a URL, an absolute path or ``..`` in a record would break that, so it is refused.
    """
    text = str(path)
    pure = PurePosixPath(text)
    if not isinstance(path, str) or ":" in text or text.startswith(("/", "\\")) or ".." in pure.parts or "\\" in text:
        return Figure(name, text, "refused: not a relative path inside reports/")
    if pure.suffix.lower() not in IMAGE_SUFFIXES:
        return Figure(name, text, "refused: not an image file")
    if not (reports_root / pure).is_file():
        return Figure(name, text, "missing: file not found under reports/")
    width, height = image_size(reports_root / pure)
    return Figure(name, pure.as_posix(), width=width, height=height)


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels from the file's header; (0, 0) when it cannot be read (e.g. SVG)."""
    from PIL import Image, UnidentifiedImageError  # lazily: only the report stage needs it

    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, UnidentifiedImageError):
        return 0, 0


def planned_experiments(params_path: Path) -> list[str]:
    """Experiment names under ``experiments:`` in params.yaml (empty when there is no such file).

    Raises:
        ConfigError: the params files do not load (see :func:`vaerepro.config.load_params`).
    """
    if not params_path.is_file():
        return []
    return list(load_params(params_path).experiments)


def _audit_target(
    assessments: list[Assessment], records: RecordSet, lock: Mapping[str, LockEntry]
) -> tuple[str, str] | None:
    """The number traced in the audit section: a claim's measured number, preferring one whose
    ``evaluate@`` stage is in dvc.lock (so the trail can be shown), else any recorded metric."""
    candidates = []
    for assessment in assessments:
        claim = assessment.claim
        quantity = claim.measure or (claim.compare.left if claim.compare else None)
        if assessment.ours is not None and quantity and quantity.experiment and quantity.metric:
            candidates.append((quantity.experiment, quantity.metric))
    for name, record in sorted(records.records.items()):
        candidates += [(name, metric) for metric, entry in record["metrics"].items() if entry.get("value") is not None]
    locked = [candidate for candidate in candidates if f"evaluate@{candidate[0]}" in lock]
    return (locked or candidates or [None])[0]


def build_report(
    reports_root: Path,
    repository_root: Path,
    claims_path: Path = DEFAULT_CLAIMS_PATH,
    dvc_executable: str | None = "dvc",
) -> Report:
    """Read all inputs and assess every claim. ``dvc_executable=None`` skips ``dvc dag``."""
    claims = load_claims(claims_path)
    records = load_all_records(reports_root)
    assessments = assess_all(claims, records)
    names = set(planned_experiments(repository_root / "params.yaml")) | set(records.records) | set(records.errors)
    names |= {experiment for claim in claims for experiment in claim.experiments}
    experiments = []
    for name in sorted(names):
        record = records.get(name)
        model, dataset = split_experiment(name)
        if record is not None:
            model, dataset = str(record.get("model", model)), str(record.get("dataset", dataset))
        figures = [
            checked_figure(key, path, reports_root) for key, path in sorted((record or {}).get("figures", {}).items())
        ]
        experiments.append(
            Experiment(name, model, dataset, task_of(record), record, records.errors.get(name, ""), figures)
        )
    datasets = load_dataset_summaries(reports_root / "data")
    for experiment in experiments:
        if experiment.record is None and not experiment.error and experiment.dataset not in datasets:
            experiment.unavailable = (
                f"no {experiment.dataset} data prepared on this machine (datasets.yaml says how to supply it)"
            )
    dataset_figures = {name: checked_figure(name, f"figures/data/{name}.png", reports_root) for name in datasets}
    lock = read_lock(repository_root / "dvc.lock")
    graph = pipeline_graph(repository_root, lock, dvc_executable)
    findings = []
    rate_distortion = save_rate_distortion(
        records.records, reports_root / "figures" / "findings" / "rate_distortion.png"
    )
    if rate_distortion is not None:
        findings.append(
            checked_figure(
                "rate vs distortion (KL-weight sweep)",
                rate_distortion.relative_to(reports_root).as_posix(),
                reports_root,
            )
        )
    return Report(
        claims,
        assessments,
        experiments,
        records,
        datasets,
        dataset_figures,
        lock,
        graph,
        _audit_target(assessments, records, lock),
        findings,
        restoration_groups(records.records),
        fid_rows(records.records),
        load_floors([reports_root / "fid", *(folder / "fid" for folder in archived_profiles(reports_root))]),
        scorecard_rows(assessments, records),
        metric_conventions(records),
        {folder.name: read_lock(folder / "dvc.lock") for folder in archived_profiles(reports_root)},
    )
