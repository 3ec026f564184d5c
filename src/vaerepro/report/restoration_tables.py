"""Restoration methods side by side: one comparison table per test set.

Every restoration record (``params.restoration`` present, see
:mod:`vaerepro.experiment.restoration`) scores the method's output on test pairs
(``<metric>``), the degraded input itself (``<metric>_input``: "doing nothing"), the clean
references for no-reference metrics (``<metric>_reference``) and stress tests
(``<metric>@<tag>``, ``<metric>_input@<tag>``). Numbers are only comparable between methods
that saw the same test pairs, so records are grouped by

* the ``test_set`` description of their primary entry (``psnr``, else the first scored metric),
* the number of images that entry scored (a method that failed on an image scored fewer),
* the image names scored (when the entry lists them), and
* the profile (a smoke number never sits next to a full one).

Each group gives one table: the input row, one row per method (classical methods first,
then learned ones, each by name), and the reference row where no-reference metrics were
measured on the references. The best method per column is marked only when it beats every
other method by more than the noise (:func:`vaerepro.report.noise.separated`: two standard
errors of the per-image differences, and at least 3 images); otherwise the column is a tie
and nothing is marked. Higher is better for every restoration metric; time per image is not
ranked. Stress tests get a small table each.

The renderers only format what :func:`restoration_groups` returns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vaerepro.report.formatting import metric_value_text, number
from vaerepro.report.metric_catalog import metric_direction, metric_name
from vaerepro.report.noise import difference_noise, separated

INPUT_LABEL = "input (no processing)"
REFERENCE_LABEL = "reference (ground truth)"
SECONDS = "seconds_per_image"
PRIMARY_METRIC = "psnr"
INPUT_SUFFIX = "_input"
REFERENCE_SUFFIX = "_reference"
# Column order; metrics not listed here follow in name order, time per image comes last.
METRIC_ORDER = (
    "psnr",
    "psnr_y",
    "ssim_rgb",
    "ssim_y",
    "psnr_b",
    "psnr_gt_mean",
    "ssim_rgb_gt_mean",
    "uciqe",
    "uiqm",
)
UNRANKED = frozenset({SECONDS})


@dataclass(frozen=True)
class Cell:
    """One formatted value; ``best`` marks the best method in its column."""

    text: str
    best: bool = False


@dataclass(frozen=True)
class Row:
    """``kind``: ``input``, ``method`` or ``reference``; ``method_kind``: classical / learned."""

    label: str
    kind: str
    cells: tuple[Cell, ...]
    method_kind: str = ""
    experiment: str = ""


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]  # metric keys (without suffixes)
    headers: tuple[str, ...]  # display names with units
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class StressTable:
    tag: str
    test_set: str
    images: int | None
    table: Table


@dataclass(frozen=True)
class RestorationGroup:
    """The methods scored on one test set, with the table and the stress tables."""

    dataset: str
    test_set: str
    images: int | None
    profile: str
    data_variants: tuple[str, ...]
    experiments: tuple[str, ...]
    table: Table
    stress: tuple[StressTable, ...]

    @property
    def title(self) -> str:
        """The test set without its parenthesised details, for a heading."""
        return self.test_set.split(" (", 1)[0]


def is_restoration_record(record: Mapping[str, Any]) -> bool:
    params = record.get("params")
    if isinstance(params, Mapping) and isinstance(params.get("restoration"), Mapping):
        return True
    return any(str(key).endswith(INPUT_SUFFIX) for key in record.get("metrics", {}))


def method_kind(record: Mapping[str, Any]) -> str:
    """``classical`` (nothing learned: no parameters, no training steps) or ``learned``."""
    parameters = record.get("parameter_count")
    training = record.get("training")
    steps = training.get("steps") if isinstance(training, Mapping) else None
    learned = (_is_number(parameters) and parameters > 0) or (_is_number(steps) and steps > 0)
    return "learned" if learned else "classical"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def output_metrics(metrics: Mapping[str, Any]) -> list[str]:
    """Metric keys scored on the method's output: those with an ``_input`` counterpart."""
    return [
        key
        for key in metrics
        if "@" not in key and not key.endswith((INPUT_SUFFIX, REFERENCE_SUFFIX)) and f"{key}{INPUT_SUFFIX}" in metrics
    ]


def _ordered(keys: set[str]) -> list[str]:
    known = [key for key in METRIC_ORDER if key in keys]
    return known + sorted(keys - set(known) - {SECONDS}) + ([SECONDS] if SECONDS in keys else [])


def _primary(metrics: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The entry whose test set identifies the record's test pairs."""
    candidates = [PRIMARY_METRIC] + _ordered(set(output_metrics(metrics)))
    for key in candidates:
        entry = metrics.get(key)
        if isinstance(entry, Mapping) and entry.get("test_set"):
            return entry
    return None


def _group_key(record: Mapping[str, Any]) -> tuple[str, Any, tuple[str, ...], str] | None:
    entry = _primary(record.get("metrics", {}))
    if entry is None:
        return None
    per_image = entry.get("per_image")
    names = tuple(sorted(per_image)) if isinstance(per_image, Mapping) else ()
    return str(entry["test_set"]), entry.get("images"), names, str(record.get("profile"))


def _value(entry: Any) -> float | None:
    if not isinstance(entry, Mapping):
        return None
    value = entry.get("value")
    return float(value) if _is_number(value) and not math.isnan(value) else None


def _cell_text(entry: Any) -> str:
    return metric_value_text(entry) if isinstance(entry, Mapping) else "–"


def _header(key: str, units: Mapping[str, str]) -> str:
    name = metric_name(key)
    unit = units.get(key, "")
    words = name.lower().replace("(", " ").replace(")", " ").split()
    return f"{name} [{unit}]" if unit and unit.lower() not in words else name


def _best(entries: list[Any], key: str) -> set[int]:
    """The index of the winner, when there is one beyond the noise; none for ties and unranked columns."""
    if key in UNRANKED:
        return set()
    values = [_value(entry) for entry in entries]
    present = [index for index, value in enumerate(values) if value is not None]
    if len(present) < 2:
        return set()  # nobody to beat
    lower = metric_direction(key) == "lower_is_better"
    winner = (min if lower else max)(present, key=lambda index: values[index])
    for other in present:
        if other == winner:
            continue
        difference = values[winner] - values[other]  # type: ignore[operator]
        if not separated(difference, difference_noise(entries[winner], entries[other])):
            return set()
    return {winner}


def _first(entries: list[Mapping[str, Any]], key: str) -> Any:
    """The first of ``entries`` (metrics maps) that has ``key``: for rows identical in a group."""
    return next((metrics[key] for metrics in entries if key in metrics), None)


def _table(
    columns: list[str],
    methods: list[tuple[str, str, Mapping[str, Any]]],
    *,
    suffix: str = "",
    references: bool = False,
) -> Table:
    """``methods``: (experiment, classical/learned, metrics), in row order.

    A method's cell is ``<column><suffix>``, the input's ``<column>_input<suffix>`` (taken from
    the first method that has it: every method of a group saw the same inputs).
    """
    all_metrics = [metrics for _, _, metrics in methods]

    def method_key(column: str) -> str:
        return column if column == SECONDS else f"{column}{suffix}"

    units: dict[str, str] = {}
    for column in columns:
        entry = _first(all_metrics, method_key(column))
        if isinstance(entry, Mapping) and entry.get("unit"):
            units[column] = str(entry["unit"])
    rows: list[Row] = []
    input_entries = {
        column: _first(all_metrics, f"{column}{INPUT_SUFFIX}{suffix}") for column in columns if column != SECONDS
    }
    if any(entry is not None for entry in input_entries.values()):
        cells = tuple(Cell(_cell_text(input_entries.get(column))) for column in columns)
        rows.append(Row(INPUT_LABEL, "input", cells))
    best = {column: _best([m.get(method_key(column)) for m in all_metrics], column) for column in columns}
    for index, (experiment, kind, metrics) in enumerate(methods):
        cells = tuple(Cell(_cell_text(metrics.get(method_key(column))), index in best[column]) for column in columns)
        rows.append(Row(experiment, "method", cells, kind, experiment))
    if references:
        reference_entries = {column: _first(all_metrics, f"{column}{REFERENCE_SUFFIX}") for column in columns}
        if any(entry is not None for entry in reference_entries.values()):
            cells = tuple(Cell(_cell_text(reference_entries[column])) for column in columns)
            rows.append(Row(REFERENCE_LABEL, "reference", cells))
    return Table(tuple(columns), tuple(_header(column, units) for column in columns), tuple(rows))


def _scored_on(metrics: Mapping[str, Any], bases: set[str], tag: str, test_set: str, images: Any) -> bool:
    """Whether a record scored stress test ``tag`` on this test set and image count."""
    entries = [metrics.get(f"{base}@{tag}") for base in bases]
    return any(
        isinstance(entry, Mapping) and str(entry.get("test_set", "")) == test_set and entry.get("images") == images
        for entry in entries
    )


def _stress_tables(members: list[tuple[str, Mapping[str, Any]]]) -> list[StressTable]:
    """One small table per stress test (tag, its test set and image count) in the group."""
    found: dict[tuple[str, str, Any], set[str]] = {}
    for _, record in members:
        for key, entry in record["metrics"].items():
            base, at, tag = key.partition("@")
            if not at or base.endswith(INPUT_SUFFIX) or not isinstance(entry, Mapping):
                continue
            found.setdefault((tag, str(entry.get("test_set", "")), entry.get("images")), set()).add(base)
    tables = []
    for (tag, test_set, images), bases in sorted(found.items(), key=lambda item: (item[0][0], item[0][1])):
        methods = [
            (name, method_kind(record), record["metrics"])
            for name, record in members
            if _scored_on(record["metrics"], bases, tag, test_set, images)
        ]
        table = _table(_ordered(bases), methods, suffix=f"@{tag}")
        tables.append(StressTable(tag, test_set, images if _is_number(images) else None, table))
    return tables


def _sort_key(item: tuple[str, Mapping[str, Any]]) -> tuple[int, str]:
    name, record = item
    return (0 if method_kind(record) == "classical" else 1, name)


def restoration_groups(records: Mapping[str, Mapping[str, Any]]) -> list[RestorationGroup]:
    """Group the restoration records by test set and build their tables (module docstring)."""
    groups: dict[tuple[str, Any, tuple[str, ...], str], list[tuple[str, Mapping[str, Any]]]] = {}
    for name, record in records.items():
        if not is_restoration_record(record):
            continue
        key = _group_key(record)
        if key is not None:
            groups.setdefault(key, []).append((name, record))
    result = []
    for (test_set, images, _, profile), members in groups.items():
        members = sorted(members, key=_sort_key)
        columns: set[str] = set()
        for _, record in members:
            columns.update(output_metrics(record["metrics"]))
            if SECONDS in record["metrics"]:
                columns.add(SECONDS)
        methods = [(name, method_kind(record), record["metrics"]) for name, record in members]
        table = _table(_ordered(columns), methods, references=True)
        result.append(
            RestorationGroup(
                dataset=str(members[0][1].get("dataset", "")),
                test_set=test_set,
                images=images if _is_number(images) else None,
                profile=profile,
                data_variants=tuple(sorted({str(r.get("data_variant")) for _, r in members})),
                experiments=tuple(name for name, _ in members),
                table=table,
                stress=tuple(_stress_tables(members)),
            )
        )
    profile_order = {"full": 0}
    return sorted(
        result,
        key=lambda g: (
            g.dataset,
            profile_order.get(g.profile, 1),
            g.profile,
            g.test_set,
            -(g.images or 0),
        ),
    )


def caption(group: RestorationGroup) -> str:
    """The line under a table: test set, image count, profile, data variant(s)."""
    images = f"{number(group.images)} images" if group.images is not None else "image count unknown"
    variants = ", ".join(group.data_variants)
    return f"Test set: {group.test_set} · {images} · profile {group.profile} · data variant {variants}"


def stress_caption(stress: StressTable) -> str:
    images = f"{number(stress.images)} images" if stress.images is not None else "image count unknown"
    return f"Stress test {stress.tag}: {stress.test_set or 'test set not recorded'} · {images}"


SECTION_INTRO = (
    "Methods scored on the same test pairs (same test set, same images, same profile), one "
    'table per test set. "input (no processing)" scores the degraded input itself, so a method '
    'has to beat that row to have done anything useful; "reference (ground truth)" gives the '
    "no-reference metrics (UCIQE, UIQM) of the clean references. Values are mean ± standard "
    "deviation over images. The best method per column is marked only when it beats every other "
    "method by more than two standard errors of the per-image differences over at least 3 images; "
    "otherwise the column is a tie and nothing is marked (higher is better for every quality "
    "metric; time per image is not ranked). Classical methods are listed first."
)
