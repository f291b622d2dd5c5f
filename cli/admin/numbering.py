"""Numbers typed by operators, normalised exactly like the interceptor normalises them.

:func:`interceptor.numbers.normalise` with the ``numbering`` section of ``--config`` when
it has one, else the default plan (Vietnam, +84). E.164 is stored as digits without '+'.
"""

from __future__ import annotations

from collections.abc import Callable

from cli.admin.errors import AdminError
from interceptor.config.loader import load_sections
from interceptor.core.section import ConfigError
from interceptor.numbers import DEFAULT_NUMBERING, NumberingConfig, normalise

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
        return load_sections(config_path, "numbering").numbering or DEFAULT_NUMBERING
    except ConfigError as error:
        raise AdminError(f"invalid configuration: {error}") from None
