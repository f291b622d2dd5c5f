"""Numbers typed by operators, normalised exactly like the interceptor normalises them.

:func:`interceptor.numbers.normalise` with the ``numbering`` section of ``--config`` when
it has one, else the default plan (Vietnam, +84). E.164 is stored as digits without '+'.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from cli.admin.errors import AdminError
from interceptor.core.section import ConfigError, Section
from interceptor.numbers import DEFAULT_NUMBERING, NumberingConfig, normalise, parse_numbering

Normaliser = Callable[[str], str]


class InvalidNumberError(ValueError):
    """The raw number cannot be normalised; the message says why."""


def load_normaliser(config_path: str | None) -> Normaliser:
    """A function raw -> E.164 digits, raising :class:`InvalidNumberError`."""
    config = numbering_config(config_path)

    def normalise_number(raw: str) -> str:
        text = raw.strip()
        result = normalise(text, config)
        if result.e164 is None:
            raise InvalidNumberError(f"{text!r}: {result.reason or 'not a valid number'}")
        return result.e164

    return normalise_number


def numbering_config(config_path: str | None) -> NumberingConfig:
    if config_path is None:
        return DEFAULT_NUMBERING
    try:
        raw = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
        root = Section(raw)
        if not root.has("numbering"):
            return DEFAULT_NUMBERING
        return parse_numbering(root.section("numbering"))
    except OSError as error:
        raise AdminError(f"cannot read config file {config_path}: {error.strerror}") from None
    except yaml.YAMLError:
        raise AdminError(f"{config_path}: not valid YAML") from None
    except ConfigError as error:
        raise AdminError(f"invalid configuration: {error}") from None
