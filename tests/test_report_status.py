"""The status rules of src/vaerepro/report/status.py and the claims registry's validation."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from vaerepro.report.claims import DEFAULT_CLAIMS_PATH, ClaimsError, load_claims, parse_claim
from vaerepro.report.records import RecordSet
from vaerepro.report.status import StatusKind, assess, variant_class, within_tolerance

BASE = {"section": "3.2", "statement": "s", "model": "m", "dataset": "d", "unit": "dB", "cites": "[8]"}


def value_claim(metric: str = "psnr", survey_value: float = 38.26, tolerance: dict | None = None, **extra):
    raw = {
        "id": "c",
        **BASE,
        "metric": metric,
        "survey_value": survey_value,
        "measure": {"experiment": "zheng-cc15", "metric": metric},
        "tolerance": tolerance or {"absolute": 0.5},
    }
    return parse_claim({**raw, **extra})


def record(metrics: dict, profile: str = "full", variant: str = "official", **extra) -> dict:
    return {"experiment": "zheng-cc15", "profile": profile, "data_variant": variant, "metrics": metrics, **extra}


def records(**by_name) -> RecordSet:
    return RecordSet(records=dict(by_name))


def kind(claim, record_set) -> StatusKind:
    return assess(claim, record_set).status.kind


@pytest.mark.parametrize(
    ("ours", "expected"),
    [(38.0, StatusKind.REPRODUCED), (37.7, StatusKind.NOT_REPRODUCED), (40.0, StatusKind.REPRODUCED)],
)
def test_higher_is_better_within_tolerance_or_beating_it(ours, expected):
    assert kind(value_claim(), records(**{"zheng-cc15": record({"psnr": {"value": ours}})})) is expected


@pytest.mark.parametrize(
    ("ours", "expected"), [(4.0, StatusKind.REPRODUCED), (5.6, StatusKind.REPRODUCED), (5.7, StatusKind.NOT_REPRODUCED)]
)
def test_lower_is_better_relative_tolerance_beating_the_claim_reproduces(ours, expected):
    claim = value_claim("fid", 4.9, {"relative": 0.15})
    assert kind(claim, records(**{"zheng-cc15": record({"fid": {"value": ours}})})) is expected


def test_equal_direction_fails_on_both_sides():
    claim = value_claim("compression_factor", 3, {"absolute": 0.01}, direction="equal")
    for ours, expected in (
        (3.0, StatusKind.REPRODUCED),
        (2.5, StatusKind.NOT_REPRODUCED),
        (3.5, StatusKind.NOT_REPRODUCED),
    ):
        assert kind(claim, records(**{"zheng-cc15": record({"compression_factor": {"value": ours}})})) is expected


def test_within_tolerance_boundaries():
    assert within_tolerance(10.5, 10, 0.5, "lower_is_better")
    assert not within_tolerance(10.51, 10, 0.5, "lower_is_better")
    assert within_tolerance(9.5, 10, 0.5, "higher_is_better")
    assert not within_tolerance(9.4, 10, 0.5, "equal")


def test_no_metrics_file_is_not_run_and_malformed_is_unreadable():
    assert kind(value_claim(), RecordSet()) is StatusKind.NOT_RUN
    broken = RecordSet(errors={"zheng-cc15": "reports/metrics/zheng-cc15.json: not a readable JSON file"})
    status = assess(value_claim(), broken).status
    assert status.kind is StatusKind.UNREADABLE and "zheng-cc15.json" in status.reason


def test_not_measured_and_missing_metric_give_the_reason():
    status = assess(
        value_claim(), records(**{"zheng-cc15": record({"psnr": {"value": None, "not_measured": "no weights"}})})
    ).status
    assert status.kind is StatusKind.NOT_MEASURABLE and status.label == "not measurable here: no weights"
    status = assess(value_claim(), records(**{"zheng-cc15": record({})})).status
    assert status.kind is StatusKind.NOT_MEASURABLE and "recorded no 'psnr'" in status.reason


def test_registry_not_measurable_wins():
    claim = parse_claim(
        {"id": "x", **BASE, "metric": "bits_per_dim", "survey_value": 3.8, "not_measurable": "no ImageNet-32"}
    )
    assert assess(claim, RecordSet()).status.label == "not measurable here: no ImageNet-32"


def test_smoke_is_never_reproduced():
    for ours in (38.26, 10.0):
        status = assess(
            value_claim(), records(**{"zheng-cc15": record({"psnr": {"value": ours}}, profile="smoke")})
        ).status
        assert status.kind is StatusKind.SMOKE and status.label == "smoke run only (not a reproduction)"


def test_unknown_profile_is_not_comparable():
    status = assess(value_claim(), records(**{"zheng-cc15": record({"psnr": {"value": 38.3}}, profile="debug")})).status
    assert status.kind is StatusKind.NOT_COMPARABLE


def test_variants_lossy_not_comparable_subset_partial():
    lossy = records(**{"zheng-cc15": record({"psnr": {"value": 38.3}}, variant="lossy-jpeg-q75")})
    assert assess(value_claim(), lossy).status.label == "not comparable: lossy-jpeg-q75"
    subset_hit = records(**{"zheng-cc15": record({"psnr": {"value": 38.3}}, variant="subset-our485-200-of-485")})
    assert kind(value_claim(), subset_hit) is StatusKind.PARTIAL
    subset_miss = records(**{"zheng-cc15": record({"psnr": {"value": 30.0}}, variant="subset-our485-200-of-485")})
    assert kind(value_claim(), subset_miss) is StatusKind.NOT_COMPARABLE


def test_variant_classes():
    assert variant_class("official") == "comparable"
    assert variant_class("official+resized-from-1024x1024-lanczos") == "comparable"
    assert variant_class("subset-27000-of-30000+resized-from-1024x1024-lanczos") == "subset"
    assert variant_class("lossy-jpeg-q75") == "not comparable"
    assert variant_class("funiegan-test-23-pairs") == "not comparable"
    assert variant_class("") == "not comparable"


def test_reference_paper_judges_against_the_papers_number():
    claim = value_claim("fid", 4.9, {"relative": 0.15}, paper_value=10.2, reference="paper", discrepancy="misquote")
    result = assess(claim, records(**{"zheng-cc15": record({"fid": {"value": 11.0}})}))
    assert result.status.kind is StatusKind.REPRODUCED and result.reference == 10.2 and claim.flagged
    assert result.delta == pytest.approx(0.8)


def test_detail_and_provenance_quantities():
    claim = value_claim(
        "kl_latent_vs_image",
        0.3821,
        {"relative": 0.25},
        direction="equal",
        measure={"experiment": "zheng-cc15", "metric": "kl_latent_vs_image", "detail": "latent"},
    )
    kl = {"kl_latent_vs_image": {"value": 0.9, "latent": 0.40, "image": 0.47}}
    assert assess(claim, records(**{"zheng-cc15": record(kl)})).ours == 0.40
    params = value_claim("parameter_count", 39e6, {"relative": 0.1}, direction="equal")
    result = assess(params, records(**{"zheng-cc15": record({}, parameter_count=39_500_000)}))
    assert result.status.kind is StatusKind.REPRODUCED


def comparison(right: dict, relation: str = "less_than"):
    return parse_claim(
        {
            "id": "q",
            **BASE,
            "metric": "sharpness_samples",
            "survey_value": None,
            "compare": {"left": {"experiment": "a-mnist", "metric": "m"}, "relation": relation, "right": right},
        }
    )


def test_comparison_of_own_experiments_is_valid_on_a_shared_lossy_variant():
    claim = comparison({"experiment": "b-mnist", "metric": "m"})
    both = records(
        **{
            "a-mnist": record({"m": {"value": 1.0}}, variant="lossy-jpeg-q75"),
            "b-mnist": record({"m": {"value": 2.0}}, variant="lossy-jpeg-q75"),
        }
    )
    assert kind(claim, both) is StatusKind.REPRODUCED
    reversed_claim = comparison({"experiment": "b-mnist", "metric": "m"}, relation="greater_than")
    assert kind(reversed_claim, both) is StatusKind.NOT_REPRODUCED
    assert kind(claim, records(**{"a-mnist": record({"m": {"value": 1.0}})})) is StatusKind.NOT_RUN


def test_comparison_with_a_published_constant_needs_comparable_data():
    claim = comparison({"value": 2.92, "label": "PixelCNN++"})
    assert kind(claim, records(**{"a-mnist": record({"m": {"value": 2.5}})})) is StatusKind.REPRODUCED
    assert (
        kind(claim, records(**{"a-mnist": record({"m": {"value": 2.5}}, variant="lossy-jpeg-q75")}))
        is StatusKind.NOT_COMPARABLE
    )
    assert kind(claim, records(**{"a-mnist": record({"m": {"value": 2.5}}, profile="smoke")})) is StatusKind.SMOKE


def test_repository_registry_loads_and_covers_the_survey():
    claims = load_claims(DEFAULT_CLAIMS_PATH)
    by_id = {claim.id: claim for claim in claims}
    survey_numbers = {
        4.9,
        10,
        10.7,
        2.87,
        3.80,
        3.52,
        0.61,
        2.42,
        38.26,
        0.9606,
        0.3821,
        0.4701,
        6.47,
        2.91,
        29.11,
        4.39,
        19.16,
        0.8373,
        19.06,
        3,
        39e6,
        53e6,
    }
    assert survey_numbers <= {claim.survey_value for claim in claims}
    vqgan = by_id["gen-vqgan-fid-faces"]
    assert (vqgan.survey_value, vqgan.paper_value, vqgan.flagged, vqgan.reference_value) == (4.9, 10.2, True, 10.2)
    for qualitative in (
        "q-blurry-samples",
        "q-reconstruction-vs-regularisation",
        "den-latent-closer-to-awgn",
        "enh-uwcvgan-compression-factor",
    ):
        assert by_id[qualitative].kind in ("comparison", "value")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.append(copy.deepcopy(c[0])), "duplicate claim id"),
        (lambda c: c[1].update(tolerance={"percent": 5}), "tolerance must be"),
        (lambda c: c[1].update(colour="red"), "unknown field"),
        (lambda c: c[1].pop("tolerance"), "needs a tolerance"),
        (lambda c: c[1].update(direction="sideways"), "direction must be"),
    ],
)
def test_registry_errors_name_the_claim(tmp_path: Path, change, message):
    data = yaml.safe_load(DEFAULT_CLAIMS_PATH.read_text())
    change(data["claims"])
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ClaimsError, match=message):
        load_claims(path)


def test_fid_below_ten_thousand_samples_is_never_held_against_a_published_fid():
    claim = value_claim("fid", 12.6, {"absolute": 1.5})
    small = record({"fid": {"value": 11.0, "unit": "FID@200", "num_samples": 200}})
    status = assess(claim, records(**{"zheng-cc15": small})).status
    assert status.kind is StatusKind.NOT_COMPARABLE and "N = 200" in status.reason
    full = record({"fid": {"value": 11.0, "unit": "FID@10000", "num_samples": 10000}})
    assert kind(claim, records(**{"zheng-cc15": full})) is StatusKind.REPRODUCED
    smoke = record({"fid": {"value": 11.0, "unit": "FID@200", "num_samples": 200}}, profile="smoke")
    assert kind(claim, records(**{"zheng-cc15": smoke})) is StatusKind.SMOKE  # smoke says so first


def test_fid_claims_of_the_two_stage_vae_read_fid_and_keep_the_classifier_measure():
    claims = {claim.id: claim for claim in load_claims(DEFAULT_CLAIMS_PATH)}
    samples = claims["intro-two-stage-samples"]
    assert (samples.compare.left.metric, samples.compare.right.metric) == ("fid", "fid_first_stage")
    assert claims["intro-two-stage-samples-classifier"].compare.left.metric == "classifier_frechet_distance"
    numeric = claims["intro-two-stage-fid-mnist"]
    assert (
        numeric.reference_value == 12.6 and numeric.tolerance.absolute == 1.5 and numeric.direction == "lower_is_better"
    )
    two_stage = {
        "experiment": "two_stage-mnist",
        "profile": "full",
        "data_variant": "official",
        "metrics": {
            "fid": {"value": 20.0, "unit": "FID@200", "num_samples": 200},
            "fid_first_stage": {"value": 30.0, "unit": "FID@200", "num_samples": 200},
        },
    }
    # Our own two samplers at one N are comparable with each other, whatever N is.
    assert assess(samples, records(**{"two_stage-mnist": two_stage})).status.kind is StatusKind.REPRODUCED
    assert assess(numeric, records(**{"two_stage-mnist": two_stage})).status.kind is StatusKind.NOT_COMPARABLE


def test_registry_values_checked_against_the_primary_sources():
    """The values re-checked against the papers (and the authors' code) stay as checked."""
    claims = {claim.id: claim for claim in load_claims(DEFAULT_CLAIMS_PATH)}
    vdvae = [claim for claim in claims.values() if claim.model == "VDVAE" and claim.metric == "bits_per_dim"]
    assert len(vdvae) >= 6 and all(claim.unit.startswith("bits/dim") for claim in vdvae)
    # The published numbers are ELBO bounds, not exact NLLs; the report must say so beside each value claim.
    assert all("ELBO" in claim.unit for claim in vdvae if claim.compare is None)
    expected_vdvae = {
        "gen-vdvae-nll-cifar10": 2.87,
        "gen-vdvae-nll-imagenet32": 3.80,
        "gen-vdvae-nll-imagenet64": 3.52,
        "gen-vdvae-nll-ffhq256": 0.61,
        "gen-vdvae-nll-ffhq1024": 2.42,
    }
    assert {claim_id: claims[claim_id].paper_value for claim_id in expected_vdvae} == expected_vdvae
    cifar = claims["gen-vdvae-nll-cifar10"]
    assert cifar.verified_against_paper and "four seeds" in cifar.paper_value_source
    assert "5-bit" in claims["gen-vdvae-nll-ffhq256"].unit
    parameters = claims["intro-vdvae-params"]
    assert parameters.paper_value == 39e6 and "39.15M" in parameters.paper_value_source
    assert "estimate" in claims["intro-pixelcnnpp-params"].paper_value_source
    gated = claims["gen-vdvae-beats-gated-pixelcnn"]
    assert gated.paper_value == 3.03 and "PixelCNN++ paper" in gated.paper_value_source
    assert "PixelSNAIL (2.85)" in gated.discrepancy and "Sparse Transformer (2.80)" in gated.discrepancy

    faces, imagenet = claims["gen-vqgan-fid-faces"], claims["gen-vqgan-imagenet-reconstruction-fid"]
    assert (faces.paper_value, imagenet.paper_value) == (10.2, 4.98)
    assert faces.discrepancy.startswith("Labels swapped") and imagenet.discrepancy.startswith("Labels swapped")
    assert "9.6" in faces.paper_value_source and "11.4" in faces.paper_value_source
    vqvae2 = claims["gen-vqvae2-fid-faces"]
    assert vqvae2.paper_value is None and vqvae2.verified_against_paper and vqvae2.reference_value == 10
    assert "~31" in vqvae2.discrepancy

    assert claims["intro-two-stage-fid-mnist"].paper_value == 12.6
    reconstruction = claims["intro-two-stage-mnist"]
    assert reconstruction.paper_value is None and "Fig. 1a" in reconstruction.discrepancy
    for claim_id in ("den-zheng-psnr-cc", "den-zheng-ssim-cc"):
        assert "oracle" in claims[claim_id].discrepancy
    assert claims["enh-uwcvgan-compression-factor"].paper_value == 3
    assert {claim.id for claim in claims.values() if claim.verified_against_paper} >= {
        "gen-vqgan-fid-faces",
        "gen-vqgan-imagenet-reconstruction-fid",
        "gen-vqvae2-fid-faces",
        "gen-vdvae-nll-cifar10",
        "intro-two-stage-fid-mnist",
        "enh-uwcvgan-compression-factor",
    }


def test_a_claim_on_supplied_data_is_judged_on_it_once_its_record_exists():
    """The face-FID claims: the CIFAR-10 stand-in, not comparable as stated, until a record of the
    CelebA-HQ experiment exists; then that record is judged as the claim states it."""
    claim = value_claim(
        "fid",
        10.2,
        {"relative": 0.15},
        measure={"experiment": "vqgan-cifar10", "metric": "fid"},
        measure_on_supplied_data={"experiment": "vqgan-celeba_hq", "metric": "fid"},
        not_comparable="no CelebA-HQ here",
    )
    assert set(claim.experiments) == {"vqgan-cifar10", "vqgan-celeba_hq"}
    stand_in = record({"fid": {"value": 60.0, "num_samples": 10000}}, experiment="vqgan-cifar10")
    assessment = assess(claim, records(**{"vqgan-cifar10": stand_in}))
    assert assessment.status.kind is StatusKind.NOT_COMPARABLE_AS_STATED and assessment.ours == 60.0
    faces = record({"fid": {"value": 11.0, "num_samples": 10000}}, experiment="vqgan-celeba_hq")
    assessment = assess(claim, records(**{"vqgan-cifar10": stand_in, "vqgan-celeba_hq": faces}))
    assert assessment.status.kind is StatusKind.REPRODUCED and assessment.ours == 11.0
    faces["metrics"]["fid"]["value"] = 30.0
    assert kind(claim, records(**{"vqgan-celeba_hq": faces})) is StatusKind.NOT_REPRODUCED
    with pytest.raises(ClaimsError, match="measure_on_supplied_data"):
        parse_claim(
            {
                "id": "c",
                **BASE,
                "metric": "fid",
                "survey_value": 1,
                "compare": {
                    "left": {"experiment": "a", "metric": "fid"},
                    "relation": "less_than",
                    "right": {"value": 1},
                },
                "measure_on_supplied_data": {"experiment": "b", "metric": "fid"},
            }
        )


def test_an_architecture_property_is_judged_at_any_profile():
    """VDVAE's parameter count of the full profile's model needs no training: a smoke record's
    entry marked independent_of_training gets a verdict; an ordinary smoke metric never does."""
    claim = value_claim(
        "parameter_count_full_profile",
        39_000_000,
        {"relative": 0.10},
        measure={"experiment": "vdvae-cifar10", "metric": "parameter_count_full_profile"},
        direction="equal",
    )
    entry = {"value": 39_145_700.0, "unit": "parameters", "independent_of_training": True}
    smoke = record({"parameter_count_full_profile": entry}, profile="smoke", variant="lossy-jpeg")
    assessment = assess(claim, records(**{"vdvae-cifar10": smoke}))
    assert assessment.status.kind is StatusKind.REPRODUCED and "without training" in assessment.explanation
    from vaerepro.report.verdict import verdict

    assert (
        verdict(assessment, [{"fraction": 0.00005}]).label
        == "holds for the full profile's model, counted without training"
    )
    entry["value"] = 53_000_000.0
    assert kind(claim, records(**{"vdvae-cifar10": smoke})) is StatusKind.NOT_REPRODUCED
    del entry["independent_of_training"]
    assert kind(claim, records(**{"vdvae-cifar10": smoke})) is StatusKind.SMOKE
