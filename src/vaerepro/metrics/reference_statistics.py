"""Cache of FID reference statistics (mean, covariance of pool3 features) per prepared dataset.

Computing the reference side of FID means running InceptionV3 over the whole reference set
(tens of minutes on a CPU); it depends only on the prepared data, the Inception weights and
this feature convention, so it is computed once and stored as
``<cache_directory>/fid-reference-<key>.npz`` where ``key`` is the prepared data's SHA-256.
The file records the key, the weights' SHA-256 and the feature convention; a file whose
record does not match what is asked for is recomputed (never silently reused), and files
are written atomically (temporary file + rename).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vaerepro.metrics.frechet import FID_CONVENTION, FeatureStatistics, feature_statistics

_KEY_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def reference_statistics_path(cache_directory: str | os.PathLike[str], key: str) -> Path:
    """Where the statistics for ``key`` live; the key must be a plain file-name token."""
    if not _KEY_PATTERN.match(key) or key in (".", ".."):
        raise ValueError(f"reference statistics key must be a plain token such as a sha256 hex digest, got {key!r}")
    return Path(cache_directory) / f"fid-reference-{key}.npz"


def _read_matching(path: Path, key: str, weights_sha256: str | None) -> FeatureStatistics | None:
    try:
        with np.load(path, allow_pickle=False) as stored:
            record = {name: stored[name] for name in stored.files}
    except (OSError, ValueError, KeyError):
        return None  # unreadable or partial: recompute
    expected = {"key": key, "weights_sha256": weights_sha256 or "", "convention": FID_CONVENTION}
    if any(name not in record or str(record[name]) != value for name, value in expected.items()):
        return None
    return FeatureStatistics(
        mean=record["mean"].astype(np.float64),
        covariance=record["covariance"].astype(np.float64),
        num_samples=int(record["num_samples"]),
    )


def save_reference_statistics(path: Path, statistics: FeatureStatistics, key: str, weights_sha256: str | None) -> None:
    """Write atomically: a crash never leaves a half-written file under the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name, suffix=".tmp.npz", dir=path.parent)
    os.close(handle)
    try:
        np.savez(
            temporary,
            mean=statistics.mean,
            covariance=statistics.covariance,
            num_samples=np.int64(statistics.num_samples),
            key=np.str_(key),
            weights_sha256=np.str_(weights_sha256 or ""),
            convention=np.str_(FID_CONVENTION),
        )
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def cached_reference_statistics(
    cache_directory: str | os.PathLike[str],
    key: str,
    compute_features: Callable[[], Any],
    *,
    weights_sha256: str | None = None,
) -> FeatureStatistics:
    """Statistics for ``key`` from the cache, or from ``compute_features()`` ((N, 2048)) and then cached.

    ``key``: the prepared data's SHA-256. ``weights_sha256``: the Inception weights' digest
    (``FIDInception.weights_sha256``), so statistics from other weights are never reused.
    """
    path = reference_statistics_path(cache_directory, key)
    if path.is_file():
        cached = _read_matching(path, key, weights_sha256)
        if cached is not None:
            return cached
    statistics = feature_statistics(compute_features())
    save_reference_statistics(path, statistics, key, weights_sha256)
    return statistics
