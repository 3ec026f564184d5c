"""FID and Inception Score of a generated set in one Inception pass (what ``evaluate@`` needs).

Conventions are those of :mod:`vaerepro.metrics.frechet` (FID, Heusel et al. 2017) and
:mod:`vaerepro.metrics.inception_score` (IS, Salimans et al. 2016): the same pool3 pass gives
the FID features and the 1008-way IS logits. The reference side is a
:class:`~vaerepro.metrics.frechet.FeatureStatistics`, normally from
:func:`~vaerepro.metrics.reference_statistics.cached_reference_statistics`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from vaerepro.metrics.frechet import FeatureStatistics, feature_statistics, fid_from_statistics
from vaerepro.metrics.inception import FIDInception, extract_inception_outputs
from vaerepro.metrics.inception_score import DEFAULT_SPLITS, inception_score_from_logits


def fid_and_inception_score(
    generated: Iterable[Any] | Any,
    reference_statistics: FeatureStatistics,
    model: FIDInception,
    *,
    splits: int = DEFAULT_SPLITS,
    batch_size: int = 50,
    progress: bool = False,
    total: int | None = None,
) -> dict[str, dict[str, Any]]:
    """``{"fid": {...}, "inception_score": {...}}`` of generated images against reference statistics.

    ``generated``: batches as accepted by :func:`~vaerepro.metrics.inception.to_inception_input`
    (uint8 (B, H, W, C) or float (B, C, H, W) on [0, 1]). ``fid`` lists the generated sample
    count as ``num_samples_first`` and the reference count as ``num_samples_second``; both
    results name the weights' SHA-256.
    """
    outputs = extract_inception_outputs(generated, model, batch_size=batch_size, progress=progress, total=total)
    fid = fid_from_statistics(feature_statistics(outputs.features), reference_statistics)
    score = inception_score_from_logits(outputs.logits, splits=splits)
    fid["weights_sha256"] = score["weights_sha256"] = model.weights_sha256
    return {"fid": fid, "inception_score": score}
