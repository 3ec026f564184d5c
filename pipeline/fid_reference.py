"""Stage ``fid_reference@<dataset>``: FID reference statistics and the real-vs-real floor.

Runs the FID Inception (models/fid_inception/, stage fid_weights) over the first N images of
the reference split and of a disjoint floor set (``fid.reference.<dataset>``; N =
``fid.count.<profile>``). Writes data/fid_reference/<dataset>/statistics.npz (mu, sigma, record;
read by every evaluate@ on the dataset) and reports/fid/<dataset>.json (the floor with its N,
weights digest and provenance; committed). Reads params: ``profile``, ``fid``.
"""

import argparse
import time
from pathlib import Path

from vaerepro.cli_errors import reported_errors
from vaerepro.config import load_params
from vaerepro.data.integrity import write_json
from vaerepro.data.prepared import read_summary
from vaerepro.evaluation.fid import (
    PIPELINE_WEIGHTS,
    FidReferenceError,
    compute_reference,
    reference_and_floor_images,
    reference_path,
    save_reference,
)
from vaerepro.metrics.inception import default_device, load_fid_inception
from vaerepro.records import environment
from vaerepro.revision import code_revision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--prepared-root", type=Path, default=Path("data/prepared"))
    parser.add_argument("--reports-root", type=Path, default=Path("reports"))
    arguments = parser.parse_args()
    started = time.perf_counter()
    device = default_device()
    with reported_errors(f"fid_reference@{arguments.dataset}"):
        params = load_params(arguments.params)
        if arguments.dataset not in params.fid.reference:
            raise FidReferenceError(f"'fid.reference' in {arguments.params} has no entry '{arguments.dataset}'")
        settings = params.fid.reference[arguments.dataset]
        count = params.fid.count_for(params.profile)
        prepared = arguments.prepared_root / arguments.dataset
        reference_images, floor_images = reference_and_floor_images(prepared, settings, count, arguments.dataset)
        model = load_fid_inception(PIPELINE_WEIGHTS, device)
        reference = compute_reference(
            arguments.dataset,
            reference_images,
            floor_images,
            model,
            split=settings.split,
            floor_split=settings.floor_split,
            batch_size=params.fid.batch_size,
        )
        save_reference(reference, reference_path(arguments.dataset))
        summary = read_summary(prepared)
    seconds = time.perf_counter() - started
    write_json(
        arguments.reports_root / "fid" / f"{arguments.dataset}.json",
        {
            **reference.record,
            "data_variant": summary["variant"],
            "dataset_sha256": summary["sha256"],
            "profile": params.profile,
            "device": str(device),
            "git_revision": code_revision(),
            "wall_time_seconds": seconds,
            "environment": environment(),
        },
    )
    print(
        f"fid_reference@{arguments.dataset}: floor FID@{count} = {reference.record['floor']:.2f} "
        f"({reference.record['floor_description']}) in {seconds:.0f} s"
    )


if __name__ == "__main__":
    main()
