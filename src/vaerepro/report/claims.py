"""The claims registry: the survey's claims as data (``claims.yaml`` beside this module).

Each claim maps to where our number comes from: one quantity ``(experiment, metric key,
optional detail)`` compared with the claimed value under a tolerance, or a comparison of two
quantities (a qualitative claim made measurable). A claim nothing here can measure carries a
``not_measurable`` reason instead; a claim whose number cannot be compared with ours as the
survey states it (a different scale or definition) carries a ``not_comparable`` reason: ours is
still shown, but no verdict is drawn. See the header of ``claims.yaml`` for every field.

Loading is strict (an unknown field, a duplicate id or a bad tolerance is an error naming the
claim), because a typo in the registry would otherwise silently turn into "not run".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vaerepro.report.metric_catalog import DIRECTIONS, Direction, metric_direction

DEFAULT_CLAIMS_PATH = Path(__file__).with_name("claims.yaml")
RELATIONS = ("less_than", "greater_than")
REFERENCES = ("survey", "paper")

_CLAIM_FIELDS = {
    "id",
    "section",
    "statement",
    "model",
    "dataset",
    "metric",
    "survey_value",
    "unit",
    "cites",
    "paper_value",
    "paper_value_source",
    "verified_against_paper",
    "discrepancy",
    "reference",
    "measure",
    "measure_on_supplied_data",
    "compare",
    "tolerance",
    "direction",
    "not_measurable",
    "not_comparable",
    "notes",
}


class ClaimsError(ValueError):
    """The registry is malformed; the message names the file and the claim."""


@dataclass(frozen=True)
class Quantity:
    """Where a number comes from: a metric of an experiment's record, or a fixed value.

    ``detail`` selects a key inside the metric entry (``{"value": …, "latent": 0.38}``).
    A fixed value (``experiment is None``) is a published number used as a comparison point.
    """

    experiment: str | None = None
    metric: str | None = None
    detail: str | None = None
    value: float | None = None
    label: str | None = None

    def describe(self) -> str:
        if self.experiment is None:
            return self.label or f"{self.value:g}"
        detail = f"[{self.detail}]" if self.detail else ""
        return f"{self.experiment} · {self.metric}{detail}"


@dataclass(frozen=True)
class Tolerance:
    """How far our number may be from the reference and still reproduce it."""

    absolute: float | None = None
    relative: float | None = None

    def allowed(self, reference: float) -> float:
        if self.absolute is not None:
            return self.absolute
        return abs(reference) * (self.relative or 0.0)

    def describe(self) -> str:
        if self.absolute is not None:
            return f"±{self.absolute:g}"
        return f"±{(self.relative or 0.0) * 100:g}%"


@dataclass(frozen=True)
class Comparison:
    left: Quantity
    relation: str
    right: Quantity

    def holds(self, left: float, right: float) -> bool:
        return left < right if self.relation == "less_than" else left > right

    def symbol(self) -> str:
        return "<" if self.relation == "less_than" else ">"


@dataclass(frozen=True)
class Claim:
    id: str
    section: str
    statement: str
    model: str
    dataset: str
    metric: str
    unit: str
    cites: str
    survey_value: float | None = None
    paper_value: float | None = None
    paper_value_source: str = ""
    verified_against_paper: bool = False
    discrepancy: str = ""
    reference: str = "survey"
    measure: Quantity | None = None
    # The quantity that measures the claim as stated, from an experiment on data the user must
    # supply (CelebA-HQ): used instead of ``measure``, without ``not_comparable``, once its
    # record exists; until then ``measure`` (a stand-in) is shown with the reason.
    measure_on_supplied_data: Quantity | None = None
    compare: Comparison | None = None
    tolerance: Tolerance | None = None
    direction: Direction = "equal"
    not_measurable: str = ""
    not_comparable: str = ""
    notes: str = ""

    @property
    def kind(self) -> str:
        """``value`` (a number against a tolerance), ``comparison`` or ``unmeasurable``."""
        if self.not_measurable:
            return "unmeasurable"
        return "comparison" if self.compare else "value"

    @property
    def comparable(self) -> bool:
        """False when the registry says the claimed number cannot be compared as stated."""
        return not self.not_comparable

    @property
    def flagged(self) -> bool:
        """The survey's number or wording differs from the cited paper's."""
        return bool(self.discrepancy)

    @property
    def reference_value(self) -> float | None:
        """The number our value is judged against: the paper's when the survey misquotes it."""
        if self.reference == "paper" and self.paper_value is not None:
            return self.paper_value
        return self.survey_value

    @property
    def experiments(self) -> tuple[str, ...]:
        quantities = [q for q in (self.measure, self.measure_on_supplied_data) if q]
        if self.compare:
            quantities += [self.compare.left, self.compare.right]
        return tuple(q.experiment for q in quantities if q and q.experiment)


def _quantity(raw: Any, where: str) -> Quantity:
    if not isinstance(raw, Mapping):
        raise ClaimsError(f"{where}: expected a mapping, got {raw!r}")
    unknown = set(raw) - {"experiment", "metric", "detail", "value", "label"}
    if unknown:
        raise ClaimsError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    if "experiment" in raw:
        if not raw.get("metric"):
            raise ClaimsError(f"{where}: an experiment quantity needs a 'metric'")
        return Quantity(
            experiment=str(raw["experiment"]),
            metric=str(raw["metric"]),
            detail=str(raw["detail"]) if raw.get("detail") else None,
        )
    if not isinstance(raw.get("value"), int | float):
        raise ClaimsError(f"{where}: needs either 'experiment' + 'metric' or a numeric 'value'")
    return Quantity(value=float(raw["value"]), label=raw.get("label"))


def _number(raw: Any, where: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ClaimsError(f"{where}: expected a number or null, got {raw!r}")
    return float(raw)


def _not_comparable(raw: Any, where: str) -> str:
    """The reason the claimed number cannot be compared as stated; empty when it can."""
    if raw is None:
        return ""
    if not isinstance(raw, str) or not raw.strip():
        raise ClaimsError(f"{where}: 'not_comparable' must be a non-empty reason (text), got {raw!r}")
    return " ".join(raw.split())


def parse_claim(raw: Mapping[str, Any], source: str = "claims") -> Claim:
    """Validate one registry entry and build a :class:`Claim`."""
    claim_id = raw.get("id")
    where = f"{source}: claim {claim_id!r}"
    if not claim_id:
        raise ClaimsError(f"{source}: a claim without an 'id': {dict(raw)!r}")
    unknown = set(raw) - _CLAIM_FIELDS
    if unknown:
        raise ClaimsError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for required in ("section", "statement", "model", "dataset", "metric", "unit", "cites"):
        if not raw.get(required):
            raise ClaimsError(f"{where}: missing '{required}'")
    measure = _quantity(raw["measure"], f"{where} measure") if raw.get("measure") else None
    compare = None
    if raw.get("compare"):
        spec = raw["compare"]
        if not isinstance(spec, Mapping) or spec.get("relation") not in RELATIONS:
            raise ClaimsError(f"{where}: compare needs left, right and relation in {RELATIONS}")
        compare = Comparison(
            _quantity(spec.get("left"), f"{where} compare.left"),
            spec["relation"],
            _quantity(spec.get("right"), f"{where} compare.right"),
        )
        if compare.left.experiment is None:
            raise ClaimsError(f"{where}: compare.left must be one of our experiments")
    supplied = None
    if raw.get("measure_on_supplied_data"):
        supplied = _quantity(raw["measure_on_supplied_data"], f"{where} measure_on_supplied_data")
        if measure is None or supplied.experiment is None:
            raise ClaimsError(
                f"{where}: 'measure_on_supplied_data' names one of our experiments and needs 'measure' "
                "(what is shown until the supplied data's record exists)"
            )
    not_measurable = str(raw.get("not_measurable") or "").strip()
    if sum(bool(x) for x in (measure, compare, not_measurable)) != 1:
        raise ClaimsError(f"{where}: give exactly one of 'measure', 'compare', 'not_measurable'")
    not_comparable = _not_comparable(raw.get("not_comparable"), where)
    if not_comparable and not_measurable:
        raise ClaimsError(f"{where}: 'not_comparable' needs something measured; this claim is 'not_measurable'")
    tolerance = None
    if raw.get("tolerance") is not None:
        spec = raw["tolerance"]
        if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in ("absolute", "relative"):
            raise ClaimsError(f"{where}: tolerance must be {{absolute: x}} or {{relative: x}}")
        amount = _number(next(iter(spec.values())), f"{where} tolerance")
        if amount is None or amount < 0:
            raise ClaimsError(f"{where}: tolerance must be a non-negative number")
        tolerance = Tolerance(**{next(iter(spec)): amount})
    survey_value = _number(raw.get("survey_value"), f"{where} survey_value")
    paper_value = _number(raw.get("paper_value"), f"{where} paper_value")
    reference = raw.get("reference", "survey")
    if reference not in REFERENCES:
        raise ClaimsError(f"{where}: reference must be one of {REFERENCES}")
    if measure is not None:
        if tolerance is None:
            raise ClaimsError(f"{where}: a measured value needs a tolerance")
        if (paper_value if reference == "paper" else survey_value) is None:
            raise ClaimsError(f"{where}: a measured value needs the {reference} value to compare with")
    direction = raw.get("direction") or metric_direction(str(raw["metric"]))
    if direction not in DIRECTIONS:
        raise ClaimsError(f"{where}: direction must be one of {DIRECTIONS}")
    return Claim(
        id=str(claim_id),
        section=str(raw["section"]),
        statement=" ".join(str(raw["statement"]).split()),
        model=str(raw["model"]),
        dataset=str(raw["dataset"]),
        metric=str(raw["metric"]),
        unit=str(raw["unit"]),
        cites=str(raw["cites"]),
        survey_value=survey_value,
        paper_value=paper_value,
        paper_value_source=str(raw.get("paper_value_source") or ""),
        verified_against_paper=bool(raw.get("verified_against_paper", False)),
        discrepancy=" ".join(str(raw.get("discrepancy") or "").split()),
        reference=reference,
        measure=measure,
        measure_on_supplied_data=supplied,
        compare=compare,
        tolerance=tolerance,
        direction=direction,
        not_measurable=" ".join(not_measurable.split()),
        not_comparable=not_comparable,
        notes=" ".join(str(raw.get("notes") or "").split()),
    )


def load_claims(path: Path = DEFAULT_CLAIMS_PATH) -> list[Claim]:
    """Read and validate the registry; claims keep their file order."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ClaimsError(f"{path}: cannot read the claims registry ({error})") from error
    if not isinstance(data, Mapping) or data.get("schema_version") != 1 or not isinstance(data.get("claims"), list):
        raise ClaimsError(f"{path}: expected schema_version: 1 and a 'claims' list")
    claims = [parse_claim(raw, str(path)) for raw in data["claims"]]
    seen: set[str] = set()
    for claim in claims:
        if claim.id in seen:
            raise ClaimsError(f"{path}: duplicate claim id {claim.id!r}")
        seen.add(claim.id)
    return claims
