"""``params.yaml`` and ``datasets.yaml`` → typed, frozen dataclasses.

Every knob of the pipeline lives in two files beside each other: ``params.yaml`` (profile,
seed, local copy, shared presets, classifiers, FID, experiments) and ``datasets.yaml``, the
dataset registry (its one top-level key ``datasets``: sources, checksums, manual steps,
splits). This module is the only reader of both. Loading is strict: an unknown key, a missing
required key or a value of the wrong type raises :class:`~vaerepro.structured.ConfigError`
naming the key path and the file it is in, before any stage does work (``dvc repro`` then
stops at the first stage with that message).

Relative paths in either file (``local_copy``, checksum manifests) are resolved against the
directory that holds ``params.yaml``, so stages behave the same from any working directory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from vaerepro.structured import ConfigError, check_ranges, from_mapping, ranged

Profile = Literal["smoke", "cpu", "full"]
PROFILES: tuple[str, ...] = ("smoke", "cpu", "full")


def empty_mapping() -> MappingProxyType:
    """A read-only empty mapping: defaults must be as frozen as parsed values."""
    return MappingProxyType({})


DATASET_NAMES: tuple[str, ...] = ("mnist", "cifar10", "celeba_hq", "lol", "euvp", "cc15")
# The dataset registry's file name; it lies beside params.yaml (dvc.yaml names it too).
DATASETS_FILE = "datasets.yaml"


@dataclass(frozen=True)
class FileSource:
    """One file of a dataset's official distribution.

    ``urls`` are mirrors tried in order; empty means the host needs a manual step and
    ``DatasetParams.manual_instructions`` says what to do. ``md5`` is usually the checksum
    the dataset's authors publish; ``sha256`` is recorded where it is known.
    """

    name: str
    urls: tuple[str, ...] = ()
    sha256: str | None = None
    md5: str | None = None


@dataclass(frozen=True)
class DatasetParams:
    """``datasets.<name>`` in ``datasets.yaml``: where the data comes from and how it is split."""

    homepage: str
    citation: str
    files: tuple[FileSource, ...] = ()
    manual_instructions: str | None = None
    # Per-file sha256 of known copies (for datasets whose authors publish no checksum).
    checksum_manifest: str | None = None
    # md5 of members inside the official archive (CIFAR-10 batches: verified before unpickling).
    member_md5: dict[str, str] = field(default_factory=empty_mapping)
    validation_count: int = 0
    split_seed: int = 0


@dataclass(frozen=True)
class PairSource:
    """Where a restoration model's (degraded, clean) pairs come from, for one role.

    ``split`` of the dataset; ``source``: the prepared array that becomes the model's input
    (``inputs`` as distributed, e.g. real noisy CC15 photos, or ``targets``/``images``: clean
    images to degrade); ``degradation``: applied to that array (``{kind: awgn, sigma: 25}``,
    see :mod:`vaerepro.data.degradations.spec`), or null. The clean reference is always the
    split's ``targets`` (``images`` for unpaired datasets).
    """

    split: str
    source: Literal["inputs", "targets", "images"] = "inputs"
    degradation: dict[str, Any] | None = None


@dataclass(frozen=True)
class RestorationData:
    """``experiments.<name>.restoration``: training and test pairs of a restoration experiment.

    ``train`` reads ``train_dataset``, ``test`` reads ``dataset``; ``crop_size``: side of the
    random square training crops; ``stress``: extra test-time degradations of the test
    source (tag → degradation), each scored as ``<metric>@<tag>``; ``metrics``: the metric
    keys to compute (see :mod:`vaerepro.evaluation.restoration_metrics`);
    ``comparison_method``: a classical model (e.g. ``bm3d``) shown beside the output in the
    native-resolution crop figure.
    """

    test: PairSource
    train: PairSource | None = None  # required for trainable models
    crop_size: int = 64
    stress: dict[str, dict[str, Any]] = field(default_factory=empty_mapping)
    metrics: tuple[str, ...] = ("psnr", "ssim_rgb", "ssim_y")
    comparison_method: str | None = None


@dataclass(frozen=True)
class Instruments:
    """``experiments.<name>.instruments``: the paths evaluate@ reads its measuring instruments
    from, written out because dvc.yaml puts them in that stage's deps (DVC has no conditionals
    and no list interpolation): the classifier and the FID reference statistics of the tested
    dataset and the FID network's weights. An experiment whose evaluation uses none of them
    (restoration, or a dataset without a classifier/FID reference) names its test data,
    ``data/prepared/<dataset>``, which evaluate@ depends on anyway. :func:`expected_instruments`
    gives the only accepted values, so the lineage cannot name the wrong instrument.
    """

    classifier: str
    fid_reference: str
    fid_weights: str


def expected_instruments(params: Params, experiment: ExperimentParams) -> Instruments:
    """The instruments evaluate@ of ``experiment`` uses (a generative evaluation loads the
    classifier and FID reference of its dataset when the project defines them)."""
    data = f"data/prepared/{experiment.dataset}"
    generative = experiment.restoration is None
    has_classifier = generative and experiment.dataset in params.classifiers
    has_fid = generative and experiment.dataset in params.fid.reference
    return Instruments(
        classifier=f"models/classifiers/{experiment.dataset}" if has_classifier else data,
        fid_reference=f"data/fid_reference/{experiment.dataset}" if has_fid else data,
        fid_weights="models/fid_inception" if has_fid else data,
    )


@dataclass(frozen=True)
class ExperimentParams:
    """One ``experiments.<model>-<dataset>`` entry.

    ``options`` are validated against the model's own options dataclass by the model
    registry; ``train`` holds per-profile training settings (``smoke`` and ``full``).
    ``train_dataset`` is the dataset training reads (the experiment's ``dataset`` is the one
    it is tested on; they differ when, e.g., underwater training pairs are synthesised from
    another dataset's clean images). It is required even where it equals ``dataset``:
    dvc.yaml interpolates ``${item.train_dataset}`` into the train@/evaluate@ dependencies,
    and DVC has no default for a missing key; ``instruments`` likewise (:class:`Instruments`).
    ``restoration`` is required for restoration models.
    """

    model: str
    dataset: str
    train_dataset: str
    # None only where no dvc.yaml reads the file (tests' own params): filled in by load_params.
    instruments: Instruments | None = None
    restoration: RestorationData | None = None
    options: dict[str, Any] = field(default_factory=empty_mapping)
    # Per-profile overrides of `options` (e.g. a narrower network for the CPU smoke run).
    profile_options: dict[str, dict[str, Any]] = field(default_factory=empty_mapping)
    train: dict[str, dict[str, Any]] = field(default_factory=empty_mapping)
    evaluate: dict[str, dict[str, Any]] = field(default_factory=empty_mapping)


@dataclass(frozen=True)
class ClassifierParams:
    """One ``classifiers.<dataset>`` entry: a small classifier trained on that dataset, whose
    test accuracy and features back the offline sample-quality measures."""

    options: dict[str, Any] = field(default_factory=empty_mapping)
    train: dict[str, dict[str, Any]] = field(default_factory=empty_mapping)


@dataclass(frozen=True)
class FidReferenceParams:
    """``fid.reference.<dataset>``: the real images generated sets are compared with.

    ``split``: the reference split (its first ``count`` images); ``floor_split``: a disjoint
    split whose first ``count`` images give the floor, FID(real, real) at the same N.
    """

    split: str = "test"
    floor_split: str = "train"


@dataclass(frozen=True)
class FidParams:
    """The ``fid`` section: FID reference statistics, computed once per dataset by
    ``fid_reference@<dataset>`` and reused by every ``evaluate@`` on that dataset.

    ``count``: images per set for each profile (reference, floor and every generated set are
    scored at this N, since FID's bias depends on N); ``batch_size``: Inception batch.
    """

    reference: dict[str, FidReferenceParams] = field(default_factory=empty_mapping)
    count: dict[str, int] = ranged(default_factory=empty_mapping, minimum=2)  # a covariance needs two images
    batch_size: int = ranged(50, minimum=1)

    def __post_init__(self) -> None:
        check_ranges(self)

    def count_for(self, profile: str) -> int:
        if profile not in self.count:
            raise ConfigError(f"'fid.count' in params.yaml has no entry for profile '{profile}'")
        return self.count[profile]


@dataclass(frozen=True)
class DatasetRegistry:
    """``datasets.yaml``: the dataset registry, under its one top-level key ``datasets``."""

    datasets: dict[str, DatasetParams]


@dataclass(frozen=True)
class Params:
    """Both files: ``datasets`` from ``datasets.yaml``, every other field from ``params.yaml``."""

    seed: int
    profile: Profile
    datasets: dict[str, DatasetParams] = field(default_factory=empty_mapping)
    local_copy: str | None = None
    experiments: dict[str, ExperimentParams] = field(default_factory=empty_mapping)
    classifiers: dict[str, ClassifierParams] = field(default_factory=empty_mapping)
    fid: FidParams = field(default_factory=FidParams)
    # Blocks that experiments reference as YAML anchors; no stage reads them directly.
    templates: dict[str, Any] = field(default_factory=empty_mapping)

    # Not from the file: where it was read from, for resolving relative paths.
    root: Path = field(default=Path("."), init=False, compare=False)

    def dataset(self, name: str) -> DatasetParams:
        if name not in self.datasets:
            raise ConfigError(f"unknown dataset '{name}'; {DATASETS_FILE} defines: {', '.join(sorted(self.datasets))}")
        return self.datasets[name]

    def resolve(self, path: str | Path) -> Path:
        """A path from either params file, made absolute relative to the files' directory."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else (self.root / candidate).resolve()

    def with_profile(self, profile: str) -> Params:
        """These params at another profile, paths still resolved against the same folder
        (``dataclasses.replace`` alone would reset ``root``, which is not an init field)."""
        return _with_root(replace(self, profile=profile), self.root)

    @property
    def local_copy_dir(self) -> Path | None:
        return self.resolve(self.local_copy) if self.local_copy else None


def _read_yaml(path: Path, what: str) -> Any:
    """A YAML file, or a ``.json`` one: the device batch carries params as JSON (the params file
    with its anchors expanded), so a machine without PyYAML can train (vaerepro.device_batch)."""
    if not path.is_file():
        raise ConfigError(f"{what} {path} not found (run from the repository root)")
    if path.suffix == ".json":
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ConfigError(f"{path} is not valid JSON: {error}") from error
        return {} if raw is None else raw
    import yaml  # here, not at import time: see above

    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    return {} if raw is None else raw


def load_params(path: str | Path = "params.yaml", datasets_path: str | Path | None = None) -> Params:
    """Read and validate ``params.yaml`` and the dataset registry beside it.

    ``datasets_path`` defaults to ``datasets.yaml`` in the folder of ``path``. Every error
    names the file that holds the offending key.

    Raises:
        ConfigError: a file is missing, not YAML, or has an unknown/missing/mistyped/out-of-range key.
    """
    path = Path(path)
    if datasets_path is None:  # beside it, in the same format (params.json → datasets.json)
        datasets_path = path.parent / (Path(DATASETS_FILE).stem + ".json" if path.suffix == ".json" else DATASETS_FILE)
    datasets_path = Path(datasets_path)
    source, datasets_source = str(path), str(datasets_path)
    raw = _read_yaml(path, "parameter file")
    if isinstance(raw, Mapping) and "datasets" in raw:
        raise ConfigError(
            f"'datasets' in {source}: the dataset registry (sources, checksums, splits) belongs in "
            f"{datasets_source}, not in {path.name}"
        )
    params = from_mapping(Params, raw, source=source)
    registry = from_mapping(DatasetRegistry, _read_yaml(datasets_path, "dataset registry"), source=datasets_source)
    params = replace(params, datasets=registry.datasets)
    unknown_datasets = sorted(set(params.datasets) - set(DATASET_NAMES))
    if unknown_datasets:
        raise ConfigError(
            f"unknown dataset 'datasets.{unknown_datasets[0]}' in {datasets_source}; "
            f"known datasets: {', '.join(DATASET_NAMES)}"
        )
    for name in params.classifiers:
        if name not in params.datasets:
            raise ConfigError(
                f"'classifiers.{name}' in {source} names no dataset defined under 'datasets' in {datasets_source}"
            )
    for name in params.fid.reference:
        if name not in params.datasets:
            raise ConfigError(
                f"'fid.reference.{name}' in {source} names no dataset defined under 'datasets' in {datasets_source}"
            )
    for profile in params.fid.count:
        if profile not in PROFILES:
            raise ConfigError(f"unknown profile 'fid.count.{profile}' in {source}; profiles are: {', '.join(PROFILES)}")
    for name, experiment in params.experiments.items():
        if "-" not in name or name.rsplit("-", 1)[1] != experiment.dataset:
            raise ConfigError(
                f"experiment name 'experiments.{name}' in {source} must be '<model>-<dataset>' "
                f"ending in its dataset '{experiment.dataset}'"
            )
        for key in ("dataset", "train_dataset"):
            if getattr(experiment, key) not in params.datasets:
                raise ConfigError(
                    f"'experiments.{name}.{key}' in {source} names dataset '{getattr(experiment, key)}', "
                    f"which is not defined under 'datasets' in {datasets_source}"
                )
        expected = expected_instruments(params, experiment)
        if experiment.instruments is None:
            object.__setattr__(experiment, "instruments", expected)
        elif experiment.instruments != expected:
            raise ConfigError(
                f"'experiments.{name}.instruments' in {source} must be {asdict(expected)} "
                f"(what its evaluation reads), not {asdict(experiment.instruments)}"
            )
        for section in ("train", "evaluate", "profile_options"):
            for profile in getattr(experiment, section):
                if profile not in PROFILES:
                    raise ConfigError(
                        f"unknown profile 'experiments.{name}.{section}.{profile}' in {source}; "
                        f"profiles are: {', '.join(PROFILES)}"
                    )
    return _with_root(params, path.resolve().parent)


def _with_root(params: Params, root: Path) -> Params:
    object.__setattr__(params, "root", root)
    return params
