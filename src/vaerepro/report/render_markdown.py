"""``reports/report.md``: the report as GitHub-flavoured Markdown (tables, relative images).

Same content and order as the HTML; meant for reading in a diff or on a code host. Image
links are relative to ``reports/``, where this file lives.
"""

from __future__ import annotations

import json

from vaerepro.report.build import Experiment, Figure, Report
from vaerepro.report.fid_table import FLOOR_HEADER, floor_rows
from vaerepro.report.fid_table import HEADER as FID_HEADER
from vaerepro.report.fid_table import INTRODUCTION as FID_INTRODUCTION
from vaerepro.report.figure_notes import figure_note
from vaerepro.report.formatting import (
    STATUS_ORDER,
    claimed_text,
    compared_with,
    entry_details,
    metric_value_text,
    number,
    signed,
)
from vaerepro.report.metric_catalog import TASK_TITLES, metric_name
from vaerepro.report.noise import rule_in_words
from vaerepro.report.pipeline_graph import as_text
from vaerepro.report.provenance import (
    audit_commands,
    environment_table,
    lineage_chain,
    provenance_rows,
    upstream_trail,
)
from vaerepro.report.restoration_tables import (
    SECTION_INTRO,
    RestorationGroup,
    Table,
    caption,
    stress_caption,
)
from vaerepro.report.text import INTRODUCTION, STATUS_RULES, SURVEY_TITLE, VERDICT_LEGEND
from vaerepro.report.verdict import VerdictKind, verdict_counts


def cell(text: object) -> str:
    """One table cell: no pipes or newlines may break the row."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines + [""]


def _figure(figure: Figure, note: str = "") -> str:
    """The image, linked to its full-size file, and what it shows where the file does not say."""
    if figure.problem:
        return f"*figure {figure.name}: {figure.problem} ({figure.path})*"
    return f"[![{figure.name}]({figure.path})]({figure.path})" + (f"\n\n*{note}*" if note else "")


def _comparison(comparison: Table, kinds: bool = True) -> list[str]:
    """A restoration table; the best method per column in bold."""
    header = ["method", "kind"] + list(comparison.headers) if kinds else ["method"] + list(comparison.headers)
    rows = []
    for row in comparison.rows:
        label = f"*{row.label}*" if row.kind != "method" else row.label
        cells = [f"**{cell.text}**" if cell.best else cell.text for cell in row.cells]
        rows.append([label, row.method_kind or "–", *cells] if kinds else [label, *cells])
    return table(header, rows)


def _restoration_group(group: RestorationGroup) -> list[str]:
    lines = [f"### {group.title} · {number(group.images)} images · {group.profile}", ""]
    lines += _comparison(group.table)
    note = {"smoke": " (smoke numbers: not a reproduction)", "cpu": " (CPU budget tier: reduced training budget)"}
    lines += [caption(group) + note.get(group.profile, ""), ""]
    for stress in group.stress:
        lines += [f"**{stress_caption(stress)}**", ""]
        lines += _comparison(stress.table, kinds=False)
    return lines


def _restoration(report: Report) -> list[str]:
    if not report.restoration:
        return []
    lines = [
        "## Restoration: methods side by side",
        "",
        SECTION_INTRO + " Bold = the best method in the column, where it wins beyond the noise.",
        "",
    ]
    for group in report.restoration:
        lines += _restoration_group(group)
    return lines


def _experiment(experiment: Experiment, report: Report) -> list[str]:
    lines = [f"#### {experiment.name}", ""]
    if experiment.error:
        return lines + [f"**Metrics file unreadable:** {experiment.error}", ""]
    record = experiment.record
    assert record is not None
    lines += [
        f"Model `{experiment.model}` on `{experiment.dataset}` · profile **{record.get('profile')}** · "
        f"data variant `{record.get('data_variant')}` · device {record.get('device')}",
        "",
    ]
    rows = [
        [
            metric_name(key),
            key,
            metric_value_text(entry),
            entry.get("unit", "") if entry.get("value") is not None else entry.get("not_measured", ""),
            entry_details(entry),
        ]
        for key, entry in record["metrics"].items()
    ]
    lines += (
        table(["metric", "key", "value", "unit / reason", "details"], rows) if rows else ["*no metrics recorded*", ""]
    )
    lines += [_figure(figure, figure_note(figure.name, record)) + "\n" for figure in experiment.figures]
    return lines


def render_markdown(report: Report) -> str:
    """The whole report as one Markdown string."""
    counts = report.counts()
    kinds, reasons = verdict_counts([row.verdict for row in report.scorecard])
    lines = [f"# Reproduction report: {SURVEY_TITLE}", "", INTRODUCTION, ""]
    lines += [
        "**Verdicts:** "
        + ", ".join(f"{kinds.get(kind, 0)} {kind.value}" for kind in VerdictKind)
        + (" (no verdict: " + ", ".join(f"{n} {why}" for why, n in reasons.items()) + ")" if reasons else ""),
        "",
        "**Statuses:** " + ", ".join(f"{counts[kind]} {kind.value}" for kind in STATUS_ORDER if kind in counts),
        "",
    ]
    if report.records.errors:
        lines += ["> **Unreadable metrics files** (the rest of the report is unaffected):", ">"]
        lines += [f"> - `{name}`: {message}" for name, message in sorted(report.records.errors.items())] + [""]

    lines += ["## Scorecard", "", VERDICT_LEGEND + " " + rule_in_words(), ""]
    lines += table(
        ["claim", "claimed", "ours", "verdict"],
        [
            [
                f"{row.claim} ({row.claim_id})",
                row.claimed + (f" · {row.claimed_note}" if row.claimed_note else ""),
                row.ours + (f" · {row.ours_context}" if row.ours_context else ""),
                f"**{row.verdict.kind.value}**"
                + (f": {row.verdict.reason}" if row.verdict.reason else "")
                + (f" {row.verdict.budget}" if row.verdict.budget else ""),
            ]
            for row in report.scorecard
        ],
    )
    lines += ["## Claims", ""]
    rows = [
        [
            a.claim.id,
            a.claim.section,
            a.claim.statement,
            claimed_text(a.claim) + (" ⚑" if a.claim.flagged else ""),
            number(a.ours),
            compared_with(a),
            signed(a.delta),
            # A decided status names its budget too: "reproduced at 8 % of the paper's budget".
            a.status.label + (f" {row.verdict.budget}" if row.verdict.budget else ""),
        ]
        for a, row in zip(report.assessments, report.scorecard, strict=True)
    ]
    lines += table(["id", "section", "claim", "claimed", "ours", "judged against", "delta", "status"], rows)
    lines += ["⚑ = the survey's number or wording differs from the cited paper (next section).", ""]

    lines += ["## Survey vs cited paper", ""]
    for claim in (c for c in report.claims if c.flagged):
        lines += [
            f"- **{claim.id}** — survey: {claimed_text(claim)}; cited: {claim.cites}. {claim.discrepancy}"
            + (f" *Paper value source:* {claim.paper_value_source}." if claim.paper_value_source else "")
        ]
    lines += [
        "",
        "Paper values were entered from the papers' published tables and not re-read offline "
        "(`verified_against_paper: false` in the registry); check them before citing.",
        "",
    ]

    lines += _restoration(report)

    if report.fid or report.fid_floors:
        lines += ["## Sample quality: FID beside its floor", "", FID_INTRODUCTION, ""]
        lines += table(FID_HEADER, [row.cells() for row in report.fid]) if report.fid else ["*no FID measured yet*", ""]
        lines += ["Floors:", ""]
        lines += (
            table(FLOOR_HEADER, floor_rows(report.fid_floors))
            if report.fid_floors
            else ["*no floors computed yet*", ""]
        )

    for task, title in TASK_TITLES.items():
        members = [e for e in report.experiments if e.task == task]
        if not members:
            continue
        lines += [f"## {title}", ""]
        lines += table(
            ["experiment", "model", "dataset", "state"], [[e.name, e.model, e.dataset, e.state] for e in members]
        )
        for experiment in members:
            if experiment.record is not None or experiment.error:
                lines += _experiment(experiment, report)

    if report.findings:
        lines += ["## Findings across experiments", ""]
        lines += [_figure(figure) + "\n" for figure in report.findings]

    lines += ["## Datasets", ""]
    rows = [
        [
            name,
            s.get("variant"),
            ", ".join(f"{k} {v.get('count')}" for k, v in (s.get("splits") or {}).items()),
            f"`{str(s.get('sha256'))[:16]}…`",
        ]
        for name, s in sorted(report.datasets.items())
    ]
    lines += table(["dataset", "variant", "splits", "sha256"], rows) if rows else ["*no dataset summaries*", ""]
    lines += [_figure(report.dataset_figures[name]) + "\n" for name in sorted(report.dataset_figures)]

    lines += ["## Provenance", ""]
    for experiment in (e for e in report.experiments if e.record is not None):
        record = experiment.record
        assert record is not None
        lines += [f"### {experiment.name}", ""]
        lines += table(["", ""], [[label, text] for label, text in provenance_rows(record, report.datasets)])
        chain = lineage_chain(report.lock_for(experiment.name), experiment.name)
        if chain:
            lines += ["Chain (md5 as in `dvc.lock`, nearest stage first):", ""]
            lines += table(
                ["stage", "data and models read", "code (fingerprint)", "params read"],
                [
                    [
                        f"`{link.stage}`",
                        "<br>".join(f"`{path}` {digest[:12]}" for path, digest in link.inputs) or "-",
                        "<br>".join(f"`{path}` {digest[:12]}" for path, digest in link.code) or "-",
                        ", ".join(link.params),
                    ]
                    for link in chain
                ],
            )
        lines += ["Params:", "", "```json", json.dumps(record.get("params"), indent=2, sort_keys=True), "```", ""]
    environment = environment_table(report.records.records)
    lines += ["### Environment", ""]
    lines += table(["package", "version"], [list(row) for row in environment]) if environment else ["*no records*", ""]
    lines += [
        "### Pipeline graph",
        "",
        f"Source: {report.graph.source}. {report.graph.note}",
        "",
        "```text",
        as_text(report.graph),
        "```",
        "",
    ]

    lines += ["## Audit: tracing one number", ""]
    lines += _audit(report)
    if report.conventions:
        lines += ["## Metric conventions", "", "How each metric is computed, once per metric.", ""]
        lines += table(
            ["metric", "key", "convention"],
            [[metric_name(key), key, convention] for key, convention, _ in report.conventions],
        )
    lines += ["## How statuses are decided", "", STATUS_RULES, ""]
    return "\n".join(lines).rstrip() + "\n"


def _audit(report: Report) -> list[str]:
    experiment, metric = report.audit_target or ("vae-mnist", "negative_elbo")
    stage = f"evaluate@{experiment}"
    lines = [
        f"Example: `{metric}` of `{experiment}` (in `{report.record_path(experiment)}`, "
        f"traced in `{report.lock_path(experiment)}`).",
        "",
    ]
    trail = upstream_trail(report.lock_for(experiment), stage)
    if not trail:
        lines += [f"`dvc.lock` has no entry for `{stage}` yet: run `uv run dvc repro {stage}` to create it.", ""]
    for entry in trail:
        lines += [f"**{entry.stage}** — `{entry.cmd}`", ""]
        rows = [["dep", path, md5] for path, md5 in entry.deps] + [["out", path, md5] for path, md5 in entry.outs]
        rows += [["param", key, json.dumps(value, sort_keys=True)[:80]] for key, value in entry.params.items()]
        lines += table(["kind", "path / key", "md5 / value"], rows)
    lines += ["Commands:", "", "```bash"]
    lines += [f"{command}    # {purpose}" for command, purpose in audit_commands(experiment, metric)]
    return lines + ["```", ""]
