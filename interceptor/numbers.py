"""Telephone numbers: normalisation to E.164 and on-net / off-net / international classes.

**E.164 here means the digits only, without '+'** (``84912345678``): that is what
Subscription-Id-Data carries for END_USER_E164, and what is stored and compared. Use
:func:`international_format` / :func:`national_format` for display.

Accepted input (Called/Calling-Party-Address, Subscription-Id-Data, admin input):

* ``tel:`` URIs (RFC 3966): ``tel:+84-912-345-678``, ``tel:0912345678;phone-context=
  ims.example.net`` (a domain context: dialled at home, national rules apply),
  ``tel:912345678;phone-context=+84`` (a global-number context: prepended);
* ``sip:``/``sips:`` URIs (RFC 3261): ``sip:+84912345678@ims.example.net;user=phone``,
  ``sip:0912345678;phone-context=+84@ims.example.net``; ``<...>`` and a display name are
  tolerated; ``%2B`` is decoded;
* bare numbers with visual separators ``- . ( )`` and spaces: ``+84 912 345 678``,
  ``0084...`` (international prefix), ``0912...`` (national trunk prefix), ``84912...``
  (country code without '+'), ``912...`` (national significant number alone, when its
  length is a valid national length), and ``+84 (0) 912...`` / ``840912...``.

Anything else yields ``NormalisedNumber(None, reason)``: never an exception.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol
from urllib.parse import unquote

from interceptor.core.section import ConfigError, Section
from interceptor.core.vocabulary import CalleeClass, PortabilityStatus

logger = logging.getLogger(__name__)

E164_MAX_DIGITS = 15
FOREIGN_MIN_DIGITS = 7
"""Shortest foreign E.164 number accepted (country code included)."""

_VISUAL_SEPARATORS = str.maketrans("", "", "-. ()\t")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


@dataclass(frozen=True)
class NumberingConfig:
    """The home numbering plan. Defaults: Vietnam (+84, trunk prefix 0, '00' abroad;
    national significant numbers of 9 digits (mobile) or 10 (fixed))."""

    country_code: str = "84"
    national_prefix: str = "0"
    international_prefix: str = "00"
    national_number_lengths: tuple[int, ...] = (9, 10)
    on_net_prefixes: tuple[str, ...] = ()
    """E.164 prefixes (no '+') of this operator's ranges, e.g. ("8491", "8494")."""
    accept_bare_national: bool = True
    """Accept a national significant number without trunk prefix (``912345678``)."""


DEFAULT_NUMBERING = NumberingConfig()


class NormalisedNumber(NamedTuple):
    e164: str | None
    """Digits without '+', or None when the input is not a usable number."""
    reason: str | None = None
    """Why normalisation failed (None on success)."""

    @property
    def ok(self) -> bool:
        return self.e164 is not None


def _fail(reason: str) -> NormalisedNumber:
    return NormalisedNumber(None, reason)


def normalise(raw: str | None, config: NumberingConfig = DEFAULT_NUMBERING) -> NormalisedNumber:
    """``raw`` (a URI or a dialled number) as E.164 digits, or a reason."""
    if raw is None:
        return _fail("empty")
    text = raw.strip()
    if "<" in text:
        start = text.find("<")
        stop = text.find(">", start)
        if stop < 0:
            return _fail("unbalanced '<' in address")
        text = text[start + 1:stop].strip()
    if not text:
        return _fail("empty")
    phone_context: str | None = None
    scheme = _SCHEME.match(text)
    if scheme is not None:
        name = scheme.group(1).lower()
        body = text[scheme.end():]
        if name == "tel":
            number, _, parameters = body.partition(";")
        elif name in ("sip", "sips"):
            userinfo, at, _host = body.split("?", 1)[0].partition("@")
            if not at:
                return _fail(f"{name}: URI without a user part")
            user = userinfo.split(":", 1)[0]  # drop a password
            number, _, parameters = user.partition(";")
        else:
            return _fail(f"unsupported URI scheme {name!r}")
        phone_context = _parameter(parameters, "phone-context")
        number = unquote(number)
    else:
        number = text
    return _normalise_number(number, phone_context, config)


def _parameter(parameters: str, name: str) -> str | None:
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == name:
            return unquote(value.strip())
    return None


def _normalise_number(number: str, phone_context: str | None,
                      config: NumberingConfig) -> NormalisedNumber:
    digits = number.translate(_VISUAL_SEPARATORS)
    if not digits:
        return _fail("no digits")
    international = digits.startswith("+")
    if international:
        digits = digits[1:]
    if not (digits.isascii() and digits.isdigit()):
        return _fail(f"not a telephone number: {number!r}")
    if international:
        return _international(digits, config)
    if phone_context and phone_context.startswith("+"):
        prefix = phone_context[1:].translate(_VISUAL_SEPARATORS)
        if not (prefix.isascii() and prefix.isdigit()):
            return _fail(f"bad phone-context {phone_context!r}")
        return _international(prefix + digits, config)
    # A local number, or one with a domain phone-context: dialled as at home.
    if config.international_prefix and digits.startswith(config.international_prefix):
        return _international(digits[len(config.international_prefix):], config)
    if config.national_prefix and digits.startswith(config.national_prefix):
        return _national(digits[len(config.national_prefix):], config)
    if digits.startswith(config.country_code):
        with_country_code = _international(digits, config)
        if with_country_code.ok or not config.accept_bare_national \
                or len(digits) not in config.national_number_lengths:
            return with_country_code
    if config.accept_bare_national:
        return _national(digits, config)
    return _fail(f"cannot tell the format of {number!r} (no '+', international or "
                 f"national prefix)")


def _international(digits: str, config: NumberingConfig) -> NormalisedNumber:
    """``digits`` start with a country code."""
    if not digits:
        return _fail("no digits after the international prefix")
    if digits[0] == "0":
        return _fail("a country code cannot start with 0")
    country_code = config.country_code
    if digits.startswith(country_code):
        national = digits[len(country_code):]
        trunk = config.national_prefix
        # "+84 (0) 912 345 678" and "840912345678": a trunk prefix kept after the CC.
        if trunk and national.startswith(trunk) \
                and len(national) - len(trunk) in config.national_number_lengths:
            national = national[len(trunk):]
        return _national(national, config)
    if len(digits) < FOREIGN_MIN_DIGITS:
        return _fail(f"too short for an international number ({len(digits)} digits)")
    if len(digits) > E164_MAX_DIGITS:
        return _fail(f"too long for an E.164 number ({len(digits)} digits, max "
                     f"{E164_MAX_DIGITS})")
    return NormalisedNumber(digits)


def _national(national: str, config: NumberingConfig) -> NormalisedNumber:
    """``national`` is a national significant number of the home country."""
    lengths = config.national_number_lengths
    expected = " or ".join(str(length) for length in lengths)
    if not national:
        return _fail("no digits after the national prefix")
    if config.national_prefix and national.startswith(config.national_prefix):
        return _fail(f"national number {national!r} starts with the trunk prefix")
    if len(national) not in lengths:
        size = "too short" if len(national) < min(lengths) else (
            "too long" if len(national) > max(lengths) else "wrong length")
        return _fail(f"{size} for a +{config.country_code} number ({len(national)} "
                     f"national digits, expected {expected})")
    return NormalisedNumber(config.country_code + national)


def international_format(e164: str) -> str:
    """``84912345678`` -> ``+84912345678``."""
    return "+" + e164


def national_format(e164: str, config: NumberingConfig = DEFAULT_NUMBERING) -> str:
    """``84912345678`` -> ``0912345678`` for home numbers; ``+1...`` for foreign ones."""
    if e164.startswith(config.country_code):
        return config.national_prefix + e164[len(config.country_code):]
    return international_format(e164)


# ---------------------------------------------------------------------------------------
# Classification


class Classification(NamedTuple):
    number_class: CalleeClass  # one of KNOWN_CALLEE_CLASSES (never unknown)
    basis: str
    """Why: "ported_in", "ported_out", "prefix 8491", "no on-net prefix", "country code"."""


class PortabilityLookup(Protocol):
    """Number portability, e.g. backed by the SQL table the storage layer owns."""

    def status(self, e164: str) -> PortabilityStatus | None:
        """"ported_in" (now ours), "ported_out" (now another operator's) or None."""
        ...


class MappingPortability:
    """A PortabilityLookup over a mapping ``e164 -> "ported_in" | "ported_out"``."""

    def __init__(self, statuses: Mapping[str, PortabilityStatus]) -> None:
        self._statuses = statuses

    def status(self, e164: str) -> PortabilityStatus | None:
        return self._statuses.get(e164)


def classify(e164: str, config: NumberingConfig = DEFAULT_NUMBERING,
             portability: PortabilityLookup | None = None) -> Classification:
    """Class of a normalised number. Portability wins over prefixes for home numbers;
    it is not consulted for foreign ones. Lookup errors propagate to the caller."""
    if not e164.startswith(config.country_code):
        return Classification(CalleeClass.INTERNATIONAL, "country code")
    if portability is not None:
        status = portability.status(e164)
        if status == PortabilityStatus.PORTED_IN:
            return Classification(CalleeClass.ON_NET, PortabilityStatus.PORTED_IN.value)
        if status == PortabilityStatus.PORTED_OUT:
            return Classification(CalleeClass.OFF_NET, PortabilityStatus.PORTED_OUT.value)
    for prefix in config.on_net_prefixes:
        if e164.startswith(prefix):
            return Classification(CalleeClass.ON_NET, f"prefix {prefix}")
    return Classification(CalleeClass.OFF_NET, "no on-net prefix")


# ---------------------------------------------------------------------------------------
# Configuration


def parse_numbering(section: Section) -> NumberingConfig:
    """The ``numbering`` section. ``on_net_prefixes`` is required: without it every home
    number would silently be off-net."""
    defaults = DEFAULT_NUMBERING
    country_code = _country_code(section)
    national_prefix = _prefix(section, "national_prefix", defaults.national_prefix)
    international_prefix = _prefix(section, "international_prefix",
                                   defaults.international_prefix)
    if not international_prefix:
        raise ConfigError("must not be empty", section.at("international_prefix"))
    if national_prefix and international_prefix == national_prefix:
        raise ConfigError("must differ from national_prefix",
                          section.at("international_prefix"))
    lengths = section.int_list("national_number_lengths",
                               list(defaults.national_number_lengths))
    if not lengths:
        raise ConfigError("must name at least one length",
                          section.at("national_number_lengths"))
    for index, length in enumerate(lengths):
        if not 4 <= length <= E164_MAX_DIGITS - len(country_code):
            raise ConfigError(f"must be 4..{E164_MAX_DIGITS - len(country_code)}",
                              (*section.at("national_number_lengths"), index))
    raw_prefixes = section.str_list("on_net_prefixes")
    prefixes = []
    for index, raw in enumerate(raw_prefixes):
        prefix = _on_net_prefix(raw, country_code, national_prefix)
        if prefix is None:
            raise ConfigError(f"{raw!r} is not a prefix of +{country_code} numbers (write "
                              f"it as {country_code}91... or {national_prefix or ''}91...)",
                              (*section.at("on_net_prefixes"), index))
        prefixes.append(prefix)
    config = NumberingConfig(
        country_code=country_code,
        national_prefix=national_prefix,
        international_prefix=international_prefix,
        national_number_lengths=tuple(sorted(set(lengths))),
        on_net_prefixes=tuple(dict.fromkeys(prefixes)),
        accept_bare_national=section.bool("accept_bare_national",
                                          defaults.accept_bare_national),
    )
    section.reject_unknown()
    return config


def _country_code(section: Section) -> str:
    if isinstance(section.raw.get("country_code"), int) \
            and not isinstance(section.raw.get("country_code"), bool):
        value = str(section.int("country_code"))
    else:
        value = section.str("country_code", DEFAULT_NUMBERING.country_code).lstrip("+")
    if not (value.isascii() and value.isdigit()) or value.startswith("0") \
            or not 1 <= len(value) <= 3:
        raise ConfigError("must be 1 to 3 digits, not starting with 0 (e.g. \"84\")",
                          section.at("country_code"))
    return value


def _prefix(section: Section, key: str, default: str) -> str:
    if isinstance(section.raw.get(key), int):
        raise ConfigError("must be a quoted string (YAML reads 00 as the number 0)",
                          section.at(key))
    value = section.str(key, default, allow_empty=True)
    if value and not (value.isascii() and value.isdigit()):
        raise ConfigError("must be digits", section.at(key))
    return value


def _on_net_prefix(raw: str, country_code: str, national_prefix: str) -> str | None:
    text = raw.strip().translate(_VISUAL_SEPARATORS)
    international = text.startswith("+")
    digits = text.lstrip("+")
    if not (digits.isascii() and digits.isdigit()):
        return None
    if digits.startswith(country_code):
        return digits
    if not international and national_prefix and digits.startswith(national_prefix) \
            and len(digits) > len(national_prefix):
        return country_code + digits[len(national_prefix):]
    return None


KEY_DIGITS = 9  # a watch key: the last 9 digits of an E.164 number


def watch_key(e164: str) -> bytes:
    """The key under which a subscriber is watched (its last digits: the same for
    international and national formats of the number)."""
    return e164[-KEY_DIGITS:].encode("ascii")
