"""An experiment resolved from params.yaml: its typed model options, data and per-profile settings.

Stage scripts (``train@``, ``evaluate@``, ``classifier@``) call :func:`resolve` (or
:func:`resolve_classifier`) once, so
every stage reads an experiment the same way and fails the same way on bad input, at
stage start: an unknown model, an option the model does not have, or an image size the
model cannot take.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from vaerepro.config import Params, RestorationData
from vaerepro.data.degradations.spec import Degradation, parse_degradation
from vaerepro.data.pairs import RestorationPairs, load_pairs
from vaerepro.data.prepared import PreparedSplit, load_split, read_summary
from vaerepro.evaluation.restoration_metrics import check_metric_names
from vaerepro.evaluation.settings import EvaluateSettings, parse_evaluate_settings
from vaerepro.models import model_class, options_class, parse_options
from vaerepro.models.base import RESTORATION_TASKS
from vaerepro.structured import ConfigError, to_plain
from vaerepro.training.settings import TrainSettings, parse_train_settings

SOURCE = "params.yaml"


@dataclass(frozen=True)
class ResolvedRestoration:
    """A restoration experiment's pair sources with their degradations parsed."""

    data: RestorationData
    train_degradation: Degradation | None
    test_degradation: Degradation | None
    stress: dict[str, Degradation]


@dataclass(frozen=True)
class ResolvedExperiment:
    """One experiment, parsed once at stage start; everything downstream takes it typed.

    Attributes:
        name: ``vae-mnist`` (``classifier-mnist`` for a classifier).
        model: the registered model name.
        dataset: the dataset it is evaluated on.
        options: the model's typed options (its registered options dataclass), with
            ``image_shape`` taken from the training data and the profile's overrides applied.
        train: typed training settings; None for classical methods (nothing to train).
        evaluate: typed evaluation settings.
        prepared: the prepared dataset folder.
        params_entry: the params entry as plain data (recorded in provenance).
        params_key: where the entry lives in params.yaml (``experiments.vae-mnist``), so every
            error names the key path.
        task: ``generation``, ``denoising``, ``enhancement`` or ``classification`` (the model's).
    """

    name: str
    model: str
    dataset: str
    options: Any
    train: TrainSettings | None
    evaluate: EvaluateSettings
    prepared: Path
    params_entry: dict[str, Any]
    params_key: str
    task: str
    train_prepared: Path | None = None
    restoration: ResolvedRestoration | None = None

    @property
    def plain_options(self) -> dict[str, Any]:
        """The options as plain data (what a checkpoint stores)."""
        return to_plain(self.options)

    def settings_key(self, profile: str) -> str:
        """The params key of the training settings in ``profile`` (for error messages)."""
        return f"{self.params_key}.train.{profile}"

    def split(self, name: str) -> PreparedSplit:
        return load_split(self.prepared, name)

    def train_split(self, name: str = "train") -> PreparedSplit:
        return load_split(self.train_prepared or self.prepared, name)

    def _restoration(self) -> ResolvedRestoration:
        if self.restoration is None:
            raise ValueError(f"experiment '{self.name}' is not a restoration experiment (no 'restoration' section)")
        return self.restoration

    def train_pairs(self, seed: int) -> RestorationPairs:
        """Training pairs from ``train_dataset`` (degraded once, seeded)."""
        restoration = self._restoration()
        if restoration.data.train is None:
            raise ValueError(f"experiment '{self.name}' has no 'restoration.train' pairs")
        return load_pairs(
            self.train_prepared or self.prepared,
            restoration.data.train,
            restoration.train_degradation,
            seed=seed,
            role="train",
        )

    def test_pairs(self, seed: int) -> RestorationPairs:
        """Test pairs from ``dataset``, limited to ``evaluate.test_count``."""
        restoration = self._restoration()
        return load_pairs(
            self.prepared, restoration.data.test, restoration.test_degradation, seed=seed, role="test"
        ).head(self.evaluate.test_count)

    def stress_pairs(self, seed: int) -> dict[str, RestorationPairs]:
        """Each stress tag's test pairs: the test source under that tag's degradation."""
        restoration = self._restoration()
        return {
            tag: load_pairs(self.prepared, restoration.data.test, degradation, seed=seed, role=f"stress:{tag}").head(
                self.evaluate.test_count
            )
            for tag, degradation in restoration.stress.items()
        }


def image_shape_of(prepared: Path) -> tuple[int, int, int]:
    """(C, H, W) of a prepared dataset's images (or paired inputs)."""
    summary = read_summary(prepared)
    split = next(iter(summary["splits"].values()))
    key = "images" if "images" in split["arrays"] else "inputs"
    _, height, width, channels = split["arrays"][key]["shape"]
    return (channels, height, width)


def with_image_shape(options: dict[str, Any], data_shape: tuple[int, int, int], path: str) -> dict[str, Any]:
    """Fill ``image_shape`` from the data, or check that a configured one matches it."""
    configured = options.get("image_shape")
    if configured is None:
        return {**options, "image_shape": list(data_shape)}
    if tuple(configured) != data_shape:
        raise ConfigError(
            f"'{path}.image_shape' in {SOURCE} is {tuple(configured)} but the prepared data's images are "
            f"{data_shape} (channels, height, width); remove the key to take the data's shape"
        )
    return dict(options)


def _profile_section(sections: Any, profile: str, path: str) -> dict[str, Any]:
    if profile not in sections:
        raise ConfigError(f"'{path}.{profile}' is missing in {SOURCE}: the '{profile}' profile needs its own settings")
    return dict(sections[profile])


def resolve(params: Params, name: str, prepared_root: Path = Path("data/prepared")) -> ResolvedExperiment:
    """Resolve ``experiments.<name>``."""
    if name not in params.experiments:
        known = ", ".join(sorted(params.experiments)) or "none"
        raise ConfigError(f"no experiment '{name}' in {SOURCE} (experiments: {known})")
    entry = params.experiments[name]
    return _resolve_entry(
        params, name, entry, f"experiments.{name}", entry.model, entry.dataset, entry.evaluate, prepared_root
    )


def resolve_classifier(params: Params, dataset: str, prepared_root: Path = Path("data/prepared")) -> ResolvedExperiment:
    """Resolve ``classifiers.<dataset>`` (the sample-quality instrument), named ``classifier-<dataset>``."""
    if dataset not in params.classifiers:
        known = ", ".join(sorted(params.classifiers)) or "none"
        raise ConfigError(f"no classifier for dataset '{dataset}' in {SOURCE} (classifiers: {known})")
    return _resolve_entry(
        params,
        f"classifier-{dataset}",
        params.classifiers[dataset],
        f"classifiers.{dataset}",
        "classifier",
        dataset,
        {params.profile: {}},
        prepared_root,
    )


def _resolve_entry(
    params: Params,
    name: str,
    entry: Any,
    base: str,
    model: str,
    dataset: str,
    evaluate_sections: Any,
    prepared_root: Path,
) -> ResolvedExperiment:
    prepared = params.resolve(prepared_root) / dataset
    train_dataset = getattr(entry, "train_dataset", dataset)  # a classifier entry trains on its own dataset
    train_prepared = params.resolve(prepared_root) / train_dataset
    # The model is built for the data it trains on (restoration models are fully convolutional
    # and take other sizes at test time; the channel count is what must agree).
    overrides = getattr(entry, "profile_options", {}).get(params.profile, {})
    unknown = sorted(set(overrides) - {field.name for field in fields(options_class(model))})
    if unknown:  # name the key where it is written, not where it lands
        parse_options(
            model, {unknown[0]: overrides[unknown[0]]}, source=SOURCE, path=f"{base}.profile_options.{params.profile}"
        )
    plain = with_image_shape({**entry.options, **overrides}, image_shape_of(train_prepared), f"{base}.options")
    options = parse_options(model, plain, source=SOURCE, path=f"{base}.options")  # parsed once, here
    cls = model_class(model)
    if not cls.trainable:  # nothing is trained: a train section would be a knob that does nothing
        if entry.train:
            raise ConfigError(
                f"'{base}.train' in {SOURCE}: model '{model}' is a classical method with nothing to "
                f"train; remove the section"
            )
        train = None
    else:
        train = parse_train_settings(
            _profile_section(entry.train, params.profile, f"{base}.train"),
            source=SOURCE,
            path=f"{base}.train.{params.profile}",
        )
    evaluate = parse_evaluate_settings(
        evaluate_sections.get(params.profile, {}), source=SOURCE, path=f"{base}.evaluate.{params.profile}"
    )
    restoration = _resolve_restoration(getattr(entry, "restoration", None), model, base)
    if (
        restoration is not None
        and restoration.data.train is not None
        and cls.supervised
        and (train_dataset, restoration.data.train.split) == (dataset, restoration.data.test.split)
    ):
        raise ConfigError(
            f"'{base}.restoration.train' in {SOURCE} trains the supervised model '{model}' on the test "
            f"split '{restoration.data.test.split}' of '{dataset}': it would learn the test references"
        )
    return ResolvedExperiment(
        name,
        model,
        dataset,
        options,
        train,
        evaluate,
        prepared,
        to_plain(entry),
        base,
        cls.task,
        train_prepared,
        restoration,
    )


def _is_classical(model: str) -> bool:
    cls = model_class(model)
    return cls.task in RESTORATION_TASKS and not cls.trainable


def _resolve_restoration(data: RestorationData | None, model: str, base: str) -> ResolvedRestoration | None:
    is_restoration = model_class(model).task in RESTORATION_TASKS
    if is_restoration and data is None:
        raise ConfigError(
            f"'{base}.restoration' is missing in {SOURCE}: model '{model}' is a restoration model and "
            f"needs its training and test pairs described (train/test split, source, degradation)"
        )
    if data is None:
        return None
    if not is_restoration:
        raise ConfigError(f"'{base}.restoration' in {SOURCE}: model '{model}' is not a restoration model")
    if data.train is None and model_class(model).trainable:
        raise ConfigError(
            f"'{base}.restoration.train' is missing in {SOURCE}: model '{model}' is trained and needs "
            f"its training pairs (split, source, degradation)"
        )
    if data.crop_size < 8:
        raise ConfigError(f"'{base}.restoration.crop_size' in {SOURCE} must be >= 8, got {data.crop_size}")
    try:
        check_metric_names(data.metrics, f"'{base}.restoration.metrics' in {SOURCE}")
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if data.comparison_method is not None and not _is_classical(data.comparison_method):
        raise ConfigError(
            f"'{base}.restoration.comparison_method' in {SOURCE} must name a classical method "
            f"(e.g. bm3d), got '{data.comparison_method}'"
        )

    def parsed(mapping: Any, path: str) -> Degradation | None:
        return None if mapping is None else parse_degradation(mapping, source=SOURCE, path=path)

    return ResolvedRestoration(
        data,
        parsed(data.train.degradation if data.train else None, f"{base}.restoration.train.degradation"),
        parsed(data.test.degradation, f"{base}.restoration.test.degradation"),
        {
            tag: parse_degradation(mapping, source=SOURCE, path=f"{base}.restoration.stress.{tag}")
            for tag, mapping in data.stress.items()
        },
    )
