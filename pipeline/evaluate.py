"""Stage ``evaluate@<experiment>``: score a trained model on its test split.

Writes reports/metrics/<experiment>.json (numbers with provenance) and
reports/figures/<experiment>/ (samples, reconstructions, ...). Reads params: ``seed``,
``profile``, ``experiments.<experiment>``. Uses models/classifiers/<dataset>/ when the
dataset has one (offline sample-quality measures).
"""

import argparse
import time
from pathlib import Path

import torch

from vaerepro.cli_errors import reported_errors
from vaerepro.config import load_params
from vaerepro.evaluation.classifier import load_classifier
from vaerepro.evaluation.figures import save_generative_figures
from vaerepro.evaluation.generative import evaluate_generative, model_kind
from vaerepro.evaluation.provenance import count_parameters, provenance_for
from vaerepro.evaluation.record import MetricsRecord, write_record
from vaerepro.experiment import resolve
from vaerepro.training import CHECKPOINT_NAME, load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("experiment")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--reports-root", type=Path, default=Path("reports"))
    arguments = parser.parse_args()
    started = time.perf_counter()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with reported_errors(f"evaluate@{arguments.experiment}"):
        params = load_params(arguments.params)
        experiment = resolve(params, arguments.experiment)
        checkpoint = Path("models") / experiment.name / CHECKPOINT_NAME
        model = load_model(checkpoint, map_location=device).to(device).eval()
        classifier_path = Path("models/classifiers") / experiment.dataset / CHECKPOINT_NAME
        classifier = load_classifier(classifier_path, device) if classifier_path.is_file() else None
        test = experiment.split("test")
        evaluation = evaluate_generative(
            model, test["images"], test.arrays.get("labels"), experiment.evaluate,
            binarize=experiment.train.dynamic_binarization, seed=params.seed, classifier=classifier,
        )
        figures = save_generative_figures(
            model, evaluation, model_kind(model), arguments.reports_root / "figures" / experiment.name,
            arguments.reports_root, experiment.name, checkpoint.parent / "dvclive",
        )
        provenance = provenance_for(experiment, params, checkpoint, evaluate_seconds=time.perf_counter() - started,
                                    parameter_count=count_parameters(model))
    write_record(arguments.reports_root / "metrics" / f"{experiment.name}.json",
                 MetricsRecord(provenance, evaluation.metrics, figures))
    headline = {key: round(entry["value"], 4) for key, entry in evaluation.metrics.items() if entry["value"] is not None}
    print(f"evaluate@{experiment.name}: {headline}")


if __name__ == "__main__":
    main()
