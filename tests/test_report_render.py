"""Rendering the report from fixture metrics (tests/report_fixtures): Markdown, HTML, stage script."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY
from tests.report_fixtures.tree import build_tree
from vaerepro.report.build import build_report, checked_figure, planned_experiments
from vaerepro.report.claims import load_claims
from vaerepro.report.headline import HEADLINE_METRICS, headline_metrics, headline_row, write_headline
from vaerepro.report.pipeline_graph import (
    as_svg,
    as_text,
    graph_from_lock,
    parse_dot,
    pipeline_graph,
)
from vaerepro.report.provenance import lineage_chain, read_lock, upstream_trail
from vaerepro.report.render_html import render_html
from vaerepro.report.render_markdown import render_markdown
from vaerepro.report.status import StatusKind
from vaerepro.structured import ConfigError

URL_ATTRIBUTES = {"src", "href", "srcset", "poster", "data", "action", "formaction", "xlink:href", "background"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, Path]:
    return build_tree(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def report(tree):
    reports, repository = tree
    return build_report(reports, repository, dvc_executable=None)


def status_of(report, claim_id: str):
    return next(a for a in report.assessments if a.claim.id == claim_id).status


def test_statuses_from_fixture_records(report):
    assert status_of(report, "den-zheng-psnr-cc").kind is StatusKind.REPRODUCED
    assert status_of(report, "den-zheng-ssim-cc").kind is StatusKind.NOT_REPRODUCED
    assert status_of(report, "enh-mlsm-psnr-lol").kind is StatusKind.PARTIAL
    assert status_of(report, "gen-vdvae-nll-cifar10").label == "not comparable: lossy-jpeg-q75"
    assert status_of(report, "enh-uwcvgan-compression-factor").kind is StatusKind.SMOKE
    # Not measured outranks smoke: the reason is the more useful thing to show.
    assert status_of(report, "enh-uwcvgan-inception-score").kind is StatusKind.NOT_MEASURABLE
    assert status_of(report, "gen-vqvae2-hierarchy-reconstructs-better").kind is StatusKind.NOT_RUN
    # No face data here: the face FID is never judged, whether or not the CIFAR-10 run exists.
    assert status_of(report, "gen-vqgan-fid-faces").kind is StatusKind.NOT_COMPARABLE_AS_STATED
    assert status_of(report, "intro-two-stage-mnist").kind is StatusKind.UNREADABLE
    assert status_of(report, "q-blurry-samples").kind is StatusKind.REPRODUCED
    assert status_of(report, "q-reconstruction-vs-regularisation").kind is StatusKind.REPRODUCED


def test_malformed_files_are_named_and_the_rest_renders(report):
    assert set(report.records.errors) == {"cvae-mnist", "two_stage-mnist"}
    assert "cvae-mnist.json: not a readable JSON file" in report.records.errors["cvae-mnist"]
    assert "missing key(s)" in report.records.errors["two_stage-mnist"]
    markdown, page = render_markdown(report), render_html(report)
    for text in (markdown, page):
        assert "cvae-mnist.json" in text and "two_stage-mnist.json" in text
        assert "86.71" in text and "37.91" in text  # vae-mnist and zheng-cc15 still render
    assert "Unreadable metrics files" in page


def test_markdown_sections_and_provenance(report):
    markdown = render_markdown(report)
    for heading in (
        "## Claims",
        "## Survey vs cited paper",
        "## Generation",
        "## Denoising",
        "## Enhancement",
        "## Datasets",
        "## Provenance",
        "### Environment",
        "### Pipeline graph",
        "## Audit: tracing one number",
        "## How statuses are decided",
    ):
        assert heading in markdown
    assert "4.9 (paper: 10.2) ⚑" in markdown
    assert "![samples](figures/vae-mnist/samples.png)" in markdown
    assert "matches reports/data/mnist.json" in markdown
    assert "DIFFERS from reports/data/cc15.json" in markdown
    assert '"kl_weight": 4.0' in markdown
    assert "fe76727604d5ea50afd41a4d9d0830ca0fee2b7e" in markdown
    assert "torch | 2.5.1" in markdown
    # planned in params.yaml, no metrics, and no reports/data/cifar10.json in the fixture: the
    # reason is given (as for CelebA-HQ, which the user supplies)
    assert (
        "| dvae-cifar10 | dvae | cifar10 | not run: no cifar10 data prepared on this machine "
        "(datasets.yaml says how to supply it) |" in markdown
    )
    assert "| vae-mnist | vae | mnist | smoke |" in markdown or "not run: no mnist" not in markdown


def test_audit_trail_walks_dvc_lock_upstream(tree, report):
    _, repository = tree
    trail = [entry.stage for entry in upstream_trail(read_lock(repository / "dvc.lock"), "evaluate@vae-mnist")]
    assert trail == ["evaluate@vae-mnist", "train@vae-mnist", "prepare@mnist", "download@mnist"]
    markdown = render_markdown(report)
    assert "**train@vae-mnist**" in markdown and "92eb5ffee6ae2fec3ad71c777531578f.dir" in markdown
    assert "uv run dvc status evaluate@" in markdown


def test_each_experiment_prints_its_chain_in_the_hashes_dvc_lock_uses(tree, report):
    _, repository = tree
    chain = lineage_chain(read_lock(repository / "dvc.lock"), "vae-mnist")
    assert [link.stage for link in chain] == [
        "evaluate@vae-mnist",
        "train@vae-mnist",
        "prepare@mnist",
        "download@mnist",
    ]
    prepare = chain[2]
    assert prepare.inputs == [("data/raw/mnist", "3c1b7a0a6b3f0e2d2bd0e3b1d7b0a4a1.dir")]
    assert prepare.code == [("src/vaerepro/data", "cb06487f9262e9c440d8a885b57ab3fe.dir")]
    assert prepare.params == ["datasets.mnist.validation_count"]
    html = render_html(report)
    card = html[html.index('id="lineage-vae-mnist"') :]
    assert "3c1b7a0a6b3f" in card[: card.index("</details>")]  # the md5 prefix, as dvc.lock has it
    assert "Chain (md5 as in `dvc.lock`" in render_markdown(report)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: list[tuple[str, str, str]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in URL_ATTRIBUTES or name == "style":
                self.values.append((tag, name, value or ""))

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def test_html_loads_nothing_from_outside(report):
    """Policy: URLs may appear as plain text (e.g. in params); never in a loading or link attribute."""
    page = render_html(report)
    parser = _Links()
    parser.feed(page)
    for tag, name, value in parser.values:
        assert not re.match(r"\s*([a-z][a-z0-9+.-]*:|//)", value, re.IGNORECASE) or value.startswith("#"), (
            tag,
            name,
            value,
        )
        assert ".." not in value.split("/"), value
    css = "".join(parser.styles)
    assert "url(" not in css and "@import" not in css and "@font-face" not in css
    assert not re.search(r"<(link|iframe|object|embed)\b", page)
    assert not re.search(r"<script[^>]*\bsrc=", page)
    for tag, _name, value in parser.values:
        if tag == "img":
            assert value.startswith("figures/")
    # The record's remote figure is refused and shown as text; the anchors are in-page only.
    assert "https://example.org/tracker.png" in page and 'src="https://' not in page
    # Anchors are in-page, or open a figure's full-size file under reports/figures/.
    assert all(value.startswith(("#", "figures/")) for tag, name, value in parser.values if tag == "a")


def test_planned_experiments_are_read_through_the_strict_loader(tree, tmp_path):
    _, repository = tree
    assert planned_experiments(repository / "params.yaml") == ["vae-mnist", "dvae-cifar10"]
    assert planned_experiments(tmp_path / "params.yaml") == []  # no params file: nothing planned
    (tmp_path / "params.yaml").write_text(
        (repository / "params.yaml").read_text().replace("dataset: mnist", "datset: mnist")
    )
    (tmp_path / "datasets.yaml").write_text((repository / "datasets.yaml").read_text())
    with pytest.raises(ConfigError, match=r"unknown key 'experiments.vae-mnist.datset' in .*params.yaml"):
        planned_experiments(tmp_path / "params.yaml")


def test_figure_paths_are_checked(tree):
    reports, _ = tree
    assert checked_figure("s", "figures/vae-mnist/samples.png", reports).problem == ""
    assert "refused" in checked_figure("r", "https://example.org/a.png", reports).problem
    assert "refused" in checked_figure("r", "../../etc/passwd.png", reports).problem
    assert "refused" in checked_figure("r", "/etc/a.png", reports).problem
    assert "not an image" in checked_figure("r", "metrics/vae-mnist.json", reports).problem
    assert "missing" in checked_figure("r", "figures/none.png", reports).problem


def test_empty_reports_render_everything_as_not_run(tmp_path):
    report = build_report(tmp_path / "reports", tmp_path, dvc_executable=None)
    assert {a.status.kind for a in report.assessments} == {
        StatusKind.NOT_RUN,
        StatusKind.NOT_MEASURABLE,
        StatusKind.NOT_COMPARABLE_AS_STATED,  # the registry withholds the verdict, run or not
    }
    assert "not run" in render_markdown(report) and "<html" in render_html(report)
    assert "neither `dvc dag` nor dvc.lock" in render_markdown(report)


def test_pipeline_graph_sources(tree):
    _, repository = tree
    dot = 'strict digraph {\n"download@mnist";\n"prepare@mnist";\n"download@mnist" -> "prepare@mnist";\n}\n'
    graph = parse_dot(dot)
    assert graph.nodes == ["download@mnist", "prepare@mnist"] and graph.edges == [("download@mnist", "prepare@mnist")]
    from_lock = graph_from_lock(read_lock(repository / "dvc.lock"))
    assert ("train@vae-mnist", "evaluate@vae-mnist") in from_lock.edges
    assert ("prepare@mnist", "evaluate@vae-mnist") in from_lock.edges
    assert as_text(from_lock).splitlines()[0] == "download@mnist"
    assert as_svg(from_lock).startswith("<svg") and "http" not in as_svg(from_lock)
    # No dvc executable: falls back to the lock instead of failing.
    assert pipeline_graph(repository, read_lock(repository / "dvc.lock"), "no-such-dvc-binary").source == "dvc.lock"


def test_headline_rows_have_the_same_few_columns_and_only_measured_values(report):
    headline = headline_metrics(report.records.records)
    assert "cvae-mnist" not in headline  # malformed: no row
    zheng = headline["zheng-cc15"]
    assert zheng["psnr"] == 37.91 and zheng["task"] == "denoising"
    assert {"profile", "device"} <= set(zheng)
    for experiment, row in headline.items():
        task = report.records.records[experiment].get("task")
        metrics = set(row) - {"task", "profile", "device", "steps", "n"}
        assert metrics and metrics <= set(HEADLINE_METRICS.get(task, metrics)), experiment
        assert all(isinstance(row[name], float) for name in metrics)


def test_a_headline_row_states_budget_and_n():
    record = {
        "task": "generation",
        "profile": "smoke",
        "device": "cpu",
        "training": {"step": 300, "steps": 300},
        "metrics": {
            "fid": {"value": 199.9, "num_samples": 200, "unit": "FID@200"},
            "kl": {"value": 30.0},  # not a headline metric: left in the full record
            "bits_per_dim": {"value": 0.2},
        },
    }
    assert headline_row(record) == {
        "task": "generation",
        "profile": "smoke",
        "device": "cpu",
        "steps": 300,
        "n": 200,
        "fid": 199.9,
        "bits_per_dim": 0.2,
    }


def test_write_headline_removes_rows_of_experiments_that_are_gone(tmp_path, report):
    folder = tmp_path / "headline"
    folder.mkdir()
    (folder / "removed-experiment.json").write_text("{}")
    written = write_headline(folder, report.records.records)
    assert sorted(path.name for path in folder.glob("*.json")) == sorted(path.name for path in written)
    assert json.loads((folder / "zheng-cc15.json").read_text())["psnr"] == 37.91


def test_stage_script_writes_all_outputs(tree, tmp_path):
    reports, repository = tree
    done = subprocess.run(
        [
            sys.executable,
            str(REPOSITORY / "pipeline" / "report.py"),
            "--reports-root",
            str(reports),
            "--repository-root",
            str(repository),
            "--dvc",
            "none",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "cvae-mnist is malformed" in done.stderr and f"{len(load_claims())} claims" in done.stdout
    assert (reports / "report.md").read_text().startswith("# Reproduction report")
    assert (reports / "index.html").read_text().startswith("<!DOCTYPE html>")
    assert json.loads((reports / "headline" / "zheng-cc15.json").read_text())["psnr"] == 37.91
    assert not list(reports.glob(".*partial*"))
    strict = subprocess.run(
        [
            sys.executable,
            str(REPOSITORY / "pipeline" / "report.py"),
            "--reports-root",
            str(reports),
            "--repository-root",
            str(repository),
            "--dvc",
            "none",
            "--strict",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert strict.returncode == 1
