"""Stage ``report``: render reports/report.md and reports/index.html from every metrics record.

Reads reports/metrics/*.json (missing experiments show as "not run"; a malformed file is named
in the report and on stderr, and the rest still renders), reports/data/*.json, the claims
registry, dvc.lock and `dvc dag`. Writes the two reports and reports/headline/<experiment>.json
(for `dvc metrics show`), each atomically. See src/vaerepro/report/.
"""

import argparse
import sys
from pathlib import Path

from vaerepro.cli_errors import reported_errors
from vaerepro.data.integrity import atomic_file
from vaerepro.report.build import build_report
from vaerepro.report.claims import DEFAULT_CLAIMS_PATH
from vaerepro.report.headline import write_headline
from vaerepro.report.render_html import render_html
from vaerepro.report.render_markdown import render_markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports-root", type=Path, default=Path("reports"))
    parser.add_argument("--repository-root", type=Path, default=Path("."))
    parser.add_argument("--claims", type=Path, default=DEFAULT_CLAIMS_PATH)
    parser.add_argument("--dvc", default="dvc", help="dvc executable for `dvc dag`; 'none' to skip")
    parser.add_argument("--strict", action="store_true", help="exit 1 after writing if a metrics file is malformed")
    arguments = parser.parse_args()

    with reported_errors("report"):  # a mistyped key in the params files, as in every stage
        report = build_report(
            arguments.reports_root,
            arguments.repository_root,
            arguments.claims,
            None if arguments.dvc == "none" else arguments.dvc,
        )
    with atomic_file(arguments.reports_root / "report.md", "w") as handle:
        handle.write(render_markdown(report))
    with atomic_file(arguments.reports_root / "index.html", "w") as handle:
        handle.write(render_html(report))
    write_headline(arguments.reports_root / "headline", report.records.records)

    for name, message in sorted(report.records.errors.items()):
        print(f"report: metrics file for {name} is malformed: {message}", file=sys.stderr)
    counts = ", ".join(f"{count} {kind.value}" for kind, count in report.counts().items())
    print(f"report: {len(report.claims)} claims ({counts}); {len(report.records.records)} experiments with metrics")
    if arguments.strict and report.records.errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
