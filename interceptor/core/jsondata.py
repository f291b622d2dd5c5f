"""Dataclasses to JSON values and back, by their type hints: the typed contracts that cross
a process boundary (the side work's stats, the status document) are read as attributes
on both sides, so renaming a field is a type error, not a silently zeroed series.

Supported field types: bool, int, float, str, None, nested dataclasses, ``X | None``,
``list[X]``, ``tuple[X, ...]`` and ``dict[str, X]``. Reading is lenient, as a reader of a
snapshot written by an older or newer process must be: a missing or mistyped field takes
its default, unknown keys are ignored.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING = object()


def to_json(value: Any) -> Any:
    """A dataclass instance (or plain value) as JSON-ready dicts, lists and scalars."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {item.name: to_json(getattr(value, item.name))
                for item in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(item) for item in value]
    return value


def from_json(cls: type[T], value: Any) -> T:
    """An instance of the dataclass ``cls`` from what :func:`to_json` wrote."""
    result = _convert(cls, value)
    if result is _MISSING:
        return cls()
    return typing.cast(T, result)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _default(item: dataclasses.Field[Any]) -> Any:
    if item.default is not dataclasses.MISSING:
        return item.default
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return _MISSING


def _convert(kind: Any, value: Any) -> Any:
    """``value`` as ``kind``, or _MISSING when it cannot be."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is not type(None):
                converted = _convert(option, value)
                if converted is not _MISSING:
                    return converted
        return _MISSING
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            return _MISSING
        hints = _hints(kind)
        arguments = {}
        for item in dataclasses.fields(kind):
            if not item.init:
                continue
            converted = _convert(hints[item.name], value[item.name]) \
                if item.name in value else _MISSING
            if converted is _MISSING:
                converted = _default(item)
                if converted is _MISSING:
                    return _MISSING
            arguments[item.name] = converted
        return kind(**arguments)
    if origin is dict:
        _, item_kind = typing.get_args(kind)
        if not isinstance(value, dict):
            return _MISSING
        out = {}
        for key, item in value.items():
            converted = _convert(item_kind, item)
            if converted is not _MISSING:
                out[str(key)] = converted
        return out
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            return _MISSING
        item_kind = typing.get_args(kind)[0]
        items = [_convert(item_kind, item) for item in value]
        if any(item is _MISSING for item in items):
            return _MISSING
        return items if origin is list else tuple(items)
    if kind is Any:
        return value
    if kind is float:
        return float(value) if isinstance(value, int | float) and \
            not isinstance(value, bool) else _MISSING
    if kind is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _MISSING
    if kind in (str, bool):
        return value if isinstance(value, kind) else _MISSING
    if value is None and kind is type(None):
        return None
    return _MISSING
