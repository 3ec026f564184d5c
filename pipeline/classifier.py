"""Stage ``classifier@<dataset>``: train the small classifier behind the offline
sample-quality measures (conditional accuracy, Fréchet distance in its feature space).

Writes models/classifiers/<dataset>/ and reports/metrics/classifier-<dataset>.json (test
accuracy). Reads params: ``seed``, ``profile``, ``classifiers.<dataset>``.
"""

import argparse
import os
import time
from pathlib import Path

from vaerepro.cli_errors import reported_errors
from vaerepro.config import load_params
from vaerepro.evaluation.classifier import evaluate_classifier
from vaerepro.experiment import resolve_classifier
from vaerepro.experiment.device_guard import guard_full_profile
from vaerepro.experiment.provenance import budget_for, provenance_for
from vaerepro.experiment.train import train_experiment
from vaerepro.records import MetricsRecord, write_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--reports-root", type=Path, default=Path("reports"))
    arguments = parser.parse_args()
    with reported_errors(f"classifier@{arguments.dataset}"):
        params = load_params(arguments.params)
        guard_full_profile(params, f"classifier@{arguments.dataset}")  # full profile without a GPU: stop, say why
        experiment = resolve_classifier(params, arguments.dataset)
        result = train_experiment(
            experiment,
            params,
            Path("models/classifiers") / arguments.dataset,
            restart_if_complete="DVC_STAGE" in os.environ,
        )
        started = time.perf_counter()
        metrics = evaluate_classifier(result.checkpoint_path, experiment.split("test"))
    provenance = provenance_for(
        experiment,
        params,
        result.checkpoint_path,
        train_seconds=result.wall_seconds,
        evaluate_seconds=time.perf_counter() - started,
    )
    record = MetricsRecord(provenance, metrics, budget=budget_for(experiment, provenance["training"], metrics))
    write_record(arguments.reports_root / "metrics" / f"{experiment.name}.json", record)
    print(f"classifier@{arguments.dataset}: test accuracy {metrics['test_accuracy']['value']:.4f}")


if __name__ == "__main__":
    main()
