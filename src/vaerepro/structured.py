"""Strict conversion of plain mappings (parsed YAML) into frozen dataclasses.

Every knob in ``params.yaml`` and ``datasets.yaml`` ends up in a frozen dataclass. This module
is the one place that does that conversion, so that every section (datasets, experiments, model
options, training settings) fails the same way on bad input: before any work, with a message
that names the offending key, its path inside the file (``experiments.vae-mnist.train.steps``)
and the file itself.

Supported field types: ``int``, ``float`` (an int is accepted and widened), ``bool``,
``str``, ``pathlib.Path``, ``Literal[...]``, ``X | None``, ``tuple[X, ...]``,
``tuple[X, Y]``, ``dict[str, X]`` and nested dataclasses.

Ranges are declared on the field, never checked by hand: ``latent_dim: int = ranged(16, minimum=1)``.
:func:`from_mapping` checks them before it builds the instance, so a violation names the key path
and the file (``'experiments.vae-mnist.options.latent_dim' in params.yaml must be >= 1, got 0``);
:func:`check_ranges` checks an instance built directly (model constructors and settings'
``__post_init__`` call it). Either way the error is a :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is unknown, missing, of the wrong type or out of its range.

    The message always names the key path and, when known, the source file.
    """


def _describe(path: str, source: str | None) -> str:
    where = f"'{path}'" if path else "the top level"
    return f"{where} in {source}" if source else where


@dataclasses.dataclass(frozen=True)
class Range:
    """Bounds of a numeric field: ``minimum <= value <= maximum``, ``above < value < below``.

    Any bound may be ``None`` (unbounded on that side); a side takes an inclusive or an
    exclusive bound, not both. For a tuple field every item must lie in the range, for a
    mapping every value; a ``None`` value (an optional field left unset) is always accepted.
    """

    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    below: float | None = None

    def __post_init__(self) -> None:
        if self.minimum is None and self.above is None and self.maximum is None and self.below is None:
            raise TypeError("a range needs at least one bound")
        if self.minimum is not None and self.above is not None:
            raise TypeError("a range takes minimum (>=) or above (>), not both")
        if self.maximum is not None and self.below is not None:
            raise TypeError("a range takes maximum (<=) or below (<), not both")

    def contains(self, value: float) -> bool:
        # Written as "not (inside)" so that NaN is outside every range.
        return not (
            (self.minimum is not None and not value >= self.minimum)
            or (self.above is not None and not value > self.above)
            or (self.maximum is not None and not value <= self.maximum)
            or (self.below is not None and not value < self.below)
        )

    def describe(self) -> str:
        """``>= 1``, ``> 0``, ``< 1``, ``in (0, 1)``, ``in [0, 1)`` ..."""
        sides = ((">=", self.minimum), (">", self.above), ("<=", self.maximum), ("<", self.below))
        bounds = [(symbol, bound) for symbol, bound in sides if bound is not None]
        if len(bounds) == 1:
            return f"{bounds[0][0]} {bounds[0][1]}"
        (low_symbol, low), (high_symbol, high) = bounds
        return f"in {'[' if low_symbol == '>=' else '('}{low}, {high}{']' if high_symbol == '<=' else ')'}"


def ranged(
    default: Any = dataclasses.MISSING,
    *,
    default_factory: Any = dataclasses.MISSING,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    below: float | None = None,
) -> Any:
    """A dataclass field whose value (each item of a tuple, each value of a mapping) must lie in a range.

    ``minimum``/``maximum`` are inclusive bounds, ``above``/``below`` exclusive ones. Omit
    ``default`` (and ``default_factory``) for a required field. ``None`` values pass, so an
    ``X | None`` field may be left unset.
    """
    bounds = Range(minimum=minimum, maximum=maximum, above=above, below=below)
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"range": bounds})


@functools.cache
def _ranged_fields(cls: type) -> tuple[tuple[str, Range, bool], ...]:
    """(name, range, whether None is allowed) for every ranged field of dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    return tuple(
        (field.name, field.metadata["range"], type(None) in typing.get_args(hints[field.name]))
        for field in dataclasses.fields(cls)
        if "range" in field.metadata
    )


def _check_values(cls: type, values: Mapping[str, Any], path: str, source: str | None) -> None:
    for name, bounds, optional in _ranged_fields(cls):
        value = values.get(name)
        if value is None:
            continue
        key_path = f"{path}.{name}" if path else name
        if isinstance(value, Mapping):
            items = [(f"{key_path}.{key}", item) for key, item in value.items()]
        elif isinstance(value, tuple | list):
            items = [(f"{key_path}[{index}]", item) for index, item in enumerate(value)]
        else:
            items = [(key_path, value)]
        for where, item in items:
            if item is not None and not bounds.contains(item):
                null = " or null" if optional else ""
                raise ConfigError(f"{_describe(where, source)} must be {bounds.describe()}{null}, got {item!r}")


def check_ranges(instance: Any, *, path: str = "", source: str | None = None) -> None:
    """Check the ranges declared with :func:`ranged` on a dataclass instance built directly.

    Args:
        instance: a dataclass instance (model options, training settings ...).
        path: its key path in ``source``; by default the class name, so the message names
            ``VAEOptions.latent_dim``.
        source: the file it came from, if any.

    Raises:
        ConfigError: a value (or a tuple's item) outside its field's range.
    """
    cls = type(instance)
    values = {name: getattr(instance, name) for name, _, _ in _ranged_fields(cls)}
    _check_values(cls, values, path or cls.__name__, source)


def from_mapping(cls: type[T], mapping: Any, *, path: str = "", source: str | None = None) -> T:
    """Build dataclass ``cls`` from ``mapping``, rejecting unknown keys and wrong types.

    Args:
        cls: a dataclass type; its fields' annotations define what is accepted.
        mapping: the parsed YAML/JSON value for this section.
        path: dotted key path of ``mapping`` inside the file, used in error messages.
        source: the file the mapping came from (e.g. ``params.yaml``), for error messages.

    Raises:
        ConfigError: unknown key, missing required key, a value of the wrong type, or a value
            outside the range its field declares (:func:`ranged`).
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
    _check_values(cls, values, path, source)  # here, where the key path is known
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
