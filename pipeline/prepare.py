"""Stage ``prepare@<dataset>``: decode data/raw/<dataset>/ into uint8 arrays with fixed splits.

Writes data/prepared/<dataset>/ (arrays + summary.json), reports/data/<dataset>.json (the
summary, committed) and reports/figures/data/<dataset>.png (a preview grid).
Reads params: ``datasets.<dataset>``. See src/vaerepro/data/prepare.py.
"""

import argparse
import time
from pathlib import Path

from vaerepro.cli_errors import reported_errors
from vaerepro.config import load_params
from vaerepro.data.integrity import write_json
from vaerepro.data.prepare import prepare
from vaerepro.report.dataset_preview import save_dataset_preview


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--raw-root", type=Path, default=Path("data/raw"))
    parser.add_argument("--prepared-root", type=Path, default=Path("data/prepared"))
    parser.add_argument("--reports-root", type=Path, default=Path("reports"))
    arguments = parser.parse_args()
    started = time.perf_counter()
    with reported_errors(f"prepare@{arguments.dataset}"):
        params = load_params(arguments.params)
        summary = prepare(arguments.dataset, params, arguments.raw_root, arguments.prepared_root)
    write_json(arguments.reports_root / "data" / f"{arguments.dataset}.json", summary)
    save_dataset_preview(
        arguments.prepared_root / arguments.dataset,
        arguments.reports_root / "figures" / "data" / f"{arguments.dataset}.png",
    )
    counts = ", ".join(f"{name} {split['count']}" for name, split in summary["splits"].items())
    print(
        f"prepare@{arguments.dataset}: {counts} (variant {summary['variant']}) in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
