"""Restoration methods side by side (src/vaerepro/report/restoration_tables.py) and its rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaerepro.records import MetricsRecord, measured, not_measured, write_record
from vaerepro.report.build import build_report
from vaerepro.report.formatting import entry_details
from vaerepro.report.metric_catalog import metric_name
from vaerepro.report.render_html import _restoration_group, render_html
from vaerepro.report.render_markdown import render_markdown
from vaerepro.report.restoration_tables import (
    INPUT_LABEL,
    REFERENCE_LABEL,
    RestorationGroup,
    Table,
    restoration_groups,
)

JPEG90 = "lol/test: inputs + JPEG quality 90 (pillow libjpeg baseline)"
JPEG30 = "lol/test: inputs + JPEG quality 30 (pillow libjpeg baseline)"
PLAIN = "lol/test: inputs"
EUVP = "euvp/test: inputs"
NAMES = ("1.png", "22.png", "79.png")


def entry(value: float, test_set: str, *, unit: str = "dB", std: float = 0.5, images: int = 3) -> dict:
    per_image = {name: value for name in NAMES[:images]}
    return measured(
        value,
        unit,
        "test convention",
        std=std,
        images=images,
        failed=[],
        test_set=test_set,
        per_image=per_image,
    )


def restoration_record(
    experiment: str,
    outputs: dict[str, float],
    inputs: dict[str, float],
    *,
    test_set: str = PLAIN,
    images: int = 3,
    profile: str = "full",
    parameters: int = 0,
    seconds: float = 0.1,
    stress: dict[str, tuple[str, dict[str, float], dict[str, float]]] | None = None,
    references: dict[str, float] | None = None,
    extras: dict | None = None,
) -> dict:
    """A record as evaluate@ writes it for a restoration experiment (schema of record.py)."""
    model, dataset = experiment.rsplit("-", 1)
    metrics: dict = {}
    for key, value in outputs.items():
        metrics[key] = entry(value, test_set, images=images, unit="SSIM" if "ssim" in key else "dB")
        metrics[f"{key}_input"] = entry(inputs[key], test_set, images=images, unit="SSIM" if "ssim" in key else "dB")
    for key, value in (references or {}).items():
        metrics[f"{key}_reference"] = measured(value, key.upper(), "c", std=0.1, images=images, test_set=test_set)
    metrics["seconds_per_image"] = measured(seconds, "s", "wall time", images=images)
    for tag, (stress_set, stress_outputs, stress_inputs) in (stress or {}).items():
        for key, value in stress_outputs.items():
            metrics[f"{key}@{tag}"] = entry(value, stress_set, images=images)
            metrics[f"{key}_input@{tag}"] = entry(stress_inputs[key], stress_set, images=images)
    metrics.update(extras or {})
    return MetricsRecord(
        provenance={
            "experiment": experiment,
            "model": model,
            "dataset": dataset,
            "task": "denoising" if dataset == "cc15" else "enhancement",
            "data_variant": "subset-our485-200-of-485",
            "dataset_sha256": "0" * 64,
            "profile": profile,
            "device": "cpu",
            "seed": 1,
            "git_revision": "abc",
            "wall_time_seconds": {"train": 0.0, "evaluate": 1.0},
            "parameter_count": parameters,
            "environment": {"python": "3.11"},
            "params": {
                "model": model,
                "dataset": dataset,
                "restoration": {"metrics": sorted(outputs)},
            },
        },
        metrics=metrics,
        budget={"unit": "unknown", "note": "a test fixture: no training summary", "evaluation_n": images},
    ).to_json()


def jpeg_records() -> dict[str, dict]:
    stress_input = {"psnr": 7.0, "ssim_rgb": 0.18}
    return {
        "clahe_jpeg90-lol": restoration_record(
            "clahe_jpeg90-lol",
            {"psnr": 12.79, "ssim_rgb": 0.50},
            {"psnr": 7.77, "ssim_rgb": 0.19},
            test_set=JPEG90,
            seconds=0.17,
            stress={"jpeg30": (JPEG30, {"psnr": 13.1, "ssim_rgb": 0.48}, stress_input)},
        ),
        "gamma_jpeg90-lol": restoration_record(
            "gamma_jpeg90-lol",
            {"psnr": 12.15, "ssim_rgb": 0.53},
            {"psnr": 7.77, "ssim_rgb": 0.19},
            test_set=JPEG90,
            seconds=0.01,
            stress={"jpeg30": (JPEG30, {"psnr": 12.5, "ssim_rgb": 0.50}, stress_input)},
        ),
        "mlsm-lol": restoration_record(
            "mlsm-lol",
            {"psnr": 19.35, "ssim_rgb": 0.51},
            {"psnr": 7.77, "ssim_rgb": 0.19},
            test_set=JPEG90,
            parameters=5_400_000,
            seconds=0.9,
            stress={"jpeg30": (JPEG30, {"psnr": 17.0, "ssim_rgb": 0.55}, stress_input)},
            extras={"compression_factor": measured(3.0, "ratio", "elements")},
        ),
        "clahe-lol": restoration_record("clahe-lol", {"psnr": 14.0, "ssim_rgb": 0.6}, {"psnr": 7.77, "ssim_rgb": 0.2}),
        "vae-mnist": {
            "experiment": "vae-mnist",
            "profile": "full",
            "params": {"model": "vae"},
            "metrics": {"negative_elbo": measured(86.7, "nats", "c")},
        },
    }


def by_test_set(groups: list[RestorationGroup]) -> dict[str, RestorationGroup]:
    return {group.test_set: group for group in groups}


def column(table: Table, key: str) -> dict[str, tuple[str, bool]]:
    index = table.columns.index(key)
    return {row.label: (row.cells[index].text, row.cells[index].best) for row in table.rows}


def test_two_test_sets_give_two_tables_and_generation_records_none():
    groups = restoration_groups(jpeg_records())
    assert sorted(by_test_set(groups)) == [PLAIN, JPEG90]
    jpeg = by_test_set(groups)[JPEG90]
    assert jpeg.experiments == (
        "clahe_jpeg90-lol",
        "gamma_jpeg90-lol",
        "mlsm-lol",
    )  # classical first
    assert (jpeg.images, jpeg.profile, jpeg.dataset) == (3, "full", "lol")
    assert by_test_set(groups)[PLAIN].experiments == ("clahe-lol",)


def test_different_image_counts_or_profiles_are_separate_tables():
    records = {
        "clahe-lol": restoration_record("clahe-lol", {"psnr": 14.0}, {"psnr": 7.7}),
        "gamma-lol": restoration_record("gamma-lol", {"psnr": 13.0}, {"psnr": 7.7}, images=2),
        "histeq-lol": restoration_record("histeq-lol", {"psnr": 12.0}, {"psnr": 7.7}, profile="smoke"),
        "lacl-lol": restoration_record("lacl-lol", {"psnr": 16.0}, {"psnr": 7.7}, parameters=10),
    }
    groups = restoration_groups(records)
    assert len(groups) == 3
    members = {(group.images, group.profile): group.experiments for group in groups}
    assert members == {
        (3, "full"): ("clahe-lol", "lacl-lol"),
        (2, "full"): ("gamma-lol",),
        (3, "smoke"): ("histeq-lol",),
    }
    assert [group.profile for group in groups][0] == "full"


def test_input_row_methods_and_columns():
    table = by_test_set(restoration_groups(jpeg_records()))[JPEG90].table
    assert table.columns == (
        "psnr",
        "ssim_rgb",
        "seconds_per_image",
    )  # extras and suffixed keys are not columns
    assert table.headers == ("PSNR [dB]", "SSIM (RGB mean)", "time per image [s]")
    assert [row.label for row in table.rows] == [
        INPUT_LABEL,
        "clahe_jpeg90-lol",
        "gamma_jpeg90-lol",
        "mlsm-lol",
    ]
    assert [row.method_kind for row in table.rows] == ["", "classical", "classical", "learned"]
    psnr = column(table, "psnr")
    assert psnr[INPUT_LABEL] == ("7.77 ± 0.5", False)
    assert column(table, "seconds_per_image")[INPUT_LABEL] == ("–", False)


def test_best_value_per_column_is_marked_but_time_is_not_ranked():
    table = by_test_set(restoration_groups(jpeg_records()))[JPEG90].table
    psnr, ssim = column(table, "psnr"), column(table, "ssim_rgb")
    assert [label for label, (_, best) in psnr.items() if best] == ["mlsm-lol"]
    assert [label for label, (_, best) in ssim.items() if best] == ["gamma_jpeg90-lol"]
    assert not any(best for _, best in column(table, "seconds_per_image").values())


def test_ties_are_never_marked_and_unmeasured_cells_say_so():
    records = {
        "bm3d-cc15": restoration_record("bm3d-cc15", {"psnr": 37.0}, {"psnr": 35.0}),
        "nlmeans-cc15": restoration_record("nlmeans-cc15", {"psnr": 37.0}, {"psnr": 35.0}),
        "zheng-cc15": restoration_record("zheng-cc15", {"psnr": 36.0}, {"psnr": 35.0}, parameters=1),
    }
    records["zheng-cc15"]["metrics"]["ssim_rgb"] = not_measured("every image failed")
    records["zheng-cc15"]["metrics"]["ssim_rgb_input"] = entry(0.8, PLAIN, unit="SSIM")
    table = restoration_groups(records)[0].table
    psnr = column(table, "psnr")
    # Two methods share the top value: a tie, so nobody wins the column.
    assert not any(best for _, best in psnr.values())
    ssim = column(table, "ssim_rgb")
    assert ssim["zheng-cc15"] == ("not measured", False) and ssim["bm3d-cc15"] == ("–", False)


def test_reference_row_for_no_reference_metrics():
    records = {
        "grayworld-euvp": restoration_record(
            "grayworld-euvp",
            {"psnr": 18.0, "uiqm": 2.5},
            {"psnr": 17.0, "uiqm": 2.0},
            test_set=EUVP,
            references={"uiqm": 3.1},
        ),
        "uwcvgan-euvp": restoration_record(
            "uwcvgan-euvp",
            {"psnr": 20.0, "uiqm": 2.9},
            {"psnr": 17.0, "uiqm": 2.0},
            test_set=EUVP,
            references={"uiqm": 3.1},
            parameters=61_000,
        ),
    }
    table = restoration_groups(records)[0].table
    assert [row.label for row in table.rows][-1] == REFERENCE_LABEL
    uiqm = column(table, "uiqm")
    assert uiqm[REFERENCE_LABEL] == ("3.1 ± 0.1", False) and uiqm["uwcvgan-euvp"][1]
    assert column(table, "psnr")[REFERENCE_LABEL] == ("–", False)
    # No reference entries: no reference row.
    assert REFERENCE_LABEL not in [row.label for row in restoration_groups(jpeg_records())[0].table.rows]


def test_stress_tables():
    jpeg = by_test_set(restoration_groups(jpeg_records()))[JPEG90]
    assert len(jpeg.stress) == 1
    stress = jpeg.stress[0]
    assert (stress.tag, stress.test_set, stress.images) == ("jpeg30", JPEG30, 3)
    assert stress.table.columns == ("psnr", "ssim_rgb")
    assert [row.label for row in stress.table.rows] == [
        INPUT_LABEL,
        "clahe_jpeg90-lol",
        "gamma_jpeg90-lol",
        "mlsm-lol",
    ]
    psnr = column(stress.table, "psnr")
    assert psnr[INPUT_LABEL] == ("7 ± 0.5", False) and psnr["mlsm-lol"] == ("17 ± 0.5", True)
    assert by_test_set(restoration_groups(jpeg_records()))[PLAIN].stress == ()


@pytest.fixture
def rendered(tmp_path: Path) -> tuple[str, str]:
    reports = tmp_path / "reports"
    for name, record in jpeg_records().items():
        if name == "vae-mnist":
            continue
        path = reports / "metrics" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_record(
            path,
            MetricsRecord(
                provenance={
                    k: v for k, v in record.items() if k not in ("metrics", "figures", "schema_version", "budget")
                },
                metrics=record["metrics"],
                budget=record.get("budget"),
            ),
        )
    report = build_report(reports, tmp_path, dvc_executable=None)
    return render_markdown(report), render_html(report)


def test_markdown_renders_the_section(rendered):
    markdown, _ = rendered
    assert "## Restoration: methods side by side" in markdown
    assert markdown.index("## Restoration: methods side by side") < markdown.index("## Enhancement")
    assert markdown.index("## Claims") < markdown.index("## Restoration: methods side by side")
    assert "| method | kind | PSNR [dB] | SSIM (RGB mean) | time per image [s] |" in markdown
    assert f"| *{INPUT_LABEL}* | – | 7.77 ± 0.5 | 0.19 ± 0.5 | – |" in markdown
    assert "| mlsm-lol | learned | **19.35 ± 0.5** | 0.51 ± 0.5 | 0.9 |" in markdown
    assert f"Test set: {JPEG90} · 3 images · profile full" in markdown
    assert f"**Stress test jpeg30: {JPEG30} · 3 images**" in markdown
    # Per-experiment details stay compact: per-image values are left to the JSON, unnamed.
    assert "per_image:" not in markdown and "1.png 19.35" not in markdown


def test_html_renders_the_section_escaped(rendered):
    _, page = rendered
    assert '<h2 id="restoration">Restoration: methods side by side</h2>' in page
    assert '<td class="num best">19.35 ± 0.5</td>' in page
    assert 'href="#exp-mlsm-lol"' in page and 'href="#restoration"' in page
    assert "inputs + JPEG quality 90 (pillow libjpeg baseline)" in page
    assert '<td class="input"><span class="rowlabel">input (no processing)</span></td>' in page


def test_html_escapes_record_text():
    records = {"x-lol": restoration_record("x-lol", {"psnr": 1.0}, {"psnr": 0.5}, test_set="<script>alert(1)</script>")}
    page = "".join(_restoration_group(group) for group in restoration_groups(records))
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_entry_details_and_names_of_suffixed_keys():
    details = entry_details(entry(12.0, JPEG90))
    # No serialisation leftovers: per-image maps and an empty failure list are not printed.
    assert "per_image" not in details and "failed" not in details and "1.png" not in details
    assert "images 3" in details
    assert entry_details({"value": 3.0, "image_shape": [3, 256, 256], "by_class": list(range(10))}) == (
        "image shape 3 × 256 × 256"
    )
    assert entry_details({"value": 1.0, "latent": 0.4, "image": 0.47}) == "latent 0.4 · image 0.47"
    assert metric_name("psnr_input") == "PSNR of the degraded input"
    assert metric_name("ssim_y_input@jpeg30") == "SSIM (Y) of the input @ jpeg30"
    assert metric_name("uiqm_reference") == "UIQM of the reference"
