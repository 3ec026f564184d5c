"""A real browser opens reports/index.html (built from fixtures): no broken image, no error.

Headless Chromium (Debian's ``chromium`` package) loads the page twice at 1,280 px: once
for a screenshot (kept under the test's tmp dir), once with ``--dump-dom`` and ``?self-check``
in the URL, whose output carries the page's self-check attributes
(html_style.SELF_CHECK_SCRIPT): the number of images, how many failed to load (every lazy image
is loaded for the check; ``naturalWidth === 0`` counts as broken), how many load errors were
caught, and whether the scorecard fits its container (``scrollWidth ≤ clientWidth``) with every
verdict cell inside it. Console
errors also show up on stderr (``--enable-logging=stderr``) as ``CONSOLE`` lines.
A negative control (a page with a broken image and a throwing script) proves the detector
detects. Skipped, with the reason, where no Chromium is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.report_fixtures.tree import build_tree
from vaerepro.report.build import build_report
from vaerepro.report.claims import load_claims
from vaerepro.report.html_style import SELF_CHECK_SCRIPT
from vaerepro.report.render_html import render_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install -y chromium); browser check skipped"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
]


def chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def self_check(page: Path, profile: Path) -> tuple[dict[str, str], list[str]]:
    assert CHROMIUM is not None
    # The query string switches the page's self-check on; the virtual-time budget lets the
    # image loads it starts after the load event finish before the DOM is dumped.
    done = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--window-size=1280,2000",
            "--virtual-time-budget=20000",
            "--dump-dom",
            page.resolve().as_uri() + "?self-check",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    opening = re.search(r"<html[^>]*>", done.stdout)
    assert opening, done.stdout[:500]
    attributes = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', opening.group(0)))
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    return attributes, console


def test_index_html_in_headless_chromium(tmp_path: Path):
    reports, repository = build_tree(tmp_path)
    page = reports / "index.html"
    page.write_text(render_html(build_report(reports, repository, dvc_executable=None)))

    screenshot = tmp_path / "screenshot.png"
    shot = chromium(page, tmp_path / "profile-shot", f"--screenshot={screenshot}", "--window-size=1280,2400")
    assert shot.returncode == 0 and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]

    attributes, console = self_check(page, tmp_path / "profile-dom")
    assert attributes.get("self-check") == "done", attributes
    assert int(attributes["images"]) >= 4
    assert attributes["broken-images"] == "0" and attributes["load-errors"] == "0", attributes
    # At 1,280 px the scorecard fits: nothing to scroll sideways, every verdict on screen.
    assert int(attributes["scorecard-overflow"]) <= 0, attributes
    assert int(attributes["verdict-cells"]) == len(load_claims()) and attributes["hidden-verdicts"] == "0"
    assert console == []


def test_the_check_detects_a_broken_page(tmp_path: Path):
    page = tmp_path / "broken.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><script>{SELF_CHECK_SCRIPT}</script></head><body>"
        '<img src="figures/missing.png" alt="x" loading="lazy"><script>console.error("boom"); undefinedCall();</script>'
        "</body></html>"
    )
    attributes, console = self_check(page, tmp_path / "profile")
    assert attributes["broken-images"] == "1"
    assert int(attributes["load-errors"]) >= 1
    assert any("boom" in line or "undefinedCall" in line for line in console), console


def test_the_check_detects_a_scorecard_too_wide(tmp_path: Path):
    page = tmp_path / "wide.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><script>{SELF_CHECK_SCRIPT}</script></head><body style='width:1000px'>"
        '<div class="scorecard-wrap"><table style="width:3000px"><tr><td>x</td>'
        '<td class="verdict-cell" style="width:500px">holds</td></tr></table></div></body></html>'
    )
    attributes, _ = self_check(page, tmp_path / "profile")
    assert int(attributes["scorecard-overflow"]) > 0 and attributes["hidden-verdicts"] == "1"
