"""The pipeline graph for the report, as text and as an inline SVG (no JavaScript, no CDN).

Source, in order: ``dvc dag --dot`` (the authoritative graph, including stages not yet run),
else the stages in ``dvc.lock`` linked by matching deps to outputs. If neither is available
(no dvc installed, no lock) the report says so instead of failing.
"""

from __future__ import annotations

import html
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vaerepro.report.provenance import LockEntry, _overlaps

DOT_NODE = re.compile(r'^\s*"([^"]+)"\s*;\s*$')
DOT_EDGE = re.compile(r'^\s*"([^"]+)"\s*->\s*"([^"]+)"')
STAGE_COLOURS = {
    "download": "#e8f1fb",
    "prepare": "#e9f6ee",
    "train": "#fdf2e3",
    "evaluate": "#f3eafa",
    "report": "#fde8e8",
}


@dataclass
class PipelineGraph:
    nodes: list[str] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    source: str = "unavailable"  # "dvc dag", "dvc.lock" or "unavailable"
    note: str = ""


def parse_dot(text: str) -> PipelineGraph:
    graph = PipelineGraph(source="dvc dag")
    for line in text.splitlines():
        if edge := DOT_EDGE.match(line):
            graph.edges.append((edge.group(1), edge.group(2)))
        elif node := DOT_NODE.match(line):
            graph.nodes.append(node.group(1))
    for first, second in graph.edges:
        graph.nodes += [name for name in (first, second) if name not in graph.nodes]
    return graph


def graph_from_lock(lock: Mapping[str, LockEntry]) -> PipelineGraph:
    edges = []
    for consumer in lock.values():
        for producer in lock.values():
            if producer.stage != consumer.stage and any(
                _overlaps(dep, out) for dep, _ in consumer.deps for out, _ in producer.outs
            ):
                edges.append((producer.stage, consumer.stage))
    return PipelineGraph(
        sorted(lock), sorted(set(edges)), "dvc.lock", "from dvc.lock: stages that have not run yet are not shown"
    )


def dvc_dag(root: Path, executable: str = "dvc", timeout_seconds: float = 60) -> PipelineGraph | None:
    """Run ``dvc dag --dot`` in ``root``; None when dvc is missing, fails or times out."""
    try:
        done = subprocess.run(
            [executable, "dag", "--dot"], cwd=root, capture_output=True, text=True, timeout=timeout_seconds, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0 or "digraph" not in done.stdout:
        return None
    return parse_dot(done.stdout)


def pipeline_graph(root: Path, lock: Mapping[str, LockEntry], executable: str | None = "dvc") -> PipelineGraph:
    """The best graph available (module docstring); ``executable=None`` skips dvc."""
    graph = dvc_dag(root, executable) if executable else None
    if graph is not None and graph.nodes:
        return graph
    if lock:
        return graph_from_lock(lock)
    return PipelineGraph(note="neither `dvc dag` nor dvc.lock was available when the report was built")


def layers(graph: PipelineGraph) -> list[list[str]]:
    """Nodes in columns by longest path from a source, each column sorted by name."""
    parents: dict[str, list[str]] = {node: [] for node in graph.nodes}
    for first, second in graph.edges:
        parents.setdefault(second, []).append(first)
        parents.setdefault(first, [])
    depth: dict[str, int] = {}

    def depth_of(node: str, visiting: frozenset[str] = frozenset()) -> int:
        if node not in depth:
            if node in visiting:  # a cycle cannot come from DVC; guard anyway
                return 0
            depth[node] = 1 + max((depth_of(p, visiting | {node}) for p in parents[node]), default=-1)
        return depth[node]

    columns: dict[int, list[str]] = {}
    for node in parents:
        columns.setdefault(depth_of(node), []).append(node)
    return [sorted(columns[index]) for index in sorted(columns)]


def as_text(graph: PipelineGraph) -> str:
    """Each stage with the stages it depends on, in pipeline order."""
    if not graph.nodes:
        return graph.note or "pipeline graph unavailable"
    upstream: dict[str, list[str]] = {}
    for first, second in graph.edges:
        upstream.setdefault(second, []).append(first)
    ordered = [node for column in layers(graph) for node in column]
    width = max(len(node) for node in ordered)
    lines = [
        f"{node.ljust(width)}  <- {', '.join(sorted(upstream[node]))}" if node in upstream else node for node in ordered
    ]
    return "\n".join(lines)


def as_svg(graph: PipelineGraph) -> str:
    """A left-to-right layered drawing; sizes in px, text in the page's own font."""
    columns = layers(graph)
    if not columns:
        return ""
    character, row_height, box_height, gap = 7.2, 30, 22, 56
    widths = [max(len(node) for node in column) * character + 18 for column in columns]
    tallest = max(len(column) for column in columns)
    height = tallest * row_height + 10
    positions: dict[str, tuple[float, float, float]] = {}
    x = 5.0
    parts = []
    for column, width in zip(columns, widths, strict=True):
        top = (height - len(column) * row_height) / 2
        for index, node in enumerate(column):
            positions[node] = (x, top + index * row_height + (row_height - box_height) / 2, width)
        x += width + gap
    total_width = x - gap + 5
    for first, second in graph.edges:
        if first not in positions or second not in positions:
            continue
        x1, y1, w1 = positions[first]
        x2, y2, _ = positions[second]
        start, end = (x1 + w1, y1 + box_height / 2), (x2, y2 + box_height / 2)
        middle = (start[0] + end[0]) / 2
        parts.append(
            f'<path d="M{start[0]:.1f},{start[1]:.1f} C{middle:.1f},{start[1]:.1f} '
            f'{middle:.1f},{end[1]:.1f} {end[0]:.1f},{end[1]:.1f}" class="edge"/>'
        )
    for node, (left, top, width) in positions.items():
        colour = STAGE_COLOURS.get(node.split("@")[0], "#eef0f3")
        parts.append(
            f'<g><rect x="{left:.1f}" y="{top:.1f}" width="{width:.1f}" height="{box_height}" rx="5" '
            f'fill="{colour}" class="node"/><text x="{left + 9:.1f}" y="{top + 15:.1f}">'
            f"{html.escape(node)}</text></g>"
        )
    return (
        f'<svg class="dag" role="img" aria-label="pipeline graph" '
        f'viewBox="0 0 {total_width:.0f} {height:.0f}" width="{total_width:.0f}" height="{height:.0f}">'
        + "".join(parts)
        + "</svg>"
    )
