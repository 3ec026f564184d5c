"""Shared decoding for paired restoration datasets (degraded input, clean reference).

Pairs are decoded one by one. A pair whose input or reference cannot be read or decoded, or
whose size differs from that of the other pairs, is skipped: a warning names the file, and
the pair is recorded in :attr:`Split.skipped` (and from there in ``summary.json``), so one
damaged file costs one pair, not the dataset. Missing folders, files without a partner and
a set where no pair at all can be decoded remain errors.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath

import numpy as np
from tqdm import tqdm

from vaerepro.data.errors import CorruptArchive
from vaerepro.data.images import decode_image
from vaerepro.data.source_tree import SourceTree, iter_files
from vaerepro.data.splits import Split

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def locate(tree: SourceTree, relative_directory: str) -> str | None:
    """The member directory ending in ``relative_directory`` (archives often add a top folder)."""
    wanted = PurePosixPath(relative_directory).parts
    candidates = set()
    for name in tree.names():
        parts = PurePosixPath(name).parts[:-1]
        for start in range(len(parts)):
            if parts[start:] == wanted:
                candidates.add("/".join(parts))
    return min(candidates, key=len) if candidates else None


def _sort_key(name: str) -> tuple[int, int | str]:
    stem = PurePosixPath(name).stem
    return (0, int(stem)) if stem.isdigit() else (1, stem)


def decode_pairs(tree: SourceTree, input_directory: str, target_directory: str, description: str) -> Split:
    """Pair files of the same name in two member directories and decode both sides.

    Unreadable or odd-sized pairs are skipped and recorded (see :func:`decode_pair_files`).

    Raises:
        CorruptArchive: a directory is missing, a file has no partner (names it), or no pair
            can be decoded.
    """
    input_root, target_root = locate(tree, input_directory), locate(tree, target_directory)
    if input_root is None or target_root is None:
        missing = input_directory if input_root is None else target_directory
        raise CorruptArchive(f"{description}: folder '{missing}' not found in the raw data")
    inputs = {PurePosixPath(name).name: name for name in iter_files(tree, input_root, IMAGE_SUFFIXES)}
    targets = {PurePosixPath(name).name: name for name in iter_files(tree, target_root, IMAGE_SUFFIXES)}
    unpaired = sorted(set(inputs) ^ set(targets))
    if unpaired:
        raise CorruptArchive(
            f"{description}: {len(unpaired)} file(s) without a partner, e.g. '{unpaired[0]}' "
            f"(inputs in '{input_root}', references in '{target_root}')"
        )
    keys = sorted(inputs, key=_sort_key)
    return decode_pair_files([(key, inputs[key], targets[key]) for key in keys], tree.read, description)


_Shapes = tuple[tuple[int, ...], tuple[int, ...]]  # (input shape, reference shape)


def _size(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}x{shape[0]}"


def decode_pair_files(
    pairs: Sequence[tuple[str, str, str]],
    read: Callable[[str], bytes],
    description: str,
    *,
    mode: str = "RGB",
) -> Split:
    """Decode ``(name, input file, reference file)`` pairs into an ``inputs``/``targets`` Split.

    A pair is skipped, with a warning on stderr and an entry ``{"name", "error"}`` in the
    split's ``skipped``, when either file cannot be read or decoded, or when its sizes differ
    from those most pairs share (ties: the earliest pair's). The arrays of the first size
    seen are filled in place, so the common case holds one copy of the data.

    Raises:
        CorruptArchive: ``pairs`` is empty, or no pair can be decoded.
    """
    if not pairs:
        raise CorruptArchive(f"no image pairs found for {description}")
    problems: dict[int, str] = {}
    # Pairs grouped by (input shape, reference shape), as (pair index, input, reference).
    # The first group seen is written straight into preallocated arrays; others are lists.
    first_shapes: _Shapes | None = None
    first_inputs = first_targets = np.empty(0, dtype=np.uint8)
    first_indices: list[int] = []
    others: dict[_Shapes, list[tuple[int, np.ndarray, np.ndarray]]] = {}
    for index, (name, input_file, target_file) in enumerate(
        tqdm(pairs, desc=f"decode {description}", unit="pair", leave=False)
    ):
        try:
            input_image = decode_image(read(input_file), input_file, mode)
            target_image = decode_image(read(target_file), target_file, mode)
        except CorruptArchive as error:
            problems[index] = str(error)
            _warn(description, name, str(error))
            continue
        shapes = (input_image.shape, target_image.shape)
        if first_shapes is None:
            first_shapes = shapes
            first_inputs = np.empty((len(pairs), *input_image.shape), dtype=np.uint8)
            first_targets = np.empty((len(pairs), *target_image.shape), dtype=np.uint8)
        if shapes == first_shapes:
            first_inputs[len(first_indices)] = input_image
            first_targets[len(first_indices)] = target_image
            first_indices.append(index)
        else:
            others.setdefault(shapes, []).append((index, input_image, target_image))
    if first_shapes is None:
        raise CorruptArchive(
            f"{description}: none of the {len(pairs)} image pair(s) could be decoded; "
            f"first error: {problems[min(problems)]}"
        )
    counts = {first_shapes: len(first_indices)}
    counts.update((shapes, len(group)) for shapes, group in others.items())
    # max() returns the first maximum: on a tie, the sizes seen earliest are kept.
    kept_shapes = max(counts, key=lambda shapes: counts[shapes])
    if kept_shapes == first_shapes:
        kept = first_indices
        inputs, targets = first_inputs[: len(kept)], first_targets[: len(kept)]
    else:
        group = others.pop(kept_shapes)
        kept = [index for index, _, _ in group]
        inputs = np.stack([input_image for _, input_image, _ in group])
        targets = np.stack([target_image for _, _, target_image in group])
        others[first_shapes] = [
            (index, first_inputs[row], first_targets[row]) for row, index in enumerate(first_indices)
        ]
    for shapes, group in others.items():
        for index, _, _ in group:
            name, input_file, target_file = pairs[index]
            odd = [
                f"{file} is {_size(shape)}"
                for file, shape, wanted in zip((input_file, target_file), shapes, kept_shapes, strict=True)
                if shape != wanted
            ]
            problems[index] = (
                f"{' and '.join(odd)} but the other pairs of {description} are "
                f"{_size(kept_shapes[0])} (input) and {_size(kept_shapes[1])} (reference)"
            )
            _warn(description, name, problems[index])
    skipped = [{"name": pairs[index][0], "error": problems[index]} for index in sorted(problems)]
    return Split({"inputs": inputs, "targets": targets}, [pairs[index][0] for index in kept], skipped)


def _warn(description: str, name: str, error: str) -> None:
    tqdm.write(f"warning: {description}: skipping pair '{name}': {error}", file=sys.stderr)
