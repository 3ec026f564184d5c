"""Model registry: ``params.yaml`` says ``model: vae``; this module turns that into a model.

A model class registers itself with its name and its frozen options dataclass::

    @register("vae", VAEOptions)
    class VAE(GenerativeModel): ...

:func:`build_model` validates the plain options mapping from ``params.yaml`` against that
dataclass (via :func:`vaerepro.structured.from_mapping`, so an unknown, mistyped or out-of-range
key fails with its key path before any work) and constructs the model. An option's range is
declared on its field, ``latent_dim: int = ranged(16, minimum=1)``
(:func:`vaerepro.structured.ranged`), never checked by hand in the constructor; what stays in a
constructor is what a range cannot say (options that must agree with each other). Checkpoints store the name and
the options as plain data, so a model can be rebuilt from a checkpoint alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import torch

from vaerepro.structured import ConfigError, from_mapping

ModelClass = TypeVar("ModelClass", bound=type)

_MODELS: dict[str, tuple[type, type]] = {}


def register(name: str, options_class: type) -> Callable[[ModelClass], ModelClass]:
    """Class decorator: make ``cls`` buildable as ``name`` with options ``options_class``.

    The class must accept the options instance as its only constructor argument. It gets
    ``registered_name`` (str) and ``options_class`` class attributes, and must declare its
    ``task`` (see :class:`vaerepro.models.base.RegisteredModel`).
    """

    def decorate(cls: ModelClass) -> ModelClass:
        if not isinstance(getattr(cls, "task", None), str):  # records and the report file results by it
            raise TypeError(f"model '{name}' ({cls.__qualname__}) declares no task (generation, denoising, ...)")
        if name in _MODELS and _MODELS[name][0] is not cls:
            raise ValueError(f"model name '{name}' is already registered by {_MODELS[name][0].__qualname__}")
        cls.registered_name = name
        cls.options_class = options_class
        _MODELS[name] = (cls, options_class)
        return cls

    return decorate


def registered_models() -> tuple[str, ...]:
    """Names of all registered models, sorted."""
    return tuple(sorted(_MODELS))


def _lookup(name: str, source: str | None = None, path: str = "") -> tuple[type, type]:
    if name not in _MODELS:
        where = f" ('{path}' in {source})" if source and path else ""
        raise ConfigError(f"unknown model '{name}'{where}; registered models: {', '.join(registered_models())}")
    return _MODELS[name]


def model_class(name: str) -> type:
    """The class registered as ``name`` (``ConfigError`` if unknown)."""
    return _lookup(name)[0]


def options_class(name: str) -> type:
    """The options dataclass of the model registered as ``name`` (``ConfigError`` if unknown)."""
    return _lookup(name)[1]


def parse_options(name: str, options: Mapping[str, Any], *, source: str | None = None, path: str = "") -> Any:
    """Validate a plain options mapping against model ``name``'s options dataclass."""
    _, options_type = _lookup(name, source, path)
    return from_mapping(options_type, options, path=path, source=source)


def build_model(
    name: str,
    options: Any,
    *,
    source: str | None = None,
    path: str = "",
    seed: int | None = None,
) -> torch.nn.Module:
    """Build model ``name`` from its typed options, or from a plain options mapping.

    Args:
        name: a registered model name.
        options: an instance of the model's options dataclass (parsed once, by
            :func:`vaerepro.experiment.resolve`), or a plain mapping (a checkpoint's), validated
            strictly against that dataclass.
        source: file the options came from, for error messages.
        path: key path of ``options`` inside that file (e.g. ``experiments.vae-mnist.options``).
        seed: when given, parameters are initialised from this seed without touching the
            caller's global RNG state, so the same seed always gives the same initial weights.

    Raises:
        ConfigError: unknown model name (listing the registered ones), bad options, or an
            option outside the range its field declares (:func:`vaerepro.structured.ranged`).
        ValueError: options the architecture cannot take (e.g. an image size that is not
            divisible by the downsampling factor), raised at construction; prefixed with
            ``path`` (as a ConfigError) when ``path`` is given.
    """
    cls, options_type = _lookup(name, source, path)
    parsed = options if isinstance(options, options_type) else parse_options(name, options, source=source, path=path)
    try:
        if seed is None:
            return cls(parsed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return cls(parsed)
    except ConfigError:
        raise
    except ValueError as error:  # a cross-option check in the model's constructor: name where the options came from
        if not path:
            raise
        raise ConfigError(f"'{path}'{f' in {source}' if source else ''}: {error}") from error
