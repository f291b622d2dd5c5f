"""The configuration toolkit every section's parser uses: :class:`ConfigError` (a
message plus the path it concerns) and :class:`Section`, typed, path-aware access to a
parsed YAML mapping.

Every accessor raises :class:`ConfigError` naming the full path of the offending value,
so parsing code reads like a schema and never formats paths itself.
"""

from __future__ import annotations

import builtins
import ipaddress
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

PathElement = str | int


def format_path(path: Sequence[PathElement]) -> str:
    """Render ("peers", "ocs", 1, "port") as ``peers.ocs[1].port``."""
    text = ""
    for element in path:
        if isinstance(element, int):
            text += f"[{element}]"
        else:
            text += f".{element}" if text else element
    return text


class ConfigError(Exception):
    """A configuration value is missing or wrong; ``path`` names where."""

    def __init__(self, message: str, path: Sequence[PathElement] = ()) -> None:
        self.message = message
        self.path = tuple(path)
        super().__init__(str(self))

    def __str__(self) -> str:
        if not self.path:
            return self.message
        return f"{format_path(self.path)}: {self.message}"


T = TypeVar("T")
_MISSING: Any = object()


def read_yaml_file(path: str | Path) -> Any:
    """A YAML file's content; an unreadable file or bad YAML is a ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None


class Section:
    """A mapping in the config file, remembering where it sits."""

    def __init__(self, raw: Any, path: tuple[PathElement, ...] = ()) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigError("must be a mapping", path)
        self.raw: Mapping[builtins.str, Any] = raw
        self.path = path
        self._read: set[builtins.str] = set()

    def at(self, key: PathElement) -> tuple[PathElement, ...]:
        return (*self.path, key)

    def has(self, key: builtins.str) -> builtins.bool:
        return key in self.raw and self.raw[key] is not None

    def _get(self, key: builtins.str, default: Any) -> Any:
        self._read.add(key)
        value = self.raw.get(key)
        if value is None:
            if default is _MISSING:
                raise ConfigError("is required", self.at(key))
            return default
        return value

    def section(self, key: builtins.str) -> Section:
        self._read.add(key)
        return Section(self.raw.get(key), self.at(key))

    def sections(self, key: builtins.str, default: Any = _MISSING) -> Iterator[Section]:
        items = self._get(key, default)
        if not isinstance(items, list):
            raise ConfigError("must be a list", self.at(key))
        for index, item in enumerate(items):
            yield Section(item, (*self.at(key), index))

    def str(self, key: builtins.str, default: Any = _MISSING, *,
            allow_empty: builtins.bool = False) -> builtins.str:
        value = self._get(key, default)
        if not isinstance(value, builtins.str):
            raise ConfigError("must be a string", self.at(key))
        if not value and not allow_empty:
            raise ConfigError("must not be empty", self.at(key))
        return value

    def optional_str(self, key: builtins.str) -> builtins.str | None:
        """A string that may be left out (None then)."""
        return self.str(key) if self.has(key) else self._get(key, None)

    def bool(self, key: builtins.str, default: Any = _MISSING) -> builtins.bool:
        value = self._get(key, default)
        if not isinstance(value, builtins.bool):
            raise ConfigError("must be true or false", self.at(key))
        return value

    def int(self, key: builtins.str, default: Any = _MISSING, *, low: builtins.int | None = None,
            high: builtins.int | None = None) -> builtins.int:
        value = self._get(key, default)
        if isinstance(value, builtins.bool) or not isinstance(value, builtins.int):
            raise ConfigError("must be an integer", self.at(key))
        _check_range(value, low, high, self.at(key))
        return value

    def float(self, key: builtins.str, default: Any = _MISSING, *,
              low: builtins.float | None = None,
              high: builtins.float | None = None) -> builtins.float:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError("must be a number", self.at(key))
        _check_range(value, low, high, self.at(key))
        return float(value)

    def port(self, key: builtins.str, default: Any = _MISSING, *,
             allow_any: builtins.bool = False) -> builtins.int:
        """A TCP/UDP port; with ``allow_any``, 0 means "any free port" (listeners)."""
        value = self._get(key, default)
        low = 0 if allow_any else 1
        if isinstance(value, bool) or not isinstance(value, int) or \
                not low <= value <= 65535:
            raise ConfigError(f"must be {low}..65535", self.at(key))
        return value

    def str_list(self, key: builtins.str, default: Any = _MISSING) -> list[builtins.str]:
        value = self._get(key, default)
        if isinstance(value, builtins.str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError("must be a list of strings", self.at(key))
        for index, item in enumerate(value):
            if not isinstance(item, builtins.str) or not item:
                raise ConfigError("must be a non-empty string", (*self.at(key), index))
        return list(value)

    def int_list(self, key: builtins.str, default: Any = _MISSING) -> list[builtins.int]:
        value = self._get(key, default)
        if not isinstance(value, list):
            raise ConfigError("must be a list of integers", self.at(key))
        for index, item in enumerate(value):
            if isinstance(item, builtins.bool) or not isinstance(item, builtins.int):
                raise ConfigError("must be an integer", (*self.at(key), index))
        return list(value)

    def ip_address(self, key: builtins.str, default: Any = _MISSING) -> builtins.str:
        value = self.str(key, default)
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ConfigError(f"{value!r} is not an IP address", self.at(key)) from None
        return value

    def networks(self, key: builtins.str, default: Any = _MISSING) -> tuple[
            ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        values = self.str_list(key, default)
        networks = []
        for index, value in enumerate(values):
            try:
                networks.append(ipaddress.ip_network(value, strict=False))
            except ValueError:
                raise ConfigError(f"{value!r} is not an IP address or network",
                                  (*self.at(key), index)) from None
        return tuple(networks)

    def reject_unknown(self, *ignored: builtins.str) -> None:
        """Unknown keys are typos until proven otherwise: refuse them."""
        for key in self.raw:
            if key not in self._read and key not in ignored:
                raise ConfigError("unknown setting", self.at(key))


def _check_range(value: builtins.float, low: builtins.float | None, high: builtins.float | None,
                 path: tuple[PathElement, ...]) -> None:
    if low is not None and high is not None and not low <= value <= high:
        raise ConfigError(f"must be {low}..{high}", path)
    if low is not None and value < low:
        raise ConfigError(f"must be >= {low}", path)
    if high is not None and value > high:
        raise ConfigError(f"must be <= {high}", path)
