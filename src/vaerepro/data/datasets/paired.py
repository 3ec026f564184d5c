"""Shared decoding for paired restoration datasets (degraded input, clean reference)."""

from __future__ import annotations

from pathlib import PurePosixPath

from vaerepro.data.errors import CorruptArchive
from vaerepro.data.images import decode_stack
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

    Raises:
        CorruptArchive: a directory is missing, or a file has no partner (names it).
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
    return Split(
        {
            "inputs": decode_stack([inputs[key] for key in keys], tree.read, description=f"{description} inputs"),
            "targets": decode_stack([targets[key] for key in keys], tree.read, description=f"{description} references"),
        },
        keys,
    )
