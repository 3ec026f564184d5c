"""Turn the library's expected errors into a one-paragraph message and exit status 1.

Stage scripts wrap their work in :func:`reported_errors` so that a missing file, a bad
checksum, a mistyped parameter, a checkpoint of another model or a diverged loss reads as an
instruction, not as a traceback. Unexpected errors keep their traceback (they are bugs);
``VAEREPRO_TRACEBACK=1`` shows it for expected ones too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# By qualified name, so that a data stage need not import torch to recognise training errors.
EXPECTED_ERRORS = {
    "vaerepro.structured.ConfigError",
    "vaerepro.data.errors.DatasetError",
    "vaerepro.training.checkpoints.CheckpointMismatchError",
    "vaerepro.training.checkpoints.CheckpointUnusable",
    "vaerepro.training.loop.NonFiniteLossError",
    "vaerepro.records.MalformedMetrics",
    "vaerepro.evaluation.fid.FidReferenceError",
    "vaerepro.metrics.inception_weights.InceptionWeightsRejected",
    "vaerepro.metrics.inception_weights.InceptionWeightsNotFound",
}


def is_expected(error: BaseException) -> bool:
    return any(f"{cls.__module__}.{cls.__qualname__}" in EXPECTED_ERRORS for cls in type(error).__mro__)


@contextmanager
def reported_errors(stage: str) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        if not is_expected(error) or os.environ.get("VAEREPRO_TRACEBACK") == "1":
            raise
        print(f"\n{stage} failed: {error}\n", file=sys.stderr)
        raise SystemExit(1) from None
