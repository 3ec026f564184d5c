"""What every dataset handler provides: local-copy discovery and decoding to splits.

A handler knows a dataset's on-disk *forms* (the official archive, its extracted layout,
known alternative copies such as the lossy CIFAR-10 JPEG set). ``find_local`` looks for
one of them in a user's directory; ``decode`` turns the raw files of a form into splits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vaerepro.config import DatasetParams
from vaerepro.data.splits import Split


@dataclass
class LocalMatch:
    """A usable copy found in a user's directory.

    ``files`` maps each source file to its path inside ``data/raw/<dataset>/``.
    ``form`` names the layout (read back by ``decode``); ``variant`` is the data variant
    that travels into prepared data and every metric (``official``, ``lossy-jpeg-q75``,
    ``subset-...``). ``notes`` are printed and recorded (e.g. what was incomplete).
    """

    form: str
    variant: str
    files: dict[Path, str]
    notes: list[str] = field(default_factory=list)


class DatasetHandler:
    name: str = ""
    title: str = ""
    paired: bool = False
    class_names: tuple[str, ...] = ()
    # The form used when the official files (DatasetParams.files) were downloaded/found.
    official_form: str = "official"

    def find_local(self, directory: Path, params: DatasetParams) -> LocalMatch | None:
        """Look for a copy of the dataset in ``directory``; None if nothing usable is there.

        The official distribution's files win; otherwise the handler's other forms
        (extracted layouts, known variant copies) are tried.
        """
        return official_files_in(directory, params, self.official_form) or self.find_other_forms(directory, params)

    def find_other_forms(self, directory: Path, params: DatasetParams) -> LocalMatch | None:
        """Forms other than the official archive (extracted layouts, variant copies)."""
        return None

    def decode(self, raw: Path, form: str, params: DatasetParams) -> dict[str, Split]:
        """Decode the raw files of ``form`` into splits (``train``/``test`` as available)."""
        raise NotImplementedError

    def variant_for(self, splits: dict[str, Split], form: str, variant: str, raw: Path) -> str:
        """Final variant once counts are known (e.g. a partial copy becomes ``subset-...``)."""
        return variant


def official_files_in(directory: Path, params: DatasetParams, form: str) -> LocalMatch | None:
    """All of the official distribution's files, by name, directly in ``directory``."""
    if not params.files:
        return None
    found = {directory / source.name: source.name for source in params.files if (directory / source.name).is_file()}
    if len(found) != len(params.files):
        return None
    return LocalMatch(form=form, variant="official", files=found)


def folder_files(root: Path, relative_directory: str, suffixes: tuple[str, ...]) -> dict[Path, str]:
    """Files with ``suffixes`` directly in ``root/relative_directory``, mapped to their relative path."""
    directory = root / relative_directory
    if not directory.is_dir():
        return {}
    return {
        path: f"{relative_directory}/{path.name}"
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name.lower().endswith(suffixes)
    }


def find_directory(root: Path, relative: str, max_depth: int = 3) -> Path | None:
    """``root/relative`` or ``root/<one or two levels>/relative`` (archives often add a top folder)."""
    if (root / relative).is_dir():
        return root / relative
    frontier = [root]
    for _ in range(max_depth):
        frontier = [child for parent in frontier for child in sorted(parent.iterdir()) if child.is_dir()]
        for candidate in frontier:
            if (candidate / relative).is_dir():
                return candidate / relative
    return None
