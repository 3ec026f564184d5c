"""``reports/index.html``: the report as one self-contained, offline HTML page.

Built with the standard library only; every piece of text from a record or the registry
goes through :func:`html.escape`. Nothing is loaded from outside ``reports/``: the styles
and the self-check script are inline, figures are ``<img>`` with paths relative to
``reports/`` (checked in :func:`vaerepro.report.build.checked_figure`), each a link to its
full-size file, loaded lazily and sized from the file's header so the page does not jump;
the pipeline graph is
an inline SVG, and paper references are plain text, never links.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from vaerepro.report.budget import profile_note
from vaerepro.report.build import Experiment, Figure, Report
from vaerepro.report.fid_table import FLOOR_HEADER, HEADER, floor_rows
from vaerepro.report.fid_table import INTRODUCTION as FID_INTRODUCTION
from vaerepro.report.figure_notes import figure_layout, figure_note
from vaerepro.report.formatting import (
    STATUS_CSS,
    claimed_text,
    compared_with,
    entry_details,
    metric_value_text,
    number,
    signed,
)
from vaerepro.report.html_style import SELF_CHECK_SCRIPT, STYLESHEET
from vaerepro.report.metric_catalog import TASK_TITLES, metric_name
from vaerepro.report.noise import rule_in_words
from vaerepro.report.pipeline_graph import as_svg, as_text
from vaerepro.report.provenance import (
    ChainLink,
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
from vaerepro.report.scorecard import ScorecardRow
from vaerepro.report.status import Assessment, Status
from vaerepro.report.text import INTRODUCTION, STATUS_RULES, SURVEY_CITATION, SURVEY_TITLE, VERDICT_LEGEND
from vaerepro.report.verdict import Verdict, VerdictKind, verdict_counts

VERDICT_CSS = {
    VerdictKind.HOLDS: "ok",
    VerdictKind.DOES_NOT_HOLD: "fail",
    VerdictKind.TIE: "partial",
    VerdictKind.NO_VERDICT: "muted",
}


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _table(header: Iterable[str], rows: Iterable[Iterable[str]], css: str = "") -> str:
    """Cells are HTML already (callers escape); header cells are plain text."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(rows_cell(c) for c in row) + "</tr>" for row in rows)
    return f'<div class="table-wrap"><table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def rows_cell(cell: str) -> str:
    return cell if cell.startswith("<td") else f"<td>{cell}</td>"


def _status(status: Status) -> str:
    return f'<span class="status {STATUS_CSS[status.kind]}">{_e(status.kind.value)}</span>'


def _figure(figure: Figure, note: str = "") -> str:
    """A figure linking to its full-size file; lazy, with the file's size reserved (module docstring)."""
    if figure.problem:
        return f'<p class="missing">Figure <b>{_e(figure.name)}</b> ({_e(figure.path)}): {_e(figure.problem)}</p>'
    layout = figure_layout(figure.name, figure.width, figure.height)
    size = f' width="{figure.width}" height="{figure.height}"' if figure.width and figure.height else ""
    native = f" at its native size ({figure.width}×{figure.height} px)" if layout in ("native", "scroll") else ""
    return (
        f'<figure class="{layout}"><a href="{_e(figure.path)}" title="open the full-size file">'
        f'<img src="{_e(figure.path)}" alt="{_e(figure.name)}" loading="lazy"{size}></a>'
        f'<figcaption>{_e(figure.name)}{_e(native)} · <a class="mono" href="{_e(figure.path)}">{_e(figure.path)}</a>'
        + (f'<span class="meta">{_e(note)}</span>' if note else "")
        + "</figcaption></figure>"
    )


def _verdict(item: Verdict) -> str:
    """The verdict word as a pill, and the reason of a missing verdict (or the budget a decided
    one was reached at) as wrapping text."""
    why = item.reason or item.budget
    reason = f'<span class="why">{_e(why)}</span>' if why else ""
    return f'<span class="verdict {VERDICT_CSS[item.kind]}">{_e(item.kind.value)}</span>{reason}'


def _links(row: ScorecardRow) -> str:
    links = [f'<a href="#claim-{_e(row.claim_id)}">details</a>']
    for name in row.cards:
        lineage = f', <a href="#lineage-{_e(name)}">lineage</a>' if name in row.lineages else ""
        links.append(f'<span class="mono">{_e(name)}</span> (<a href="#exp-{_e(name)}">card</a>{lineage})')
    return f'<span class="links">{" · ".join(links)}</span>'


def _scorecard_row(row: ScorecardRow) -> str:
    claim = (
        f'<span title="{_e(row.statement)}">{_e(row.claim)}</span>'
        f'<span class="meta">{_e(row.subject)} · <span class="mono">{_e(row.claim_id)}</span></span>{_links(row)}'
    )
    claimed = _e(row.claimed) + (f'<span class="meta">{_e(row.claimed_note)}</span>' if row.claimed_note else "")
    ours = _e(row.ours) + (f'<span class="meta">{_e(row.ours_context)}</span>' if row.ours_context else "")
    return (
        f'<tr id="score-{_e(row.claim_id)}"><td>{claim}</td><td>{claimed}</td><td>{ours}</td>'
        f'<td class="verdict-cell">{_verdict(row.verdict)}</td></tr>'
    )


def _scorecard(report: Report) -> str:
    body, section = [], None
    for row in report.scorecard:
        if row.section != section:
            section = row.section
            body.append(f'<tr class="group"><td colspan="4">{_e(section)}</td></tr>')
        body.append(_scorecard_row(row))
    columns = (
        '<colgroup><col class="c-claim"><col class="c-claimed"><col class="c-ours"><col class="c-verdict"></colgroup>'
    )
    head = "".join(f"<th>{h}</th>" for h in ("claim", "claimed", "ours", "verdict"))
    return (
        f'<div class="scorecard-wrap"><table class="scorecard">{columns}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _verdict_tiles(report: Report) -> str:
    kinds, reasons = verdict_counts([row.verdict for row in report.scorecard])
    tiles = "".join(
        f'<div class="tile"><b>{kinds.get(kind, 0)}</b><span class="verdict {VERDICT_CSS[kind]}">{_e(kind.value)}</span></div>'
        for kind in VerdictKind
    )
    why = " · ".join(f"{count} {reason}" for reason, count in reasons.items())
    return f'<div class="glance">{tiles}</div>' + (f'<p class="why-counts">No verdict: {_e(why)}.</p>' if why else "")


def _claim_card(assessment: Assessment, row: ScorecardRow) -> str:
    """One claim in full, collapsed: statement, citation, numbers, the status and why."""
    claim = assessment.claim
    flag = ' <span class="flag">⚑ survey differs from the paper</span>' if claim.flagged else ""
    facts = [
        ["claim id", f'<span class="mono">{_e(claim.id)}</span>'],
        ["model · dataset · metric", f"{_e(claim.model)} · {_e(claim.dataset)} · {_e(metric_name(claim.metric))}"],
        ["cites", _e(claim.cites)],
        ["claimed", _e(claimed_text(claim)) + (f" ({_e(claim.unit)})" if claim.survey_value is not None else "")],
        ["judged against", _e(compared_with(assessment))],
        [
            "ours",
            _e(number(assessment.ours))
            + (f" · delta {_e(signed(assessment.delta))}" if assessment.delta is not None else ""),
        ],
        [
            "status",
            _status(assessment.status)
            + (f" {_e(assessment.status.reason)}" if assessment.status.reason else "")
            + (f" {_e(row.verdict.budget)}" if row.verdict.budget else ""),  # the budget it was decided at
        ],
    ]
    if assessment.explanation:
        facts.append(["how it was decided", _e(assessment.explanation)])
    if claim.discrepancy:
        facts.append(["survey vs paper", _e(claim.discrepancy)])
    if claim.notes:
        facts.append(["notes", _e(claim.notes)])
    return (
        f'<details class="claim" id="claim-{_e(claim.id)}"><summary>{_e(claim.id)} · {_verdict(row.verdict)}{flag}'
        f"</summary><p>{_e(claim.statement)}</p>{_table(['field', 'value'], facts, 'kv')}"
        f'<p class="meta"><a href="#score-{_e(claim.id)}">back to the scorecard</a></p></details>'
    )


def _claim_cards(report: Report) -> str:
    cards = "".join(_claim_card(a, row) for a, row in zip(report.assessments, report.scorecard, strict=True))
    return (
        '<h2 id="claims">Claims in detail</h2><p>One card per claim (click to open): the survey\'s '
        "statement, what it cites, the number it is judged against and how the status was decided. "
        '<span class="flag">⚑</span> marks claims where the survey differs from the paper it cites.</p>' + cards
    )


def _conventions(report: Report) -> str:
    """Each metric's convention once (not in every row of every table)."""
    rows = []
    for key, convention, experiments in report.conventions:
        several = sum(1 for other, _, _ in report.conventions if other == key) > 1
        used_by = f'<span class="meta">{_e(", ".join(experiments))}</span>' if several else ""
        rows.append([f'{_e(metric_name(key))}<span class="meta mono">{_e(key)}</span>', _e(convention) + used_by])
    if not rows:
        return ""
    return (
        '<h3 id="conventions">Metric conventions</h3><p>How each metric is computed, once per metric; '
        "variants scored on the degraded input (<code>_input</code>), on the references "
        "(<code>_reference</code>) and under stress tests (<code>@tag</code>) follow the same convention.</p>"
        + _table(["metric", "convention"], rows, "conventions")
    )


def _metrics_table(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for key, entry in metrics.items():
        measured = entry.get("value") is not None
        unit = entry.get("unit", "") if measured else str(entry.get("not_measured", ""))
        rows.append(
            [
                f'{_e(metric_name(key))}<span class="meta mono">{_e(key)}</span>',
                f'<td class="num">{_e(metric_value_text(entry))}</td>',
                _e(unit),
                _e(entry_details(entry)),
            ]
        )
    # Conventions are printed once per metric in the legend (#conventions), not in every row.
    return _table(["metric", "value", "unit", "details"], rows, "metrics") if rows else "<p>No metrics recorded.</p>"


def _experiment(experiment: Experiment) -> str:
    """The experiment's card, collapsed: badges, metrics, figures (opened by a link to it)."""
    record = experiment.record
    state = (
        "metrics file unreadable"
        if experiment.error
        else f"{(record or {}).get('profile')} · {(record or {}).get('device')}"
    )
    parts = [
        f'<details class="experiment" id="exp-{_e(experiment.name)}"><summary>{_e(experiment.name)} '
        f'<span class="meta-inline">{_e(state)} · {len(experiment.figures)} figures</span></summary>'
    ]
    if experiment.error:
        parts.append(f'<div class="callout">Metrics file unreadable: {_e(experiment.error)}</div></details>')
        return "".join(parts)
    assert record is not None
    badges = [
        f"model {experiment.model}",
        f"dataset {experiment.dataset}",
        f"profile {record.get('profile')}",
        f"variant {record.get('data_variant')}",
        f"device {record.get('device')}",
        f"seed {record.get('seed')}",
    ]
    parts.append('<div class="badges">' + "".join(f'<span class="badge">{_e(b)}</span>' for b in badges) + "</div>")
    if note := profile_note(record.get("profile")):
        parts.append(f'<p class="callout note">{_e(note)}</p>')
    parts.append(_metrics_table(record["metrics"]))
    if experiment.figures:
        figures = "".join(_figure(f, figure_note(f.name, record)) for f in experiment.figures)
        parts.append(f'<div class="figures">{figures}</div>')
    parts.append(f'<p class="meta"><a href="#lineage-{_e(experiment.name)}">lineage of these numbers</a></p></details>')
    return "".join(parts)


def _comparison(comparison: Table, kinds: bool = True) -> str:
    """A restoration table; the best method per column gets class ``best``."""
    rows = []
    for row in comparison.rows:
        if row.kind == "method":
            label = f'<a class="mono" href="#exp-{_e(row.experiment)}">{_e(row.label)}</a>'
        else:
            label = f'<span class="rowlabel">{_e(row.label)}</span>'
        cells = [
            f'<td class="num best">{_e(cell.text)}</td>' if cell.best else f'<td class="num">{_e(cell.text)}</td>'
            for cell in row.cells
        ]
        rows.append(
            [f'<td class="{_e(row.kind)}">{label}</td>', *([_e(row.method_kind or "–")] if kinds else []), *cells]
        )
    header = ["method", *(["kind"] if kinds else []), *comparison.headers]
    return _table(header, rows, "comparison")


def _restoration_group(group: RestorationGroup) -> str:
    parts = [
        f"<h3>{_e(group.title)} · {_e(number(group.images))} images · {_e(group.profile)}</h3>",
        _comparison(group.table),
        f'<p class="caption">{_e(caption(group))}</p>',
    ]
    if note := profile_note(group.profile):
        parts.append(f'<p class="callout note">{_e(note)}</p>')
    for stress in group.stress:
        parts.append(f'<h4 class="stress">{_e(stress_caption(stress))}</h4>{_comparison(stress.table, kinds=False)}')
    return "".join(parts)


def _restoration(report: Report) -> str:
    if not report.restoration:
        return ""
    groups = "".join(_restoration_group(group) for group in report.restoration)
    return (
        f'<h2 id="restoration">Restoration: methods side by side</h2><p>{_e(SECTION_INTRO)} '
        f"Highlighted = the best method in the column, where it wins beyond the noise.</p>{groups}"
    )


def _fid(report: Report) -> str:
    if not report.fid and not report.fid_floors:
        return ""
    rows = [[_e(text) for text in row.cells()] for row in report.fid]
    floors = [[_e(text) for text in row] for row in floor_rows(report.fid_floors)]
    return (
        f'<h2 id="fid">Sample quality: FID beside its floor</h2><p>{_e(FID_INTRODUCTION)}</p>'
        + (_table(HEADER, rows) if rows else "<p>No FID measured yet.</p>")
        + "<h3>Floors</h3>"
        + (_table(FLOOR_HEADER, floors) if floors else "<p>No floors computed yet.</p>")
    )


def _findings(report: Report) -> str:
    if not report.findings:
        return ""
    figures = "".join(_figure(figure) for figure in report.findings)
    return f'<h2 id="findings">Findings across experiments</h2><div class="figures">{figures}</div>'


def _task_sections(report: Report) -> str:
    parts = []
    for task, title in TASK_TITLES.items():
        members = [e for e in report.experiments if e.task == task]
        if not members:
            continue
        overview = _table(
            ["experiment", "model", "dataset", "state"],
            [
                [
                    f'<span class="mono">{_e(e.name)}</span>',
                    _e(e.model),
                    _e(e.dataset),
                    _e(e.state)
                    if e.record is not None or e.error
                    else f'<span class="status idle">{_e(e.state)}</span>',
                ]
                for e in members
            ],
        )
        parts.append(f'<h2 id="{task}">{_e(title)}</h2>{overview}')
        parts += [_experiment(e) for e in members if e.record is not None or e.error]
    return "".join(parts)


def _datasets(report: Report) -> str:
    rows = [
        [
            f'<span class="mono">{_e(name)}</span>',
            _e(s.get("variant")),
            _e(", ".join(f"{k} {v.get('count')}" for k, v in (s.get("splits") or {}).items())),
            f'<span class="mono">{_e(str(s.get("sha256"))[:16])}…</span>',
        ]
        for name, s in sorted(report.datasets.items())
    ]
    table = _table(["dataset", "variant", "splits", "sha256"], rows) if rows else "<p>No dataset summaries yet.</p>"
    figures = "".join(_figure(report.dataset_figures[name]) for name in sorted(report.dataset_figures))
    return f'<h2 id="datasets">Datasets</h2>{table}<div class="figures">{figures}</div>'


def _provenance(report: Report) -> str:
    parts = [
        '<h2 id="provenance">Provenance</h2>',
        "<p>Per experiment: what ran, where, on which data, with which parameters. Click to expand.</p>",
    ]
    for experiment in (e for e in report.experiments if e.record is not None):
        record = experiment.record
        assert record is not None
        rows = [
            [_e(label), f'<span class="mono">{_e(text)}</span>']
            for label, text in provenance_rows(record, report.datasets)
        ]
        params = json.dumps(record.get("params"), indent=2, sort_keys=True)
        environment = record.get("environment") or {}
        env_rows = [[_e(k), _e(v)] for k, v in sorted(environment.items())] if isinstance(environment, Mapping) else []
        parts.append(
            f'<details id="lineage-{_e(experiment.name)}"><summary>{_e(experiment.name)} · '
            f"{_e(record.get('profile'))} · "
            f"{_e(record.get('device'))}</summary>{_table(['field', 'value'], rows, 'kv')}"
            f"{_chain(lineage_chain(report.lock_for(experiment.name), experiment.name))}"
            f"<h4>params</h4><pre>{_e(params)}</pre><h4>environment</h4>"
            f"{_table(['package', 'version'], env_rows, 'kv')}</details>"
        )
    if not report.records.records:
        parts.append("<p>No experiment has metrics yet.</p>")
    environment = environment_table(report.records.records)
    if environment:
        parts.append(
            '<h3 id="environment">Environment across experiments</h3>'
            + _table(["package", "version"], [[_e(p), _e(v)] for p, v in environment], "kv")
        )
    graph = report.graph
    parts.append(f'<h3 id="graph">Pipeline graph</h3><p>Source: {_e(graph.source)}. {_e(graph.note)}</p>')
    svg = as_svg(graph)
    if svg:
        parts.append(f'<div class="dag-wrap">{svg}</div>')
    parts.append(f"<details><summary>as text</summary><pre>{_e(as_text(graph))}</pre></details>")
    return "".join(parts)


def _chain(links: list[ChainLink]) -> str:
    """The number's chain as dvc.lock records it: each stage, nearest first, with the md5 of what
    it read (data, models, its code fingerprint) and the params keys it read."""
    if not links:
        return '<p class="meta">No dvc.lock entry for this experiment yet: no chain to show.</p>'
    rows = []
    for link in links:
        inputs = "<br>".join(f'<span class="mono">{_e(path)} {_e(digest[:12])}</span>' for path, digest in link.inputs)
        code = "<br>".join(f'<span class="mono">{_e(path)} {_e(digest[:12])}</span>' for path, digest in link.code)
        rows.append(
            [f'<span class="mono">{_e(link.stage)}</span>', inputs or "–", code or "–", _e(", ".join(link.params))]
        )
    return "<h4>chain (md5 as in dvc.lock; metric ← evaluate ← train ← prepare ← download)</h4>" + _table(
        ["stage", "data and models read", "code (fingerprint)", "params read"], rows
    )


def _audit(report: Report) -> str:
    experiment, metric = report.audit_target or ("vae-mnist", "negative_elbo")
    parts = [
        '<h2 id="audit">Audit: tracing one number</h2>',
        f"<p>Example: <code>{_e(metric)}</code> of <code>{_e(experiment)}</code>, stored in "
        f"<code>{_e(report.record_path(experiment))}</code>, traced in <code>{_e(report.lock_path(experiment))}</code>. "
        "DVC re-runs a stage when any of the "
        "hashes below changes, so these entries are the number's lineage: the data it saw, the "
        "parameters it read and the code that computed it.</p>",
    ]
    trail = upstream_trail(report.lock_for(experiment), f"evaluate@{experiment}")
    if not trail:
        parts.append(
            f'<p class="callout note"><code>dvc.lock</code> has no entry for <code>evaluate@{_e(experiment)}</code> '
            f"yet; run <code>uv run dvc repro evaluate@{_e(experiment)}</code> to create it.</p>"
        )
    for entry in trail:
        rows = [
            ["dep", f'<span class="mono">{_e(p)}</span>', f'<span class="mono">{_e(h)}</span>'] for p, h in entry.deps
        ]
        rows += [
            ["out", f'<span class="mono">{_e(p)}</span>', f'<span class="mono">{_e(h)}</span>'] for p, h in entry.outs
        ]
        rows += [
            [
                "param",
                f'<span class="mono">{_e(k)}</span>',
                f'<span class="mono wrap">{_e(json.dumps(v, sort_keys=True))}</span>',
            ]
            for k, v in entry.params.items()
        ]
        parts.append(
            f"<h3>{_e(entry.stage)}</h3><p><code>{_e(entry.cmd)}</code></p>"
            + _table(["kind", "path / key", "md5 / value"], rows)
        )
    commands = "\n".join(f"{command}\n    # {purpose}" for command, purpose in audit_commands(experiment, metric))
    parts.append(f"<p>Commands to check it:</p><pre>{_e(commands)}</pre>")
    return "".join(parts)


def render_html(report: Report) -> str:
    """The whole report as one HTML document: the scorecard first, the details below it."""
    errors = ""
    if report.records.errors:
        items = "".join(
            f"<li><code>{_e(name)}</code>: {_e(message)}</li>"
            for name, message in sorted(report.records.errors.items())
        )
        errors = f'<div class="callout"><b>Unreadable metrics files</b> (the rest of the report is unaffected):<ul>{items}</ul></div>'
    flagged = "".join(
        f"<li><b>{_e(c.id)}</b> ({_e(c.section)}): survey {_e(claimed_text(c))}. {_e(c.discrepancy)}"
        + (
            f'<span class="meta">Paper: {_e(c.paper_value_source)}. Cites {_e(c.cites)}.</span>'
            if c.paper_value_source
            else f'<span class="meta">Cites {_e(c.cites)}.</span>'
        )
        + "</li>"
        for c in report.claims
        if c.flagged
    )
    toc = "".join(
        f'<a href="#{anchor}">{_e(label)}</a>'
        for anchor, label in (
            ("scorecard", "Scorecard"),
            ("claims", "Claims in detail"),
            ("discrepancies", "Survey vs paper"),
            ("restoration", "Restoration tables"),
            ("fid", "FID"),
            ("findings", "Findings"),
            ("generation", "Generation"),
            ("denoising", "Denoising"),
            ("enhancement", "Enhancement"),
            ("classification", "Classifiers"),
            ("datasets", "Datasets"),
            ("provenance", "Provenance"),
            ("audit", "Audit"),
            ("conventions", "Metric conventions"),
            ("rules", "Status rules"),
        )
    )
    body = (
        f'<header><h1>Reproduction report</h1><p class="subtitle">{_e(SURVEY_CITATION)}</p>'
        f'<nav class="toc">{toc}</nav></header>'
        f'<p class="lede">{_e(INTRODUCTION)}</p>{_verdict_tiles(report)}{errors}'
        f'<h2 id="scorecard">Scorecard</h2><p class="legend">{_e(VERDICT_LEGEND)} {_e(rule_in_words())} '
        f"Each row links to its claim's card, to the experiment's card and to its lineage (the record's "
        f'provenance); metric conventions are listed once, in the <a href="#conventions">legend</a>.</p>'
        f"{_scorecard(report)}{_claim_cards(report)}"
        f'<h2 id="discrepancies">Survey vs cited paper</h2><ul class="discrepancies">{flagged}</ul>'
        "<p>Paper values were entered from the papers' published tables and not re-read on this offline "
        "machine (<code>verified_against_paper: false</code> in the registry); check them before citing.</p>"
        f"{_restoration(report)}{_fid(report)}{_findings(report)}{_task_sections(report)}{_datasets(report)}{_provenance(report)}{_audit(report)}"
        f'<h2 id="legend">Legend</h2>{_conventions(report)}'
        f'<h3 id="rules">How statuses are decided</h3><p>{_e(STATUS_RULES)}</p>'
        "<footer>Generated by the <code>report</code> stage of vaerepro "
        "(<code>pipeline/report.py</code>) from <code>reports/metrics/*.json</code> and the claims registry "
        "<code>src/vaerepro/report/claims.yaml</code>.</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Reproduction report: {_e(SURVEY_TITLE)}</title>"
        f"<style>{STYLESHEET}</style><script>{SELF_CHECK_SCRIPT}</script></head>"
        f"<body>{body}</body></html>\n"
    )
