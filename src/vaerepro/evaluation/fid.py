"""FID for an evaluation, or the reason it cannot be measured here.

Uses pytorch-fid's InceptionV3 with its own weights (verified by sha256 prefix); without the
weights file the metric is recorded as not measured, never computed on random weights.
"""

from __future__ import annotations

import numpy as np

from vaerepro.evaluation.record import measured, not_measured
from vaerepro.metrics.frechet import fid_from_features
from vaerepro.metrics.inception import extract_inception_outputs, load_fid_inception
from vaerepro.metrics.inception_weights import InceptionWeightsNotFound


def fid_entry(generated: np.ndarray, reference: np.ndarray) -> dict:
    """FID between uint8 (N, H, W, C) generated and reference images, or a not-measured entry."""
    try:
        model = load_fid_inception()
    except InceptionWeightsNotFound as error:
        return not_measured(str(error))
    generated_features = extract_inception_outputs(generated, model, progress=True, description="FID generated").features
    reference_features = extract_inception_outputs(reference, model, progress=True, description="FID reference").features
    result = fid_from_features(generated_features, reference_features)
    return measured(result["fid"], "FID", str(result["convention"]),
                    generated_count=result["num_samples_first"], reference_count=result["num_samples_second"])
