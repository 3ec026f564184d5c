"""An experiment resolved from params.yaml: its model options, data and per-profile settings.

Stage scripts (``train@``, ``evaluate@``, ``classifier@``) call :func:`resolve` once, so
every stage reads an experiment the same way and fails the same way on bad input, at
stage start: an unknown model, an option the model does not have, or an image size the
model cannot take.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaerepro.config import Params
from vaerepro.data.prepared import PreparedSplit, load_split, read_summary
from vaerepro.evaluation.settings import EvaluateSettings, parse_evaluate_settings
from vaerepro.models import parse_options
from vaerepro.structured import ConfigError, to_plain
from vaerepro.training.settings import TrainSettings, parse_train_settings

SOURCE = "params.yaml"


@dataclass(frozen=True)
class ResolvedExperiment:
    name: str
    model: str
    dataset: str
    options: dict[str, Any]
    train: TrainSettings
    evaluate: EvaluateSettings
    prepared: Path
    params_entry: dict[str, Any]

    def split(self, name: str) -> PreparedSplit:
        return load_split(self.prepared, name)


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
    """Resolve ``experiments.<name>``; ``classifier-<dataset>`` resolves ``classifiers.<dataset>``."""
    if name.startswith("classifier-") and name.removeprefix("classifier-") in params.classifiers:
        dataset = name.removeprefix("classifier-")
        entry, base, model = params.classifiers[dataset], f"classifiers.{dataset}", "classifier"
        evaluate_sections: Any = {params.profile: {}}
    elif name in params.experiments:
        entry, base = params.experiments[name], f"experiments.{name}"
        dataset, model, evaluate_sections = entry.dataset, entry.model, entry.evaluate
    else:
        known = ", ".join(sorted(params.experiments)) or "none"
        raise ConfigError(f"no experiment '{name}' in {SOURCE} (experiments: {known})")
    prepared = params.resolve(prepared_root) / dataset
    options = with_image_shape(dict(entry.options), image_shape_of(prepared), f"{base}.options")
    parse_options(model, options, source=SOURCE, path=f"{base}.options")  # fail now, not mid-run
    train = parse_train_settings(
        _profile_section(entry.train, params.profile, f"{base}.train"), source=SOURCE, path=f"{base}.train.{params.profile}"
    )
    evaluate = parse_evaluate_settings(
        evaluate_sections.get(params.profile, {}), source=SOURCE, path=f"{base}.evaluate.{params.profile}"
    )
    return ResolvedExperiment(name, model, dataset, options, train, evaluate, prepared, to_plain(entry))
