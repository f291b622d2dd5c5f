"""The whole configuration file: one typed object per section."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from interceptor.config.errors import ConfigError
from interceptor.config.reader import Section
from interceptor.config.relay import RelayConfig, parse_relay


@dataclass(frozen=True)
class InterceptorConfig:
    relay: RelayConfig
    source: str = "<memory>"


def parse_config(raw: Any, source: str = "<memory>") -> InterceptorConfig:
    root = Section(raw)
    config = InterceptorConfig(relay=parse_relay(root), source=source)
    root.reject_unknown()
    return config


def load_config(path: str | Path) -> InterceptorConfig:
    """Read and validate a YAML file; every problem is a ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    return parse_config(raw, str(path))
