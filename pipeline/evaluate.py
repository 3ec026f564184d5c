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
import time
from pathlib import Path

import torch

from vaerepro.cli_errors import reported_errors
from vaerepro.config import load_params
from vaerepro.evaluation.classifier import load_classifier
from vaerepro.evaluation.fid import PIPELINE_WEIGHTS, FidScorer, load_reference, reference_path
from vaerepro.evaluation.figures import save_generative_figures
from vaerepro.evaluation.generative import evaluate_generative, model_kind
from vaerepro.evaluation.provenance import count_parameters, provenance_for
from vaerepro.evaluation.record import MetricsRecord, write_record
from vaerepro.evaluation.restoration_experiment import evaluate_restoration
from vaerepro.experiment import resolve
from vaerepro.metrics.inception import load_fid_inception
from vaerepro.models.restoration import RestorationModel
from vaerepro.training import CHECKPOINT_NAME, load_model
from vaerepro.training.seeding import seed_everything


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
        seed_everything(params.seed)  # any stochastic evaluation step starts from the same state
        figure_dir = arguments.reports_root / "figures" / experiment.name
        if isinstance(model, RestorationModel):
            evaluation = evaluate_restoration(model, experiment, seed=params.seed, profile=params.profile, device=device,
                                              figure_dir=figure_dir, reports_root=arguments.reports_root)
            figures = evaluation.figures
        else:
            evaluation, figures = _evaluate_generative(model, experiment, params, device, checkpoint, figure_dir,
                                                       arguments.reports_root)
        provenance = provenance_for(experiment, params, checkpoint, evaluate_seconds=time.perf_counter() - started,
                                    parameter_count=count_parameters(model))
    write_record(arguments.reports_root / "metrics" / f"{experiment.name}.json",
                 MetricsRecord(provenance, evaluation.metrics, figures))
    headline = {key: round(entry["value"], 4) for key, entry in evaluation.metrics.items()
                if entry["value"] is not None and "@" not in key}
    print(f"evaluate@{experiment.name}: {headline}")


def _evaluate_generative(model, experiment, params, device, checkpoint, figure_dir, reports_root):
    classifier_path = Path("models/classifiers") / experiment.dataset / CHECKPOINT_NAME
    classifier = load_classifier(classifier_path, device) if classifier_path.is_file() else None
    test = experiment.split("test")
    fid = None
    if experiment.dataset in params.fid.reference:
        fid = FidScorer(load_fid_inception(PIPELINE_WEIGHTS, device), load_reference(reference_path(experiment.dataset)),
                        params.fid.batch_size)
    evaluation = evaluate_generative(
        model, test["images"], test.arrays.get("labels"), experiment.evaluate,
        binarize=experiment.train.dynamic_binarization, seed=params.seed, classifier=classifier, fid=fid,
    )
    figures = save_generative_figures(
        model, evaluation, model_kind(model), figure_dir, reports_root, experiment.name, checkpoint.parent / "dvclive",
    )
    return evaluation, figures

if __name__ == "__main__":
    main()
