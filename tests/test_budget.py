"""Budget on every number (issue 15, item 1): the records' ``budget`` block, the report's
derivation of it for records written before the field, and the words it puts beside our
numbers and into the verdicts.

The writer's side (evaluate@'s body writes the block) is tested on a tiny restoration
experiment in tests/test_restoration_pipeline.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.report_fixtures.tree import build_tree
from vaerepro.records import (
    SCHEMA_VERSION,
    MalformedMetrics,
    MetricsRecord,
    check_budget,
    evaluation_n,
    read_record,
    training_budget,
    write_record,
)
from vaerepro.report.budget import budget_phrase, budget_text, percent, record_budget
from vaerepro.report.build import build_report
from vaerepro.report.claims import parse_claim
from vaerepro.report.headline import headline_row
from vaerepro.report.records import RecordSet, load_records
from vaerepro.report.render_html import render_html
from vaerepro.report.render_markdown import render_markdown
from vaerepro.report.scorecard import claim_budgets, scorecard_rows
from vaerepro.report.status import assess
from vaerepro.report.verdict import VerdictKind, verdict

REPOSITORY = Path(__file__).resolve().parents[1]
BASE = {"section": "3.2", "statement": "s", "model": "m", "dataset": "d", "unit": "dB", "cites": "[8]"}


def psnr_entry(*values: float) -> dict:
    per_image = {str(index): value for index, value in enumerate(values)}
    return {"value": sum(values) / len(values), "unit": "dB", "images": len(values), "per_image": per_image}


def record(name: str, *, trained: int, full_steps: int = 100_000, profile: str = "full", classical: bool = False):
    """A record as the committed (schema 2) ones are: training summary and params, no budget block."""
    return {
        "experiment": name,
        "model": name.split("-")[0].split("_")[0],
        "profile": profile,
        "data_variant": "official",
        "device": "cuda:0" if profile == "full" else "cpu",
        "training": {"step": 0, "steps": 0} if classical else {"step": trained, "steps": trained},
        "params": {} if classical else {"train": {"smoke": {"steps": 2500}, "full": {"steps": full_steps}}},
        "metrics": {"psnr": psnr_entry(30.0, 30.2, 29.9, 30.1)},
    }


def value_claim():
    return parse_claim(
        {
            "id": "value",
            **BASE,
            "metric": "psnr",
            "survey_value": 30.0,
            "measure": {"experiment": "divnoising-cc15", "metric": "psnr"},
            "tolerance": {"absolute": 0.5},
        }
    )


def comparison_claim():
    return parse_claim(
        {
            "id": "comparison",
            **BASE,
            "metric": "psnr",
            "survey_value": None,
            "compare": {
                "left": {"experiment": "divnoising-cc15", "metric": "psnr"},
                "relation": "greater_than",
                "right": {"experiment": "bm3d-cc15", "metric": "psnr"},
            },
        }
    )


def label(claim, *records: dict) -> str:
    record_set = RecordSet(records={item["experiment"]: item for item in records})
    return verdict(assess(claim, record_set), claim_budgets(claim, record_set)).label


# ------------------------------------------------------------------ the block


def test_evaluation_n_prefers_the_main_evaluation_set():
    assert evaluation_n({"fid": {"num_samples": 200}, "negative_elbo": {"test_count": 500}}) == (
        500,
        "negative_elbo.test_count",
    )
    assert evaluation_n({"psnr": {"images": 15}, "seconds_per_image": {"images": 15}}) == (15, "psnr.images")
    assert evaluation_n({"test_accuracy": {"count": 10000}}) == (10000, "test_accuracy.count")
    assert evaluation_n({"uciqe": {"images": 23}, "sharpness": {"count": 5}}) == (23, "uciqe.images")
    assert evaluation_n({"kl": {"value": 1.0}}) == (None, None)


def test_training_budget_per_kind():
    trained = training_budget(
        params_key="experiments.vae-mnist",
        model="vae",
        params={"train": {"smoke": {"steps": 300}, "full": {"steps": 150000}}},
        training={"step": 300, "steps": 300},
        metrics={"negative_elbo": {"value": 1.0, "test_count": 500}},
        trainable=True,
    )
    assert trained == {
        "unit": "steps",
        "trained": 300,
        "paper": 150000,
        "fraction": 0.002,
        "paper_stated": True,
        "paper_source": "params.yaml experiments.vae-mnist.train.full.steps (the full profile runs the paper's budget)",
        "evaluation_n": 500,
        "evaluation_n_source": "negative_elbo.test_count",
    }
    classical = training_budget(
        params_key="experiments.bm3d-cc15",
        model="bm3d",
        params={},
        training={"step": 0, "steps": 0},
        metrics={"psnr": {"value": 1.0, "images": 15}},
        trainable=False,
    )
    assert classical == {
        "unit": "none",
        "note": "no training: classical method",
        "evaluation_n": 15,
        "evaluation_n_source": "psnr.images",
    }
    # Zheng et al. train per test image; the amortised full profile is not the paper's number.
    zheng = training_budget(
        params_key="experiments.zheng-cc15",
        model="zheng",
        params={"train": {"full": {"steps": 2000}}},
        training={"step": 250},
        metrics={},
        trainable=True,
    )
    assert zheng["fraction"] == 0.125 and zheng["paper_stated"] is False
    assert "per test image" in zheng["paper_source"] and zheng["evaluation_n"] is None
    unknown = training_budget(
        params_key="experiments.x", model="vae", params={"train": {"smoke": {"steps": 3}}}, training={}, metrics={},
        trainable=True,
    )  # fmt: skip
    assert unknown["unit"] == "unknown" and "training summary's step" in unknown["note"]


def test_the_fraction_counts_examples_when_the_batch_sizes_differ():
    """4,000 steps at batch 64 against 150,000 at 128: 256,000 / 19,200,000 images = 1.33 %."""
    budget = training_budget(
        params_key="experiments.vae-mnist",
        model="vae",
        params={"train": {"cpu": {"steps": 4000, "batch_size": 64}, "full": {"steps": 150000, "batch_size": 128}}},
        training={"step": 4000},
        metrics={},
        trainable=True,
        batch_size=64,
    )
    assert budget["fraction"] == pytest.approx(256_000 / 19_200_000)
    assert budget["step_fraction"] == pytest.approx(4000 / 150000)
    assert (budget["batch_size"], budget["paper_batch_size"]) == (64, 128)
    assert check_budget(budget) is None
    assert budget_text(budget) == "4000 of 150,000 steps, batch 64 of 128 (1.3 %)"
    # A record without the block (schema 2) gets the same one from its params and profile.
    record = {"experiment": "vae-mnist", "model": "vae", "profile": "cpu", "training": {"step": 4000, "steps": 4000}}
    record |= {
        "params": {"train": {"cpu": {"steps": 4000, "batch_size": 64}, "full": {"steps": 150000, "batch_size": 128}}}
    }
    assert record_budget(record)["fraction"] == budget["fraction"]


def test_a_record_is_written_with_its_budget_and_older_records_are_still_read(tmp_path):
    provenance = {key: None for key in ("experiment", "model", "dataset", "task", "data_variant", "dataset_sha256")}
    provenance |= {"experiment": "x", "profile": "smoke", "device": "cpu", "seed": 1, "git_revision": "abc"}
    provenance |= {"wall_time_seconds": {}, "parameter_count": 1, "environment": {}, "params": {}}
    with pytest.raises(ValueError, match="has no budget"):
        write_record(tmp_path / "x.json", MetricsRecord(provenance, {}))
    budget = {"unit": "none", "note": "no training: classical method", "evaluation_n": 2}
    write_record(tmp_path / "x.json", MetricsRecord(provenance, {}, budget=budget))
    assert read_record(tmp_path / "x.json")["budget"] == budget
    document = json.loads((tmp_path / "x.json").read_text())
    assert document["schema_version"] == SCHEMA_VERSION == 3
    # Version 2, written before the field: read without it.
    (tmp_path / "old.json").write_text(
        json.dumps({k: v for k, v in document.items() if k != "budget"} | {"schema_version": 2})
    )
    assert "budget" not in read_record(tmp_path / "old.json")
    # Version 3 must state it, in the schema's shape.
    (tmp_path / "missing.json").write_text(json.dumps({k: v for k, v in document.items() if k != "budget"}))
    with pytest.raises(MalformedMetrics, match="missing key.*budget"):
        read_record(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text(json.dumps(document | {"budget": {"unit": "steps", "trained": 3}}))
    with pytest.raises(MalformedMetrics, match="budget paper"):
        read_record(tmp_path / "bad.json")


def test_every_committed_record_has_a_budget():
    """Records written since the field exists carry it; an older one gets it derived from its
    training block and params (both paths are tested above): every committed record has one."""
    records = load_records(REPOSITORY / "reports" / "metrics")
    assert records.records and not records.errors
    for name, item in records.records.items():
        budget = record_budget(item)
        assert budget["unit"] in ("steps", "none"), name
        assert isinstance(budget["evaluation_n"], int), name
    vae = record_budget(records.records["vae-mnist"])
    if records.records["vae-mnist"]["profile"] == "smoke":
        # Smoke's batch of 64 against the paper's 128: half the examples of the step fraction.
        assert budget_text(vae) == "300 of 150,000 steps, batch 64 of 128 (0.1 %)"
    assert record_budget(records.records["bm3d-cc15"])["unit"] == "none"


# ------------------------------------------------------------------ words


@pytest.mark.parametrize(
    ("fraction", "text"),
    [(1.0, "100 %"), (0.08, "8 %"), (0.002, "0.2 %"), (0.125, "12 %"), (0.9999, "99 %"), (0.025, "2.5 %"),
     (0.29, "29 %"), (1 / 30, "3.3 %"), (1.5, "150 %"), (0.0, "0 %")],
)  # fmt: skip
def test_percent_rounds_down(fraction, text):
    assert percent(fraction) == text


def test_verdict_says_at_what_budget_it_holds():
    assert label(value_claim(), record("divnoising-cc15", trained=100_000)) == "holds at 100 % of the paper's budget"
    assert label(value_claim(), record("divnoising-cc15", trained=8_000)) == "holds at 8 % of the paper's budget"
    below = record("divnoising-cc15", trained=8_000)
    below["metrics"]["psnr"] = psnr_entry(25.0, 25.2, 24.9, 25.1)
    assert label(value_claim(), below) == "does not hold at 8 % of the paper's budget"
    smoke = record("divnoising-cc15", trained=2500, profile="smoke")
    assert label(value_claim(), smoke) == "no verdict: smoke run only"
    # A comparison is as strong as its least-trained side; a classical side has no budget.
    bm3d = record("bm3d-cc15", trained=0, classical=True)
    bm3d["metrics"]["psnr"] = psnr_entry(28.0, 28.1, 27.9, 28.0)
    assert label(comparison_claim(), record("divnoising-cc15", trained=8_000), bm3d) == (
        "holds at 8 % of the paper's budget"
    )
    assert budget_phrase([record_budget(bm3d)]) == "with no training (classical method)"
    assert budget_phrase([]) == "at an unknown budget"


def test_scorecard_shows_steps_of_the_paper_n_profile_and_device():
    smoke = record("divnoising-cc15", trained=300, full_steps=150_000, profile="smoke")
    smoke["metrics"]["psnr"].pop("images")  # a metric without its own count shows the evaluation N
    smoke["metrics"]["seconds_per_image"] = {"value": 1.0, "images": 500}
    record_set = RecordSet(records={"divnoising-cc15": smoke})
    row = scorecard_rows([assess(value_claim(), record_set)], record_set)[0]
    assert row.ours_context == "300 of 150,000 steps (0.2 %) · N 500 · smoke · cpu"
    assert row.verdict.label == "no verdict: smoke run only"


def test_headline_row_gains_the_budget_fraction():
    row = headline_row(record("divnoising-cc15", trained=8_000) | {"task": "denoising"})
    assert row["budget_fraction"] == 0.08 and row["steps"] == 8000 and row["n"] == 4
    assert "budget_fraction" not in headline_row(record("bm3d-cc15", trained=0, classical=True) | {"task": "denoising"})


def test_no_decided_status_or_verdict_is_rendered_without_its_budget(tmp_path):
    """The fixture tree's full-profile records predate the field and state no training: their
    decided claims read "... at an unknown budget", never a bare "reproduced" or "holds"."""
    reports, repository = build_tree(tmp_path)
    report = build_report(reports, repository, dvc_executable=None)
    decided = [row for row in report.scorecard if row.verdict.kind is not VerdictKind.NO_VERDICT]
    assert decided and all(row.verdict.budget == "at an unknown budget" for row in decided)
    markdown = render_markdown(report)
    for status in ("reproduced", "not reproduced", "tie"):
        assert f"| {status} |" not in markdown
    assert "| reproduced at an unknown budget |" in markdown
    assert "**holds** at an unknown budget" in markdown
    assert '<span class="why">at an unknown budget</span>' in render_html(report)
