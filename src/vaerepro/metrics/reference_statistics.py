"""FID reference statistics on disk: the Gaussian fit (mean, covariance) of one real image set.

Computing the reference side of FID means running InceptionV3 over thousands of images
(minutes to hours on a CPU), so the pipeline's ``fid_reference@<dataset>`` stage does it once
and every ``evaluate@`` of that dataset reads the file. The ``.npz`` holds ``mu`` and
``sigma`` under pytorch-fid's own key names (so ``python -m pytorch_fid`` and
``python -m vaerepro.metrics fid`` read it too), ``num_samples``, and a JSON ``record`` of
what it was computed from (dataset, split, count, weights digest, convention). Files are
written atomically (temporary file + rename): a crash never leaves a half-written file under
the final name.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from vaerepro.metrics.frechet import FeatureStatistics


def save_statistics(path: str | os.PathLike[str], statistics: FeatureStatistics, record: dict[str, Any]) -> None:
    """Write ``mu`` (d,), ``sigma`` (d, d), ``num_samples`` and the JSON ``record`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name, suffix=".tmp.npz", dir=path.parent)
    os.close(handle)
    try:
        np.savez(
            temporary,
            mu=statistics.mean,
            sigma=statistics.covariance,
            num_samples=np.int64(statistics.num_samples),
            record=np.str_(json.dumps(record, sort_keys=True)),
        )
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def load_statistics(path: str | os.PathLike[str]) -> tuple[FeatureStatistics, dict[str, Any]]:
    """Read a file written by :func:`save_statistics`; raises ``ValueError`` naming the file when
    it is unreadable or incomplete."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as stored:
            statistics = FeatureStatistics(
                mean=stored["mu"].astype(np.float64),
                covariance=stored["sigma"].astype(np.float64),
                num_samples=int(stored["num_samples"]),
            )
            record = json.loads(str(stored["record"]))
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{path} is not a readable FID reference statistics file ({error})") from error
    if statistics.covariance.shape != (statistics.mean.size, statistics.mean.size):
        raise ValueError(
            f"{path}: covariance shape {statistics.covariance.shape} does not match mean {statistics.mean.shape}"
        )
    return statistics, record
