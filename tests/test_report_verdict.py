"""The scorecard's verdicts (report/verdict.py), the noise rule behind ties (report/noise.py),
the registry's ``not_comparable`` field and the figures' links, laziness and sizes.

Fixture records use profile ``full`` (or a non-smoke profile) so that holds / does not hold /
tie can be reached at all: every committed record is a smoke record, and gives no verdict.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from PIL import Image

from tests.report_fixtures.tree import build_tree
from vaerepro.report.build import build_report
from vaerepro.report.claims import DEFAULT_CLAIMS_PATH, ClaimsError, load_claims, parse_claim
from vaerepro.report.figure_notes import figure_layout, figure_note
from vaerepro.report.noise import Noise, difference_noise, entry_noise, separated
from vaerepro.report.records import RecordSet
from vaerepro.report.render_html import render_html
from vaerepro.report.scorecard import claim_budgets, scorecard_rows
from vaerepro.report.status import StatusKind, assess
from vaerepro.report.verdict import VerdictKind, verdict, verdict_counts

BASE = {"section": "3.2", "statement": "s", "model": "m", "dataset": "d", "unit": "dB", "cites": "[8]"}


def value_claim(**extra):
    raw = {
        "id": "value",
        **BASE,
        "metric": "psnr",
        "survey_value": 38.26,
        "measure": {"experiment": "zheng-cc15", "metric": "psnr"},
        "tolerance": {"absolute": 0.5},
    }
    return parse_claim({**raw, **extra})


def comparison_claim(**extra):
    raw = {
        "id": "comparison",
        **BASE,
        "metric": "psnr",
        "survey_value": None,
        "compare": {
            "left": {"experiment": "zheng-lol", "metric": "psnr"},
            "relation": "greater_than",
            "right": {"experiment": "bm3d-lol", "metric": "psnr"},
        },
    }
    return parse_claim({**raw, **extra})


def psnr(per_image: dict[str, float]) -> dict:
    values = list(per_image.values())
    return {"value": sum(values) / len(values), "unit": "dB", "images": len(values), "per_image": per_image}


def record(name: str, metrics: dict, profile: str = "full", trained: int = 2000, full_steps: int = 2000) -> dict:
    """A record of ``name`` (model: the part before the first ``-``) trained ``trained`` of
    ``full_steps`` steps; a classical model's record trains 0 of 0 steps, as the train stage writes."""
    model = name.split("-")[0].split("_")[0]
    classical = model in ("bm3d", "nlmeans", "clahe", "gamma")
    return {
        "experiment": name,
        "model": model,
        "profile": profile,
        "data_variant": "official",
        "device": "cuda:0",
        "training": {"step": 0, "steps": 0} if classical else {"step": trained, "steps": trained},
        "params": {} if classical else {"train": {"full": {"steps": full_steps}, "smoke": {"steps": 30}}},
        "metrics": metrics,
    }


def records(*items: dict) -> RecordSet:
    return RecordSet(records={item["experiment"]: item for item in items})


def verdict_of(claim, record_set):
    return verdict(assess(claim, record_set), claim_budgets(claim, record_set))


# zheng-* records: the full profile's steps are not the paper's number (records.NOT_PAPER_BUDGETS).
ZHENG_FULL = "at 100 % of the full profile's budget"


# ------------------------------------------------------------------ value claims


def test_value_claim_holds_and_does_not_hold_on_a_full_record():
    well_above = record("zheng-cc15", {"psnr": psnr({"a": 39.0, "b": 39.2, "c": 38.9})})
    assert verdict_of(value_claim(), records(well_above)).label == f"holds {ZHENG_FULL}"
    well_below = record("zheng-cc15", {"psnr": psnr({"a": 35.0, "b": 35.2, "c": 34.9})})
    assert verdict_of(value_claim(), records(well_below)).label == f"does not hold {ZHENG_FULL}"


def test_value_claim_on_the_bound_within_the_noise_is_a_tie():
    # Mean 37.8 against the bound 38.26 − 0.5 = 37.76: 0.04 dB from it, standard error ≈ 0.9.
    noisy = record("zheng-cc15", {"psnr": psnr({"a": 36.3, "b": 37.8, "c": 39.3})})
    assessment = assess(value_claim(), records(noisy))
    assert assessment.status.kind is StatusKind.TIE and verdict(assessment).kind is VerdictKind.TIE
    assert "standard error" in assessment.explanation


def test_fewer_than_three_images_never_decide():
    two = record("zheng-cc15", {"psnr": psnr({"a": 45.0, "b": 45.1})})
    assert verdict_of(value_claim(), records(two)).kind is VerdictKind.TIE


def test_value_without_a_recorded_spread_decides_as_it_stands():
    plain = record("zheng-cc15", {"psnr": {"value": 37.8, "unit": "dB"}})
    assert verdict_of(value_claim(), records(plain)).label == f"holds {ZHENG_FULL}"


def test_smoke_record_gives_no_verdict_whatever_the_numbers_say():
    smoke = record("zheng-cc15", {"psnr": psnr({"a": 39.0, "b": 39.2, "c": 38.9})}, profile="smoke")
    result = verdict_of(value_claim(), records(smoke))
    assert result.label == "no verdict: smoke run only"
    assert "say holds" in result.detail


def test_no_verdict_reasons():
    assert verdict_of(value_claim(), RecordSet()).label == "no verdict: not run"
    unmeasured = record("zheng-cc15", {"psnr": {"value": None, "not_measured": "no reference images"}})
    assert (
        verdict_of(value_claim(), records(unmeasured)).label == "no verdict: not measurable here: no reference images"
    )
    unreadable = RecordSet(errors={"zheng-cc15": "zheng-cc15.json: not JSON"})
    assert verdict_of(value_claim(), unreadable).label == "no verdict: metrics file unreadable"
    other_profile = record("zheng-cc15", {"psnr": psnr({"a": 39.0, "b": 39.2, "c": 38.9})}, profile="pilot")
    assert verdict_of(value_claim(), records(other_profile)).label.startswith("no verdict: not comparable")


# ------------------------------------------------------------------ comparisons


def test_paired_comparison_holds_when_the_difference_clears_the_noise():
    zheng = record("zheng-lol", {"psnr": psnr({"a": 30.0, "b": 31.0, "c": 29.0})})
    bm3d = record("bm3d-lol", {"psnr": psnr({"a": 29.0, "b": 30.1, "c": 27.9})})
    assessment = assess(comparison_claim(), records(zheng, bm3d))
    assert assessment.noise is not None and assessment.noise.paired
    assert verdict(assessment, claim_budgets(comparison_claim(), records(zheng, bm3d))).label == f"holds {ZHENG_FULL}"
    # Without the budgets a decided verdict still never reads as a plain "holds".
    assert verdict(assessment).label == "holds at an unknown budget"
    assert verdict_of(
        comparison_claim(), records(bm3d | {"experiment": "zheng-lol"}, zheng | {"experiment": "bm3d-lol"})
    ).label == (f"does not hold {ZHENG_FULL}")


def test_a_tiny_difference_over_two_images_is_a_tie_not_a_loss():
    """The committed case: zheng 32.71588 vs bm3d 32.71667 dB on 2 LOL images."""
    zheng = record("zheng-lol", {"psnr": psnr({"1": 33.70, "2": 31.73176})})
    bm3d = record("bm3d-lol", {"psnr": psnr({"1": 33.70, "2": 31.73334})})
    result = assess(comparison_claim(), records(zheng, bm3d))
    assert result.outcome == "tie" and verdict(result).kind is VerdictKind.TIE
    assert "too few" in result.explanation


def test_paired_difference_within_two_standard_errors_is_a_tie():
    zheng = record("zheng-lol", {"psnr": psnr({"a": 30.5, "b": 29.0, "c": 31.0, "d": 29.6})})
    bm3d = record("bm3d-lol", {"psnr": psnr({"a": 30.0, "b": 29.5, "c": 30.2, "d": 29.9})})
    assert verdict_of(comparison_claim(), records(zheng, bm3d)).kind is VerdictKind.TIE


# ------------------------------------------------------------------ not comparable as stated


def test_not_comparable_as_stated_shows_ours_but_no_verdict():
    claim = value_claim(not_comparable="the survey's number is on another scale")
    full = record("zheng-cc15", {"psnr": psnr({"a": 39.0, "b": 39.2, "c": 38.9})})
    assessment = assess(claim, records(full))
    assert assessment.status.kind is StatusKind.NOT_COMPARABLE_AS_STATED
    assert assessment.ours == pytest.approx(39.0333, abs=1e-3)
    assert verdict(assessment).label == "no verdict: not comparable as stated"
    assert verdict(assessment).detail == "the survey's number is on another scale"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"not_comparable": True}, "must be a non-empty reason"),
        ({"not_comparable": "  "}, "must be a non-empty reason"),
    ],
)
def test_not_comparable_must_be_a_reason(extra, message):
    with pytest.raises(ClaimsError, match=message):
        value_claim(**extra)


def test_not_comparable_needs_something_measured():
    raw = {"id": "x", **BASE, "metric": "fid", "not_measurable": "no data", "not_comparable": "other scale"}
    with pytest.raises(ClaimsError, match="needs something measured"):
        parse_claim(raw)


def test_registry_marks_uciqe_and_states_the_cvae_threshold_as_a_fraction():
    claims = {claim.id: claim for claim in load_claims(DEFAULT_CLAIMS_PATH)}
    assert "[0, 1]" in claims["enh-uwcvgan-uciqe"].not_comparable
    # UCIQE's scale, the face FIDs (no CelebA-HQ/FFHQ: CIFAR-10 shown instead) and VQ-VAE's
    # bits/dim on the lossy CIFAR-10 copy.
    assert {claim.id for claim in claims.values() if not claim.comparable} == {
        "enh-uwcvgan-uciqe",
        "gen-vqgan-fid-faces",
        "gen-vqvae2-fid-faces",
        "gen-vqvae-bits-per-dim-cifar10",
    }
    threshold = claims["q-cvae-controlled-generation"].compare.right
    assert threshold.value == 0.8 and "%" not in (threshold.label or "") and "0.80" in (threshold.label or "")


# ------------------------------------------------------------------ noise


def test_noise_estimates():
    entry = psnr({"a": 1.0, "b": 2.0, "c": 3.0})
    assert entry_noise(entry) == Noise(pytest.approx(1 / math.sqrt(3)), 3)
    # Population std 0.5 over 3 images → sample std 0.5·√(3/2), over √3.
    assert entry_noise({"value": 1.0, "std": 0.5, "images": 3}).standard_error == pytest.approx(0.5 / math.sqrt(2))
    assert entry_noise({"value": 1.0}) is None
    paired = difference_noise(psnr({"a": 2.0, "b": 3.0, "c": 4.0}), psnr({"a": 1.0, "b": 2.0, "c": 3.0}))
    assert paired is not None and paired.paired and paired.standard_error == 0.0
    assert separated(1.0, paired) and not separated(0.0, paired)
    assert not separated(5.0, Noise(0.1, 2))  # two images: never a win
    assert separated(0.3, Noise(0.1, 3)) and not separated(0.2, Noise(0.1, 3))
    assert difference_noise(entry, None) == entry_noise(entry)  # a published constant has no noise


def test_verdict_counts_group_the_reasons():
    full = record("zheng-cc15", {"psnr": psnr({"a": 39.0, "b": 39.2, "c": 38.9})})
    smoke = record("zheng-cc15", {"psnr": psnr({"a": 39.0, "b": 39.2, "c": 38.9})}, profile="smoke")
    verdicts = [
        verdict_of(value_claim(), records(full)),
        verdict_of(value_claim(), records(smoke)),
        verdict_of(value_claim(), records(smoke)),
        verdict_of(value_claim(), RecordSet()),
    ]
    kinds, reasons = verdict_counts(verdicts)
    assert kinds == {VerdictKind.HOLDS: 1, VerdictKind.NO_VERDICT: 3}
    assert reasons == {"smoke run only": 2, "not run": 1}


def test_scorecard_row_carries_units_count_profile_device_and_links():
    full = record("zheng-cc15", {"psnr": psnr({"a": 39.0, "b": 39.2, "c": 38.9})}, trained=1600)
    claim = value_claim()
    row = scorecard_rows([assess(claim, records(full))], records(full))[0]
    assert row.claimed.startswith("38.26 dB") and "±0.5" in row.claimed_note
    assert row.ours == "39.03 dB"
    assert row.ours_context == "1600 of 2000 full-profile steps (80 %) · 3 images · full · cuda:0"
    assert row.cards == ("zheng-cc15",) and row.lineages == ("zheng-cc15",)
    assert row.verdict.label == "holds at 80 % of the full profile's budget"


# ------------------------------------------------------------------ figures


@pytest.fixture(scope="module")
def fixture_page(tmp_path_factory) -> tuple[str, Path]:
    reports, repository = build_tree(tmp_path_factory.mktemp("verdict"))
    return render_html(build_report(reports, repository, dvc_executable=None)), reports


def test_every_image_links_to_its_file_lazily_with_its_size(fixture_page):
    page, reports = fixture_page
    images = re.findall(r'<a href="([^"]+)"[^>]*><img ([^>]*)></a>', page)
    assert len(images) == page.count("<img ") >= 4
    for href, attributes in images:
        source = re.search(r'src="([^"]+)"', attributes).group(1)
        assert source == href
        assert 'loading="lazy"' in attributes
        with Image.open(reports / source) as image:
            width, height = image.size
        assert f'width="{width}" height="{height}"' in attributes


def test_scorecard_comes_first_and_cards_are_collapsed(fixture_page):
    page, _ = fixture_page
    assert page.index('id="scorecard"') < page.index('id="claims"') < page.index('id="discrepancies"')
    assert '<details class="claim" id="claim-den-zheng-psnr-cc">' in page
    assert '<details class="experiment" id="exp-zheng-cc15">' in page and 'id="lineage-zheng-cc15"' in page
    assert 'href="#exp-zheng-cc15"' in page and 'href="#lineage-zheng-cc15"' in page
    assert page.count('class="verdict-cell"') == len(load_claims(DEFAULT_CLAIMS_PATH))
    assert "per_image:" not in page


def test_figure_layout_and_panel_captions():
    assert figure_layout("crops", 637, 304) == "native"
    assert figure_layout("training_curves", 1152, 234) == "wide"
    assert figure_layout("training_curves", 2304, 234) == "scroll"
    assert figure_layout("samples", 604, 552) == ""
    assert figure_layout("rate_distortion", 810, 306) == "wide"
    assert figure_layout("panels", 344, 348) == ""
    restoration = {"model": "zheng", "metrics": {"psnr": psnr({"x": 30.0}), "psnr_input": psnr({"x": 20.0})}}
    note = figure_note("panels", restoration)
    assert "input | zheng | reference" in note and "x 30 (input 20)" in note
    assert figure_note("samples", restoration) == ""
