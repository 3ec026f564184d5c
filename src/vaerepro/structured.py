"""Strict conversion of plain mappings (parsed YAML) into frozen dataclasses.

Every knob in ``params.yaml`` and ``datasets.yaml`` ends up in a frozen dataclass. This module
is the one place that does that conversion, so that every section (datasets, experiments, model
options, training settings) fails the same way on bad input: before any work, with a message
that names the offending key, its path inside the file (``experiments.vae-mnist.train.steps``)
and the file itself.

Supported field types: ``int``, ``float`` (an int is accepted and widened), ``bool``,
``str``, ``pathlib.Path``, ``Literal[...]``, ``X | None``, ``tuple[X, ...]``,
``tuple[X, Y]``, ``dict[str, X]`` and nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is unknown, missing or of the wrong type.

    The message always names the key path and, when known, the source file.
    """


def _describe(path: str, source: str | None) -> str:
    where = f"'{path}'" if path else "the top level"
    return f"{where} in {source}" if source else where


def from_mapping(cls: type[T], mapping: Any, *, path: str = "", source: str | None = None) -> T:
    """Build dataclass ``cls`` from ``mapping``, rejecting unknown keys and wrong types.

    Args:
        cls: a dataclass type; its fields' annotations define what is accepted.
        mapping: the parsed YAML/JSON value for this section.
        path: dotted key path of ``mapping`` inside the file, used in error messages.
        source: the file the mapping came from (e.g. ``params.yaml``), for error messages.

    Raises:
        ConfigError: unknown key, missing required key, or a value of the wrong type.
    """
    if not isinstance(mapping, Mapping):
        raise ConfigError(
            f"{_describe(path, source)} must be a mapping of keys to values, got {type(mapping).__name__}: {mapping!r}"
        )
    fields = {field.name: field for field in dataclasses.fields(cls) if field.init}
    unknown = sorted(set(map(str, mapping)) - set(fields))
    if unknown:
        key = unknown[0]
        key_path = f"{path}.{key}" if path else key
        raise ConfigError(
            f"unknown key '{key_path}' in {source or 'the configuration'}; "
            f"allowed keys here: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, field in fields.items():
        key_path = f"{path}.{name}" if path else name
        if name not in mapping:
            has_default = field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
            if not has_default:
                raise ConfigError(f"missing required key '{key_path}' in {source or 'the configuration'}")
            continue
        values[name] = convert(hints[name], mapping[name], path=key_path, source=source)
    return cls(**values)


def convert(annotation: Any, value: Any, *, path: str, source: str | None) -> Any:
    """Check ``value`` against the type ``annotation`` and convert it (tuples, Paths)."""
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)

    def wrong(expected: str) -> ConfigError:
        return ConfigError(f"{_describe(path, source)} must be {expected}, got {type(value).__name__}: {value!r}")

    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in arguments:
            return None
        errors = []
        for option in arguments:
            if option is type(None):
                continue
            try:
                return convert(option, value, path=path, source=source)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{_describe(path, source)}: " + "; ".join(errors))
    if origin is typing.Literal:
        if value not in arguments:
            raise wrong("one of " + ", ".join(repr(option) for option in arguments))
        return value
    if dataclasses.is_dataclass(annotation):
        return from_mapping(annotation, value, path=path, source=source)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise wrong("a list")
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            item_types = [arguments[0]] * len(value)
        else:
            if len(value) != len(arguments):
                raise wrong(f"a list of {len(arguments)} items")
            item_types = list(arguments)
        return tuple(
            convert(item_type, item, path=f"{path}[{index}]", source=source)
            for index, (item_type, item) in enumerate(zip(item_types, value, strict=True))
        )
    if origin in (dict, Mapping) or annotation is dict:
        if not isinstance(value, Mapping):
            raise wrong("a mapping")
        value_type = arguments[1] if arguments else Any
        return types.MappingProxyType(
            {str(key): convert(value_type, item, path=f"{path}.{key}", source=source) for key, item in value.items()}
        )
    if annotation is bool:
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong("a number")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise wrong("a string")
        return value
    if annotation is Path:
        if not isinstance(value, str):
            raise wrong("a path string")
        return Path(value)
    raise TypeError(f"unsupported annotation {annotation!r} at {path}")  # a programming error


def to_plain(value: Any) -> Any:
    """Turn a dataclass (possibly nested, with tuples/Paths/mapping proxies) into JSON-able data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: to_plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value
