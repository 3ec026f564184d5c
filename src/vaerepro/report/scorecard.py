"""The scorecard: one row per claim, what was claimed, what we got, and the verdict.

The first table of the report, read in five minutes: every number carries its unit, ours
also the training budget it rests on against the paper's (``300 of 150,000 steps (0.2 %)``),
the number of images or samples behind it, the record's profile and the device, so neither a
smoke nor a reduced-budget number is read as a reproduction. The verdict is
:func:`vaerepro.report.verdict.verdict`, told the budgets of the claim's experiments. Both renderers format these rows; the
conventions behind each metric are printed once, in the legend (:func:`metric_conventions`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vaerepro.report.budget import budget_text, evaluation_text, record_budget
from vaerepro.report.claims import Claim, Quantity
from vaerepro.report.formatting import number, signed
from vaerepro.report.metric_catalog import metric_name
from vaerepro.report.records import RecordSet
from vaerepro.report.status import Assessment
from vaerepro.report.verdict import Verdict, verdict

SHORT_CLAIM_CHARACTERS = 110
# Keys of a metric entry that say how many images or samples its value rests on, and the noun.
COUNT_KEYS = (("images", "images"), ("num_samples", "samples"), ("generated_count", "samples"), ("count", "samples"))
DIRECTION_WORDS = {"lower_is_better": "lower is better", "higher_is_better": "higher is better", "equal": "equal"}


@dataclass(frozen=True)
class ScorecardRow:
    claim_id: str
    section: str
    claim: str  # the statement, shortened
    statement: str  # in full
    subject: str  # model · dataset
    claimed: str
    claimed_note: str  # tolerance and direction, or the relation's metric
    ours: str
    ours_context: str  # budget · N · profile · device
    verdict: Verdict
    cards: tuple[str, ...]  # experiments with a card in the report
    lineages: tuple[str, ...]  # experiments with a record (their lineage is listed)


def shorten(text: str, limit: int = SHORT_CLAIM_CHARACTERS) -> str:
    """The text cut at a word boundary to at most ``limit`` characters, with an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: text.rfind(" ", 0, limit)].rstrip(",;:") + " …"


def metric_entry(quantity: Quantity | None, records: RecordSet) -> Mapping[str, Any] | None:
    if quantity is None or quantity.experiment is None or quantity.metric is None:
        return None
    record = records.get(quantity.experiment) or {}
    entry = (record.get("metrics") or {}).get(quantity.metric)
    return entry if isinstance(entry, Mapping) else None


def sample_count(entry: Mapping[str, Any] | None) -> str:
    """``23 images`` or ``500 samples``; empty when the entry says nothing."""
    for key, noun in COUNT_KEYS:
        value = (entry or {}).get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{number(value)} {noun}"
    return ""


def unit_of(quantity: Quantity | None, records: RecordSet, claim: Claim) -> str:
    """The unit our number is in: the record's, else the claim's."""
    entry = metric_entry(quantity, records)
    if entry and entry.get("unit"):
        return str(entry["unit"])
    if quantity is not None and quantity.metric == "parameter_count":
        return "parameters"
    return claim.unit


def record_context(quantity: Quantity | None, records: RecordSet) -> str:
    """``300 of 150,000 steps (0.2 %) · N 500 · smoke · cpu``: what our number rests on, where it ran.

    N is the metric's own count when its entry states one (``200 samples`` for an FID), else
    the N of the experiment's main evaluation set.
    """
    if quantity is None or quantity.experiment is None:
        return ""
    record = records.get(quantity.experiment)
    if record is None:
        return ""
    budget = record_budget(record)
    count = sample_count(metric_entry(quantity, records)) or evaluation_text(budget)
    parts = [budget_text(budget), count, str(record.get("profile")), str(record.get("device"))]
    return " · ".join(part for part in parts if part)


def claim_budgets(claim: Claim, records: RecordSet) -> list[dict[str, Any]]:
    """The budget blocks of the claim's experiments that have a record."""
    found = (records.get(experiment) for experiment in dict.fromkeys(claim.experiments))
    return [record_budget(record) for record in found if record is not None]


def _quantity_name(quantity: Quantity, other: Quantity | None = None) -> str:
    """How a comparison's side is named: experiment and metric, dropping what both sides share."""
    if quantity.experiment is None:
        return quantity.label or number(quantity.value)
    detail = f" [{quantity.detail}]" if quantity.detail else ""
    if other is not None and other.experiment == quantity.experiment:
        return f"{metric_name(quantity.metric or '')}{detail}"
    if other is not None and other.metric == quantity.metric and other.detail == quantity.detail:
        return quantity.experiment
    return f"{quantity.experiment} {metric_name(quantity.metric or '')}{detail}"


def _claimed(claim: Claim) -> tuple[str, str]:
    if claim.compare is not None:
        left, right = claim.compare.left, claim.compare.right
        text = f"{_quantity_name(left, right)} {claim.compare.symbol()} {_quantity_name(right, left)}"
        shared = left.metric == right.metric or right.experiment is None or left.experiment == right.experiment
        what = metric_name(left.metric or claim.metric)
        return text, (f"in {what}" if shared and left.experiment != right.experiment else "")
    if claim.survey_value is None and claim.reference_value is None:
        return "qualitative", ""
    if claim.survey_value is None:
        text = f"{number(claim.reference_value)} {claim.unit} (the paper's; the survey states no number)"
    else:
        text = f"{number(claim.survey_value)} {claim.unit}"
    if claim.survey_value is not None and claim.paper_value is not None and claim.paper_value != claim.survey_value:
        text += f" (paper: {number(claim.paper_value)})"
    notes = []
    if claim.tolerance is not None:
        judged = "paper" if claim.reference == "paper" and claim.paper_value is not None else "survey"
        notes.append(f"tolerance {claim.tolerance.describe()} of the {judged} value")
    notes.append(DIRECTION_WORDS.get(claim.direction, claim.direction))
    return text, " · ".join(notes)


def _ours(assessment: Assessment, records: RecordSet) -> tuple[str, str]:
    claim = assessment.claim
    if assessment.ours is None:
        return "–", ""
    if claim.compare is not None:
        unit = unit_of(claim.compare.left, records, claim)
        text = f"{number(assessment.ours)} vs {number(assessment.reference)} {unit} (Δ {signed(assessment.delta)})"
        return text, record_context(claim.compare.left, records)
    unit = unit_of(claim.measure, records, claim)
    return f"{number(assessment.ours)} {unit}", record_context(claim.measure, records)


def scorecard_rows(assessments: list[Assessment], records: RecordSet) -> list[ScorecardRow]:
    """One row per claim, in registry order."""
    rows = []
    for assessment in assessments:
        claim = assessment.claim
        claimed, claimed_note = _claimed(claim)
        ours, context = _ours(assessment, records)
        experiments = tuple(dict.fromkeys(claim.experiments))
        rows.append(
            ScorecardRow(
                claim_id=claim.id,
                section=claim.section,
                claim=shorten(claim.statement),
                statement=claim.statement,
                subject=f"{claim.model} · {claim.dataset}",
                claimed=claimed,
                claimed_note=claimed_note,
                ours=ours,
                ours_context=context,
                verdict=verdict(assessment, claim_budgets(claim, records)),
                cards=tuple(e for e in experiments if records.get(e) is not None or e in records.errors),
                lineages=tuple(e for e in experiments if records.get(e) is not None),
            )
        )
    return rows


def metric_conventions(records: RecordSet) -> list[tuple[str, str, list[str]]]:
    """(metric key, convention, experiments using it): each metric's conventions, printed once.

    A metric measured under two conventions (rare, but possible across models) gets one line
    per convention, naming the experiments, so no row has to repeat its convention.
    """
    found: dict[tuple[str, str], list[str]] = {}
    for name, record in sorted(records.records.items()):
        for key, entry in (record.get("metrics") or {}).items():
            if isinstance(entry, Mapping) and entry.get("convention") and entry.get("value") is not None:
                base = key.partition("@")[0].removesuffix("_input").removesuffix("_reference")
                found.setdefault((base, str(entry["convention"])), []).append(name)
    return [(key, convention, experiments) for (key, convention), experiments in sorted(found.items())]
