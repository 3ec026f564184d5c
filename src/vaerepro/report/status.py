"""The status of each claim: the rules that decide "reproduced", as code (issue 5).

Value claims, in order (the first rule that applies wins):

1. the registry says nothing here can measure it          → not measurable here: <reason>
   the registry says the claimed number cannot be
   compared as stated (``not_comparable``)                → not comparable as stated: <reason>
   (our number is still looked up and shown)
2. the experiment's metrics file exists but is malformed  → metrics file unreadable
3. no metrics file for the experiment                     → not run
4. the record lacks the metric, or marks it not_measured,
   or lacks the requested detail                          → not measurable here: <reason>
5. the record's profile is ``smoke``                      → smoke run only (not a reproduction)
   (a profile other than ``cpu`` or ``full`` → not comparable; ``cpu``, the CPU budget tier,
   and ``full`` go on, and the verdict names the budget they reached, vaerepro.report.verdict)
6. the data variant is not comparable (lossy copy, other
   test set), or an FID computed on fewer than 10,000
   samples is held against a published FID                → not comparable: <variant> / FID at N
   (FID is biased upwards at small N; published FIDs use
   10k or 50k samples)
7. the data variant is a documented subset (``subset-…``):
   within tolerance → partial; outside → not comparable: <variant>
   (success on less data is evidence; failure on less data is not conclusive)
8. otherwise: within tolerance → reproduced, else → not reproduced; but when the
   decision is within the measurement's noise → tie (see below)

"Within tolerance" respects the metric's direction: for a lower-is-better metric (FID, NLL)
``ours ≤ reference + tolerance``, so beating the claim counts as reproduced; for
higher-is-better ``ours ≥ reference − tolerance``; for ``equal`` ``|ours − reference| ≤
tolerance``. The reference is the survey's number unless the registry says ``reference:
paper`` (the survey misquotes the paper, so we reproduce what the paper measured).

Ties (:mod:`vaerepro.report.noise`): a value claim is a tie when our number lies within two
standard errors of the tolerance bound it is judged against, and a comparison is a tie when
the difference of its two sides is within two standard errors of the difference; either is a
tie when fewer than 3 images were scored. The standard error comes from the per-image values
(paired differences when both sides scored the same images). A tie is neither reproduced nor
not reproduced, and a restoration table never marks it as a win.

Comparison claims apply rules 1–5 to each side, then check the relation. Rule 6–7 apply
only when one side is a published constant: two of our own experiments on the same data
variant are comparable with each other even on a lossy or subset copy, because both see the
same data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from vaerepro.report.claims import Claim, Quantity
from vaerepro.report.noise import Noise, difference_noise, entry_noise, separated
from vaerepro.report.records import RecordSet

# Provenance fields a claim may measure directly (e.g. "VDVAE uses 39M parameters").
PROVENANCE_METRICS = ("parameter_count",)
# Variant parts that leave a number comparable with published ones. CelebA-HQ at 256² is
# conventionally made by resizing the 1024² originals, so that resize is not a deviation.
COMPARABLE_VARIANT_PARTS = ("official", "resized-from-")
SUBSET_VARIANT_PART = "subset-"
# Published FIDs use 10k or 50k samples; ours at smaller N are compared only with each other.
PUBLISHED_FID_MIN_SAMPLES = 10_000


class StatusKind(StrEnum):
    REPRODUCED = "reproduced"
    PARTIAL = "partial"
    NOT_REPRODUCED = "not reproduced"
    TIE = "tie"
    SMOKE = "smoke run only"
    NOT_COMPARABLE = "not comparable"
    NOT_COMPARABLE_AS_STATED = "not comparable as stated"
    NOT_MEASURABLE = "not measurable here"
    NOT_RUN = "not run"
    UNREADABLE = "metrics file unreadable"


@dataclass(frozen=True)
class Status:
    kind: StatusKind
    reason: str = ""

    @property
    def label(self) -> str:
        """The text the report prints, e.g. ``not measurable here: no ImageNet``."""
        if self.kind is StatusKind.SMOKE:
            return "smoke run only (not a reproduction)"
        return f"{self.kind.value}: {self.reason}" if self.reason and self.kind in _REASON_IN_LABEL else self.kind.value


_REASON_IN_LABEL = {StatusKind.NOT_MEASURABLE, StatusKind.NOT_COMPARABLE, StatusKind.NOT_COMPARABLE_AS_STATED}

HOLDS, DOES_NOT_HOLD, TIE = "holds", "does not hold", "tie"


@dataclass(frozen=True)
class Assessment:
    """A claim with our number, the number it is judged against, and the verdict."""

    claim: Claim
    status: Status
    ours: float | None = None
    reference: float | None = None
    delta: float | None = None
    explanation: str = ""
    experiments: tuple[str, ...] = ()
    outcome: str = ""  # holds / does not hold / tie: what the numbers say, whatever the profile
    noise: Noise | None = None
    # Judged on a property of the architecture (measured without training): no budget applies.
    architecture: bool = False


@dataclass(frozen=True)
class Resolved:
    value: float | None
    record: Mapping[str, Any] | None
    problem: Status | None

    def entry(self, quantity: Quantity) -> Mapping[str, Any] | None:
        """The metric entry behind the value, for its noise; None for a detail or a provenance field."""
        if self.record is None or quantity.detail or quantity.metric is None:
            return None
        entry = self.record["metrics"].get(quantity.metric)
        return entry if isinstance(entry, Mapping) else None


def variant_class(variant: str) -> str:
    """``comparable``, ``subset`` or ``not comparable`` for a ``+``-joined variant marker."""
    parts = [part for part in str(variant).split("+") if part]
    if not parts:
        return "not comparable"
    if any(not part.startswith((*COMPARABLE_VARIANT_PARTS, SUBSET_VARIANT_PART)) for part in parts):
        return "not comparable"
    return "subset" if any(part.startswith(SUBSET_VARIANT_PART) for part in parts) else "comparable"


def resolve(quantity: Quantity, records: RecordSet) -> Resolved:
    """Find a quantity's number, or the status that explains why there is none (rules 2–4)."""
    if quantity.experiment is None:
        return Resolved(quantity.value, None, None)
    experiment, metric = quantity.experiment, quantity.metric or ""
    if experiment in records.errors:
        return Resolved(None, None, Status(StatusKind.UNREADABLE, records.errors[experiment]))
    record = records.get(experiment)
    if record is None:
        return Resolved(None, None, Status(StatusKind.NOT_RUN, f"no reports/metrics/{experiment}.json"))
    entry = record["metrics"].get(metric)
    if entry is None and metric in PROVENANCE_METRICS and isinstance(record.get(metric), int | float):
        return Resolved(float(record[metric]), record, None)
    if entry is None:
        return Resolved(None, record, Status(StatusKind.NOT_MEASURABLE, f"{experiment} recorded no '{metric}'"))
    if entry.get("value") is None:
        return Resolved(None, record, Status(StatusKind.NOT_MEASURABLE, str(entry.get("not_measured"))))
    value = entry.get(quantity.detail) if quantity.detail else entry["value"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        what = f"'{metric}' detail '{quantity.detail}'" if quantity.detail else f"'{metric}'"
        return Resolved(
            None, record, Status(StatusKind.NOT_MEASURABLE, f"{experiment} has no finite number for {what}")
        )
    return Resolved(float(value), record, None)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.6g}"


def within_tolerance(ours: float, reference: float, allowed: float, direction: str) -> bool:
    """Direction-aware tolerance test (module docstring, rule 8)."""
    if direction == "lower_is_better":
        return ours <= reference + allowed
    if direction == "higher_is_better":
        return ours >= reference - allowed
    return abs(ours - reference) <= allowed


def _gate(records: list[Mapping[str, Any]], outcome: str, check_variant: bool) -> Status:
    """Rules 5–8: profile, then data variant, then the outcome (holds / does not hold / tie)."""
    success = outcome == HOLDS
    for record in records:
        profile = record.get("profile")
        if profile == "smoke":
            return Status(StatusKind.SMOKE)
        if profile not in ("cpu", "full"):
            return Status(StatusKind.NOT_COMPARABLE, f"profile {profile!r}")
    if check_variant:
        for record in records:
            variant = str(record.get("data_variant"))
            kind = variant_class(variant)
            if kind == "not comparable" or (kind == "subset" and not success):
                return Status(StatusKind.NOT_COMPARABLE, variant)
        subsets = [str(r.get("data_variant")) for r in records if variant_class(str(r.get("data_variant"))) == "subset"]
        if subsets:
            return Status(StatusKind.PARTIAL, f"within tolerance on {', '.join(subsets)}")
    if outcome == TIE:
        return Status(StatusKind.TIE)
    return Status(StatusKind.REPRODUCED if success else StatusKind.NOT_REPRODUCED)


def nearest_bound(ours: float, reference: float, allowed: float, direction: str) -> float:
    """The edge of the tolerance band that decides the claim: where "holds" turns into "does not"."""
    if direction == "lower_is_better":
        return reference + allowed
    if direction == "higher_is_better":
        return reference - allowed
    return min((reference - allowed, reference + allowed), key=lambda bound: abs(ours - bound))


def value_outcome(ours: float, reference: float, allowed: float, direction: str, noise: Noise | None) -> str:
    """holds / does not hold, or tie when the deciding bound lies within our number's noise."""
    if noise is not None and not separated(ours - nearest_bound(ours, reference, allowed, direction), noise):
        return TIE
    return HOLDS if within_tolerance(ours, reference, allowed, direction) else DOES_NOT_HOLD


def comparison_outcome(difference: float, holds: bool, noise: Noise | None) -> str:
    """holds / does not hold by the relation, or tie when the difference is within the noise."""
    if not separated(difference, noise):
        return TIE
    return HOLDS if holds else DOES_NOT_HOLD


def _noise_note(outcome: str, noise: Noise | None) -> str:
    if noise is None:
        return ""
    if outcome == TIE and noise.images < 3:
        return f" (tie: {noise.images} images are too few to tell)"
    return f" ({noise.describe()})"


def small_sample_fid(quantity: Quantity, record: Mapping[str, Any] | None) -> Status | None:
    """Rule 6 for FID: a number at N < 10k is not comparable with a published FID."""
    if record is None or quantity.metric is None or quantity.detail:
        return None
    entry = record["metrics"].get(quantity.metric) or {}
    count = entry.get("num_samples")
    if str(entry.get("unit", "")).startswith("FID") and isinstance(count, int) and count < PUBLISHED_FID_MIN_SAMPLES:
        return Status(
            StatusKind.NOT_COMPARABLE, f"FID at N = {count}; published FIDs use ≥ {PUBLISHED_FID_MIN_SAMPLES:,} samples"
        )
    return None


def _assess_value(claim: Claim, records: RecordSet) -> Assessment:
    assert claim.measure is not None and claim.tolerance is not None
    reference = claim.reference_value
    resolved = resolve(claim.measure, records)
    experiments = claim.experiments
    if resolved.problem is not None or resolved.value is None or reference is None:
        problem = resolved.problem or Status(StatusKind.NOT_MEASURABLE, "no value to compare")
        return Assessment(claim, problem, reference=reference, experiments=experiments)
    ours = resolved.value
    allowed = claim.tolerance.allowed(reference)
    noise = entry_noise(resolved.entry(claim.measure))
    outcome = value_outcome(ours, reference, allowed, claim.direction, noise)
    bound = {"lower_is_better": "≤", "higher_is_better": "≥"}.get(claim.direction, "within")
    explanation = (
        f"ours {_fmt(ours)}; needs {bound} {_fmt(reference)} {claim.tolerance.describe()} "
        f"({claim.direction.replace('_', ' ')}): {outcome}{_noise_note(outcome, noise)}"
    )
    assert resolved.record is not None
    if (resolved.entry(claim.measure) or {}).get("independent_of_training"):
        # A property of the architecture (the full profile's parameter count): no training budget
        # or data variant stands between it and the claim, at any profile.
        status = _gate([], outcome, check_variant=False)
        explanation += "; a property of the architecture, measured without training"
        return Assessment(
            claim,
            status,
            ours,
            reference,
            ours - reference,
            explanation,
            experiments,
            outcome,
            noise,
            architecture=True,
        )
    status = _gate([resolved.record], outcome, check_variant=True)
    if status.kind is not StatusKind.SMOKE:
        status = small_sample_fid(claim.measure, resolved.record) or status
    return Assessment(claim, status, ours, reference, ours - reference, explanation, experiments, outcome, noise)


def _assess_comparison(claim: Claim, records: RecordSet) -> Assessment:
    assert claim.compare is not None
    left, right = resolve(claim.compare.left, records), resolve(claim.compare.right, records)
    for side in (left, right):
        if side.problem is not None:
            return Assessment(claim, side.problem, experiments=claim.experiments)
    assert left.value is not None and right.value is not None
    difference = left.value - right.value
    noise = difference_noise(left.entry(claim.compare.left), right.entry(claim.compare.right))
    outcome = comparison_outcome(difference, claim.compare.holds(left.value, right.value), noise)
    involved = [side.record for side in (left, right) if side.record is not None]
    variants = {str(record.get("data_variant")) for record in involved}
    # Our own two experiments on one data variant see the same data: comparable (docstring).
    against_constant = claim.compare.right.experiment is None
    status = _gate(involved, outcome, check_variant=against_constant or len(variants) > 1)
    if against_constant and status.kind is not StatusKind.SMOKE:
        status = small_sample_fid(claim.compare.left, left.record) or status
    explanation = (
        f"{claim.compare.left.describe()} = {_fmt(left.value)} {claim.compare.symbol()} "
        f"{claim.compare.right.describe()} = {_fmt(right.value)}: {outcome}{_noise_note(outcome, noise)}"
    )
    return Assessment(
        claim, status, left.value, right.value, difference, explanation, claim.experiments, outcome, noise
    )


def assess(claim: Claim, records: RecordSet) -> Assessment:
    """Apply the rules of this module's docstring to one claim."""
    if claim.not_measurable:
        return Assessment(
            claim, Status(StatusKind.NOT_MEASURABLE, claim.not_measurable), reference=claim.reference_value
        )
    supplied = claim.measure_on_supplied_data
    if supplied is not None and supplied.experiment in records.records:
        # The user supplied the data the claim is about: judge it on that, as stated.
        return _assess_value(replace(claim, measure=supplied, not_comparable=""), records)
    assessment = _assess_comparison(claim, records) if claim.compare is not None else _assess_value(claim, records)
    if claim.not_comparable:
        # Our number is still shown; only the verdict is withheld.
        return replace(assessment, status=Status(StatusKind.NOT_COMPARABLE_AS_STATED, claim.not_comparable))
    return assessment


def assess_all(claims: list[Claim], records: RecordSet) -> list[Assessment]:
    return [assess(claim, records) for claim in claims]
