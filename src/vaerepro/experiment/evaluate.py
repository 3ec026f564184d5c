"""Score a trained experiment by its task and assemble its metrics record (the body of ``evaluate@``).

``generation`` experiments are scored by :func:`vaerepro.evaluation.generative.evaluate_generative`
(likelihood, representation, FID and classifier measures of samples; the discrete-latent VQ
family by :func:`vaerepro.evaluation.discrete_latent.evaluate_discrete_latent`), with figures from
:mod:`vaerepro.evaluation.figures`; ``denoising`` and ``enhancement`` experiments by
:func:`vaerepro.experiment.restoration.evaluate_restoration` on their test pairs. Per-model
measures and figures come from :mod:`vaerepro.evaluation.extras` in both cases. The record
states the task, so the report files every result under it, and its budget (steps trained
against the paper's, evaluation N), so no reduced-budget number reads as the paper's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vaerepro.config import Params
from vaerepro.evaluation.classifier import load_classifier
from vaerepro.evaluation.discrete_latent import evaluate_discrete_latent
from vaerepro.evaluation.extras import evaluation_for
from vaerepro.evaluation.fid import PIPELINE_WEIGHTS, FidScorer, load_reference, reference_path
from vaerepro.evaluation.figures import save_generative_figures
from vaerepro.evaluation.generative import evaluate_generative
from vaerepro.evaluation.hierarchical import evaluate_hierarchical
from vaerepro.experiment.provenance import budget_for, count_parameters, provenance_for
from vaerepro.experiment.resolve import SOURCE, ResolvedExperiment, resolve
from vaerepro.experiment.restoration import evaluate_restoration
from vaerepro.metrics.inception import load_fid_inception
from vaerepro.models.base import RESTORATION_TASKS, LatentVariableModel
from vaerepro.models.registry import build_model
from vaerepro.records import MetricsRecord, measured, not_measured
from vaerepro.structured import ConfigError, from_mapping
from vaerepro.training import CHECKPOINT_NAME, load_model, read_checkpoint
from vaerepro.training.checkpoints import weights_description
from vaerepro.training.device import choose_device
from vaerepro.training.seeding import seed_everything


@dataclass
class Evaluated:
    """What an evaluation produced: metric entries and figures (paths relative to ``reports/``)."""

    metrics: dict[str, dict[str, Any]]
    figures: dict[str, str]


def evaluate_experiment(
    experiment: ResolvedExperiment,
    params: Params,
    *,
    models_root: Path = Path("models"),
    reports_root: Path = Path("reports"),
) -> MetricsRecord:
    """Load ``models/<experiment>/checkpoint.pt``, score it by the experiment's task, return the record."""
    started = time.perf_counter()
    options = extras_options(experiment, params.profile)  # fail before any work
    device = choose_device()
    checkpoint = models_root / experiment.name / CHECKPOINT_NAME
    averaged = experiment.evaluate.averaged_weights
    model = load_model(checkpoint, map_location=device, averaged=averaged).to(device).eval()
    seed_everything(params.seed)  # any stochastic evaluation step starts from the same state
    figure_dir = reports_root / "figures" / experiment.name
    if experiment.task == "generation":
        evaluated = _evaluate_generation(model, experiment, params, device, checkpoint, figure_dir, reports_root)
    elif experiment.task in RESTORATION_TASKS:
        restoration = evaluate_restoration(
            model,
            experiment,
            seed=params.seed,
            extras_options=options,
            device=device,
            figure_dir=figure_dir,
            reports_root=reports_root,
        )
        evaluated = Evaluated(restoration.metrics, restoration.figures)
    else:
        raise ValueError(f"experiment '{experiment.name}': no evaluation for task '{experiment.task}'")
    provenance = provenance_for(
        experiment,
        params,
        checkpoint,
        evaluate_seconds=time.perf_counter() - started,
        parameter_count=count_parameters(model),
    )
    stored = read_checkpoint(checkpoint, map_location="cpu")
    if "ema_state" in stored:  # say which of the run's two sets of weights was scored
        provenance["evaluated_weights"] = weights_description(stored, averaged=averaged)
    budget = budget_for(experiment, provenance["training"], evaluated.metrics)
    return MetricsRecord(provenance, evaluated.metrics, evaluated.figures, budget)


def extras_options(experiment: ResolvedExperiment, profile: str) -> Any:
    """The model's evaluation-extras options, parsed from ``evaluate.<profile>.extras`` (None: it takes none).

    Parsed here, at the start of ``evaluate@``, not when the experiment is resolved: training
    then does not import the evaluation extras, so a change to a figure does not re-run it.
    """
    model, mapping = experiment.model, experiment.evaluate.extras
    path = f"{experiment.params_key}.evaluate.{profile}.extras"
    options_type = evaluation_for(model).options_class
    if options_type is None:
        if mapping:
            raise ConfigError(f"'{path}' in {SOURCE}: model '{model}' has no evaluation extras options; remove it")
        return None
    try:
        return from_mapping(options_type, mapping, path=path, source=SOURCE)
    except ConfigError:
        raise
    except ValueError as error:  # a range check of the options dataclass
        raise ConfigError(f"'{path}' in {SOURCE}: {error}") from None


def _evaluate_generation(
    model,
    experiment: ResolvedExperiment,
    params: Params,
    device: torch.device,
    checkpoint: Path,
    figure_dir: Path,
    reports_root: Path,
) -> Evaluated:
    classifier_path = checkpoint.parent.parent / "classifiers" / experiment.dataset / CHECKPOINT_NAME
    classifier = load_classifier(classifier_path, device) if classifier_path.is_file() else None
    test = experiment.split("test")
    fid = None
    if experiment.dataset in params.fid.reference:
        fid = FidScorer(
            load_fid_inception(PIPELINE_WEIGHTS, device),
            load_reference(reference_path(experiment.dataset)),
            params.fid.batch_size,
        )
    if model.registered_name == "vdvae":  # spatial latent groups: the ELBO, per-group KL
        evaluation = evaluate_hierarchical(
            model,
            test["images"],
            experiment.evaluate,
            binarize=experiment.train.dynamic_binarization,
            seed=params.seed,
            classifier=classifier,
            fid=fid,
        )
    elif isinstance(model, LatentVariableModel):
        evaluation = evaluate_generative(
            model,
            test["images"],
            test.arrays.get("labels"),
            experiment.evaluate,
            binarize=experiment.train.dynamic_binarization,
            seed=params.seed,
            classifier=classifier,
            fid=fid,
        )
    else:  # discrete latents (VQ-VAE family): no Gaussian posterior to importance-sample
        evaluation = evaluate_discrete_latent(
            model, test["images"], experiment.evaluate, seed=params.seed, classifier=classifier, fid=fid
        )
    if evaluation_for(model.registered_name).reports_full_profile_size:
        evaluation.metrics["parameter_count_full_profile"] = full_profile_parameter_count(experiment, params)
    figures = save_generative_figures(
        model, evaluation, figure_dir, reports_root, experiment.name, checkpoint.parent / "dvclive"
    )
    return Evaluated(evaluation.metrics, figures)


def full_profile_parameter_count(experiment: ResolvedExperiment, params: Params) -> dict[str, Any]:
    """Parameters of the model the ``full`` profile builds for this experiment (the papers'
    sizes), counted on PyTorch's meta device: a property of the architecture, measured without
    training or memory, so a claim about a model's size is checkable at any profile."""
    full = resolve(params.with_profile("full"), experiment.name, prepared_root=experiment.prepared.parent)
    try:
        with torch.device("meta"):
            model = build_model(full.model, full.options, source=SOURCE, path=f"{full.params_key}.options")
    except (RuntimeError, NotImplementedError) as error:  # an operation the meta device lacks
        return not_measured(f"the full profile's model could not be built without memory: {error}")
    return measured(
        count_parameters(model),
        "parameters",
        f"parameters of the full profile's model ({full.params_key}: options with profile_options.full), "
        "counted without training",
        independent_of_training=True,
    )
