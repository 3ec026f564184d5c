"""CelebA-HQ at 256×256 (Karras, Aila, Laine & Lehtinen, "Progressive growing of GANs", ICLR 2018).

There is no direct official download: the authors release a script that builds the 30,000
1024×1024 images from CelebA plus delta files, and the usual 256×256 copies are shared on
drives with quotas. So this dataset is a manual step (see ``manual_instructions`` in
datasets.yaml): place a folder or zip of the 30,000 images (``00000``–``29999`` or
``0``–``29999``, PNG or JPEG, 256² or 1024²). Larger images are downsampled to 256² with
Pillow's Lanczos filter, and the variant says so.

Split (fixed, by sorted file index): the first 27,000 → train (validation carved from it),
the last 3,000 → test — the 27k/3k division common in CelebA-HQ likelihood work.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from vaerepro.config import DatasetParams
from vaerepro.data.datasets.base import DatasetHandler, LocalMatch
from vaerepro.data.datasets.paired import IMAGE_SUFFIXES
from vaerepro.data.errors import CorruptArchive
from vaerepro.data.images import decode_image, decode_stack
from vaerepro.data.source_tree import open_tree
from vaerepro.data.splits import Split

IMAGE_SIZE = 256
OFFICIAL_COUNT = 30_000
TEST_COUNT = 3_000


def _index(name: str) -> int:
    stem = PurePosixPath(name).stem
    if not stem.isdigit():
        raise CorruptArchive(f"CelebA-HQ file '{name}' is not named by its index (e.g. 00042.png)")
    return int(stem)


class CelebAHQ(DatasetHandler):
    name = "celeba_hq"
    title = "CelebA-HQ 256"
    image_size = IMAGE_SIZE
    test_count = TEST_COUNT

    def find_other_forms(self, directory: Path, params: DatasetParams) -> LocalMatch | None:
        images = sorted(
            path for path in directory.rglob("*") if path.is_file() and path.name.lower().endswith(IMAGE_SUFFIXES)
        )
        if not images:
            return None
        return LocalMatch(
            form="folder",
            variant="official",
            files={path: f"images/{path.name}" for path in images},
        )

    def decode(self, raw: Path, form: str, params: DatasetParams) -> dict[str, Split]:
        source = raw / params.files[0].name if form == "official" else raw
        with open_tree(source) as tree:
            names = sorted((name for name in tree.names() if name.lower().endswith(IMAGE_SUFFIXES)), key=_index)
            if len(names) <= self.test_count:
                raise CorruptArchive(f"CelebA-HQ: found {len(names)} images, need more than {self.test_count}")
            first = decode_image(tree.read(names[0]), names[0])
            if min(first.shape[:2]) < self.image_size:
                raise CorruptArchive(
                    f"CelebA-HQ image {names[0]} is {first.shape[1]}x{first.shape[0]}, smaller than "
                    f"{self.image_size}x{self.image_size}; refusing to upsample"
                )
            size = (self.image_size, self.image_size)
            images = decode_stack(names, tree.read, description="CelebA-HQ", resize_to=size)
        split_at = len(names) - self.test_count
        return {
            "train": Split({"images": images[:split_at]}, names[:split_at]),
            "test": Split({"images": images[split_at:]}, names[split_at:]),
        }

    def variant_for(self, splits: dict[str, Split], form: str, variant: str, raw: Path) -> str:
        total = sum(len(split) for split in splits.values())
        parts = [variant if total == OFFICIAL_COUNT else f"subset-{total}-of-{OFFICIAL_COUNT}"]
        # Peek at one source image: were the originals larger than 256² (and so resized)?
        archives = [path for path in raw.iterdir() if path.name.lower().endswith((".zip", ".tar", ".tar.gz", ".tgz"))]
        source = archives[0] if form == "official" and archives else raw
        with open_tree(source) as tree:
            first_name = next(name for name in tree.names() if name.lower().endswith(IMAGE_SUFFIXES))
            height, width = decode_image(tree.read(first_name), first_name).shape[:2]
        if (height, width) != (self.image_size, self.image_size):
            parts.append(f"resized-from-{width}x{height}-lanczos")
        return "+".join(parts)
