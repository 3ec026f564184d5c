"""The pipeline's own classifier as a measuring instrument for generated samples.

Without Inception weights (none on these machines) FID cannot be computed; a small
classifier trained by the pipeline on the same dataset still gives two offline measures:

* conditional accuracy — the share of class-conditional samples the classifier assigns to
  the class they were generated for (CVAE, Sohn et al. 2015's "controlled generation");
* a Fréchet distance in the classifier's feature space between generated and test images,
  computed exactly like FID (Heusel et al. 2017, eq. 6) but on *these* features. It is
  named ``classifier_frechet_distance`` everywhere, never FID: its scale is not comparable
  with any published FID.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vaerepro.data.prepared import PreparedSplit
from vaerepro.evaluation.tensors import batches, to_model_input
from vaerepro.metrics.frechet import feature_statistics, frechet_distance
from vaerepro.records import measured
from vaerepro.training import load_model

CLASSIFIER_FRECHET_CONVENTION = (
    "Fréchet distance (Heusel et al. 2017 eq. 6) between Gaussians fitted to the pipeline's own "
    "classifier features of generated vs test images; NOT FID, not comparable with published FID"
)


def load_classifier(checkpoint: Path, device: torch.device | str = "cpu") -> torch.nn.Module:
    model = load_model(checkpoint, map_location=device)
    model.eval()
    return model.to(device)


@torch.no_grad()
def classifier_outputs(
    classifier: torch.nn.Module, images: torch.Tensor, batch_size: int = 500
) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, D), predicted labels (N,)) for float (N, C, H, W) images in [0, 1]."""
    device = next(classifier.parameters()).device
    features, predictions = [], []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size].to(device)
        features.append(classifier.features(chunk).double().cpu())
        predictions.append(classifier.predict(chunk).argmax(dim=1).cpu())
    return torch.cat(features).numpy(), torch.cat(predictions).numpy()


def evaluate_classifier(checkpoint: Path, test: PreparedSplit, batch_size: int = 500) -> dict[str, dict]:
    """Test accuracy of a trained classifier on a prepared test split."""
    classifier = load_classifier(checkpoint)
    predictions = np.concatenate(
        [
            classifier_outputs(classifier, to_model_input(chunk), batch_size)[1]
            for chunk in batches(test["images"], batch_size)
        ]
    )
    accuracy = float((predictions == np.asarray(test["labels"])).mean())
    return {
        "test_accuracy": measured(accuracy, "fraction", "top-1 accuracy on the full test split", count=len(predictions))
    }


def classifier_frechet(classifier: torch.nn.Module, generated: torch.Tensor, reference: torch.Tensor) -> dict:
    """Fréchet distance between classifier features of generated and reference images."""
    generated_features, _ = classifier_outputs(classifier, generated)
    reference_features, _ = classifier_outputs(classifier, reference)
    first, second = feature_statistics(generated_features), feature_statistics(reference_features)
    value = frechet_distance(first.mean, first.covariance, second.mean, second.covariance)
    return measured(
        value,
        "squared feature distance",
        CLASSIFIER_FRECHET_CONVENTION,
        generated_count=len(generated),
        reference_count=len(reference),
    )


def conditional_accuracy(classifier: torch.nn.Module, samples: torch.Tensor, labels: torch.Tensor) -> dict:
    """Share of class-conditional samples classified as the label they were generated for."""
    _, predictions = classifier_outputs(classifier, samples)
    value = float((predictions == labels.cpu().numpy()).mean())
    return measured(
        value, "fraction", "argmax of the pipeline's classifier equals the conditioning label", count=len(labels)
    )
