"""Stage ``evaluate@<experiment>``: score a trained model on its test split.

Writes reports/metrics/<experiment>.json (numbers with provenance) and
reports/figures/<experiment>/ (samples, reconstructions, before/after panels ...). Reads params:
``seed``, ``profile``, ``experiments.<experiment>``. Generative models use
models/classifiers/<dataset>/ when the dataset has one (offline sample-quality measures);
restoration models are scored on their test pairs against the references. FID of generated
sets reads models/fid_inception/ (stage fid_weights) and data/fid_reference/<dataset>/ (stage
fid_reference@<dataset>) when ``fid.reference`` lists the dataset.
"""

import argparse
from pathlib import Path

from vaerepro.cli_errors import reported_errors
from vaerepro.config import load_params
from vaerepro.experiment import resolve
from vaerepro.experiment.evaluate import evaluate_experiment
from vaerepro.records import write_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("experiment")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--reports-root", type=Path, default=Path("reports"))
    arguments = parser.parse_args()
    with reported_errors(f"evaluate@{arguments.experiment}"):
        params = load_params(arguments.params)
        experiment = resolve(params, arguments.experiment)
        record = evaluate_experiment(experiment, params, reports_root=arguments.reports_root)
    write_record(arguments.reports_root / "metrics" / f"{experiment.name}.json", record)
    headline = {
        key: round(entry["value"], 4)
        for key, entry in record.metrics.items()
        if entry["value"] is not None and "@" not in key
    }
    print(f"evaluate@{experiment.name} ({experiment.task}): {headline}")


if __name__ == "__main__":
    main()
