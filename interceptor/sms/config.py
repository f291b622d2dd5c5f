"""The ``sms`` configuration section: SMSC binds, which beep outcomes send an SMS,
templates per language, senders per callee class, encoding limits, ads.

Passwords never sit in the file: ``password_env`` names an environment variable,
``password_file`` a file (relative to the config file's folder) holding it.
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from interceptor.core.section import ConfigError, Section
from interceptor.core.vocabulary import NOT_BEEPED, CalleeClass, OutcomeKind
from interceptor.smpp.config import BIND_MODES, BindConfig, PoolConfig
from interceptor.sms.gsm7 import CONCAT_MODES


class SenderType(StrEnum):
    """Who an SMS comes from (``sender.<class>.type``)."""

    CALLER = "caller"  # A's MSISDN (TON 1, NPI 1)
    SHORT_CODE = "short_code"  # TON 3
    ALPHANUMERIC = "alphanumeric"  # TON 5


class CallerFormat(StrEnum):
    """How ``{caller}`` and ``{callee}`` are written."""

    NATIONAL = "national"  # 0912345678
    NATIONAL_SPACED = "national_spaced"  # 0912 345 678
    INTERNATIONAL = "international"  # +84912345678


PLACEHOLDERS = frozenset({"caller", "caller_national", "caller_international", "callee",
                          "time", "date", "ad"})
# What a send_after list may name: every beep outcome, and not_beeped.
SEND_AFTER_OUTCOMES = (*(kind.value for kind in OutcomeKind), NOT_BEEPED)
_SEND_BY_DEFAULT = frozenset({CalleeClass.ON_NET, CalleeClass.OFF_NET})  # else never
_SHORT_CODE = re.compile(r"^[0-9]{3,8}$")
_ALPHANUMERIC = re.compile(r"^[A-Za-z0-9 ._-]{1,11}$")


@dataclass(frozen=True)
class SenderConfig:
    kind: SenderType = SenderType.CALLER
    value: str | None = None


@dataclass(frozen=True)
class Templates:
    to_callee: str
    to_caller: str | None = None


@dataclass(frozen=True)
class AdsConfig:
    enabled: bool = True
    separator: str = " - "
    refresh: float = 30.0  # seconds between reloads of the campaigns


@dataclass(frozen=True)
class SmsConfig:
    pool: PoolConfig
    send_after: dict[str, tuple[str, ...]]  # class -> outcomes that send; () never
    templates: dict[str, Templates]
    language: dict[str, str]  # class -> template language
    senders: dict[str, SenderConfig]
    time_zone: str = "Asia/Ho_Chi_Minh"
    time_format: str = "%H:%M"
    date_format: str = "%d/%m"
    caller_format: CallerFormat = CallerFormat.NATIONAL
    country_code: str = "84"
    national_prefix: str = "0"
    to_caller: bool = False
    caller_sender: SenderConfig | None = None  # who the SMS to A comes from
    max_parts: int = 3
    concatenation: str = "udh"
    delivery_receipts: bool = True
    ads: AdsConfig = field(default_factory=AdsConfig)
    max_age: float = 3600.0  # queued longer than this: expired
    max_queued: int = 100_000  # beyond this many queued, the oldest expire
    batch: int = 100
    pickup_interval: float = 2.0


def parse_sms(section: Section, *, base_dir: Path | None = None,
              country_code: str = "84", national_prefix: str = "0") -> SmsConfig:
    pool = _pool(section.section("smsc"), base_dir)
    templates = _templates(section.section("templates"))
    language = _language(section, templates)
    time_zone = section.str("time_zone", "Asia/Ho_Chi_Minh")
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("unknown time zone", section.at("time_zone")) from None
    caller_format = section.str("caller_format", CallerFormat.NATIONAL.value)
    if caller_format not in tuple(CallerFormat):
        raise ConfigError(f"must be one of {', '.join(CallerFormat)}",
                          section.at("caller_format"))
    concatenation = section.str("concatenation", "udh")
    if concatenation not in CONCAT_MODES:
        raise ConfigError(f"must be one of {', '.join(CONCAT_MODES)}",
                          section.at("concatenation"))
    to_caller = section.bool("to_caller", False)
    if to_caller:
        for name, entry in templates.items():
            if entry.to_caller is None:
                raise ConfigError("is required when to_caller is true",
                                  (*section.at("templates"), name, "to_caller"))
    caller_sender = None
    if to_caller or section.has("caller_sender"):
        caller_sender = _sender(section.section("caller_sender"), allow_caller=False)
    ads = section.section("ads")
    config = SmsConfig(
        pool=pool,
        send_after=_send_after(section.section("send_after")),
        templates=templates,
        language=language,
        senders=_senders(section.section("sender")),
        time_zone=time_zone,
        time_format=section.str("time_format", "%H:%M"),
        date_format=section.str("date_format", "%d/%m"),
        caller_format=CallerFormat(caller_format),
        country_code=str(section.int("country_code", int(country_code), low=1, high=999)),
        national_prefix=section.str("national_prefix", national_prefix, allow_empty=True),
        to_caller=to_caller,
        caller_sender=caller_sender,
        max_parts=section.int("max_parts", 3, low=1, high=10),
        concatenation=concatenation,
        delivery_receipts=section.bool("delivery_receipts", True),
        ads=AdsConfig(enabled=ads.bool("enabled", True),
                      separator=ads.str("separator", " - ", allow_empty=True),
                      refresh=ads.float("refresh_s", 30.0, low=0.1, high=86_400.0)),
        max_age=section.float("max_age_s", 3600.0, low=1.0, high=7 * 86_400.0),
        max_queued=section.int("max_queued", 100_000, low=1, high=100_000_000),
        batch=section.int("batch", 100, low=1, high=100_000),
        pickup_interval=section.float("pickup_interval_s", 2.0, low=0.05, high=3600.0),
    )
    ads.reject_unknown()
    section.reject_unknown()
    return config


def _pool(section: Section, base_dir: Path | None) -> PoolConfig:
    binds = tuple(_bind(item, base_dir) for item in section.sections("binds"))
    if not binds:
        raise ConfigError("must list at least one bind", section.at("binds"))
    names = [bind.name for bind in binds]
    for index, name in enumerate(names):
        if names.index(name) != index:
            raise ConfigError(f"duplicate bind name {name!r}", (*section.at("binds"), index))
    pool = PoolConfig(
        binds=binds,
        max_per_second=section.float("max_per_second", 100.0, low=0.01, high=100_000.0),
        burst=section.int("burst", 10, low=1, high=100_000),
        throttle_delay=section.float("throttle_delay_s", 1.0, low=0.001, high=600.0),
        throttle_delay_max=section.float("throttle_delay_max_s", 30.0, low=0.001, high=3600.0),
        max_resubmits=section.int("max_resubmits", 5, low=0, high=100),
        unbind_timeout=section.float("unbind_timeout_s", 2.0, low=0.01, high=60.0),
    )
    section.reject_unknown()
    return pool


def _c_string(section: Section, key: str, default: Any, limit: int) -> str:
    value = section.str(key, default, allow_empty=True)
    if len(value.encode("ascii", "replace")) > limit or not value.isascii():
        raise ConfigError(f"must be ASCII, at most {limit} characters", section.at(key))
    return value


def _bind(section: Section, base_dir: Path | None) -> BindConfig:
    mode = section.str("mode", "transceiver")
    if mode not in BIND_MODES:
        raise ConfigError(f"must be one of {', '.join(BIND_MODES)}", section.at("mode"))
    host = section.str("host")
    bind = BindConfig(
        name=section.str("name", f"{host}:{section.raw.get('port', 2775)}"),
        host=host,
        port=section.port("port", 2775),
        system_id=_c_string(section, "system_id", None, 15),
        password=_password(section, base_dir),
        system_type=_c_string(section, "system_type", "", 12),
        mode=mode,
        addr_ton=section.int("addr_ton", 0, low=0, high=6),
        addr_npi=section.int("addr_npi", 0, low=0, high=18),
        address_range=_c_string(section, "address_range", "", 40),
        priority=section.int("priority", 0, low=0, high=100),
        window=section.int("window", 10, low=1, high=10_000),
        enquire_link_interval=section.float("enquire_link_s", 30.0, low=0.1, high=3600.0),
        response_timeout=section.float("response_timeout_s", 10.0, low=0.01, high=600.0),
        reconnect_initial=section.float("reconnect_initial_s", 1.0, low=0.01, high=600.0),
        reconnect_max=section.float("reconnect_max_s", 60.0, low=0.01, high=3600.0),
        reconnect_after_loss=section.float("reconnect_after_loss_s", 0.5, low=0.0,
                                           high=600.0),
    )
    if bind.system_id == "":
        raise ConfigError("must not be empty", section.at("system_id"))
    if bind.addr_npi not in (0, 1, 3, 4, 6, 8, 9, 10, 14, 18):
        raise ConfigError("is not an SMPP NPI value", section.at("addr_npi"))
    section.reject_unknown()
    return bind


def _password(section: Section, base_dir: Path | None) -> str:
    if section.has("password"):
        raise ConfigError("a password never sits in the config: use password_env or "
                          "password_file", section.at("password"))
    env, path = section.optional_str("password_env"), section.optional_str("password_file")
    if (env is None) == (path is None):
        raise ConfigError("give exactly one of password_env, password_file", section.path)
    if env is not None:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(f"environment variable {env} is not set",
                              section.at("password_env"))
        where = section.at("password_env")
    else:
        assert path is not None
        file = Path(path)
        if not file.is_absolute() and base_dir is not None:
            file = base_dir / file
        where = section.at("password_file")
        try:
            value = file.read_text(encoding="utf-8").strip("\r\n")
        except OSError as error:
            raise ConfigError(f"cannot read {file}: {error.strerror}", where) from None
    if not value.isascii() or len(value) > 8:
        raise ConfigError("the password must be ASCII, at most 8 characters (SMPP 3.4)",
                          where)
    return value


def _send_after(section: Section) -> dict[str, tuple[str, ...]]:
    result: dict[str, tuple[str, ...]] = {}
    for name in CalleeClass:
        raw = section.raw.get(name)
        if raw is None or isinstance(raw, str):
            raw = section.str(name, "always" if name in _SEND_BY_DEFAULT else "never")
        if raw == "always":
            result[name] = SEND_AFTER_OUTCOMES
        elif raw == "never":
            result[name] = ()
        else:
            outcomes = section.str_list(name)
            for index, outcome in enumerate(outcomes):
                if outcome not in SEND_AFTER_OUTCOMES:
                    raise ConfigError(f"must be always, never or a list of: "
                                      f"{', '.join(SEND_AFTER_OUTCOMES)}",
                                      (*section.at(name), index))
            result[name] = tuple(outcomes)
    section.reject_unknown()
    return result


def _template(section: Section, key: str, required: bool) -> str | None:
    if not required and not section.has(key):
        section.optional_str(key)
        return None
    text = section.str(key)
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        raise ConfigError(f"bad template: {error}", section.at(key)) from None
    unknown = names - PLACEHOLDERS
    if unknown:
        raise ConfigError(f"unknown placeholder {{{sorted(unknown)[0]}}}; known: "
                          f"{', '.join(sorted(PLACEHOLDERS))}", section.at(key))
    return text


def _templates(section: Section) -> dict[str, Templates]:
    templates: dict[str, Templates] = {}
    if not section.raw:
        raise ConfigError("must define at least one language", section.path)
    for language in section.raw:
        sub = section.section(language)
        to_callee = _template(sub, "to_callee", True)
        assert to_callee is not None
        templates[language] = Templates(to_callee, _template(sub, "to_caller", False))
        sub.reject_unknown()
    return templates


def _language(section: Section, templates: dict[str, Templates]) -> dict[str, str]:
    raw = section.raw.get("language")
    first = next(iter(templates))
    if raw is None or isinstance(raw, str):
        language = section.str("language", first)
        if language not in templates:
            raise ConfigError("has no templates", section.at("language"))
        return {name: language for name in CalleeClass}
    sub = section.section("language")
    default = sub.str("default", first)
    result: dict[str, str] = {}
    for name in CalleeClass:
        value = sub.str(name, default)
        if value not in templates:
            raise ConfigError("has no templates", sub.at(name))
        result[name] = value
    sub.reject_unknown()
    return result


def _senders(section: Section) -> dict[str, SenderConfig]:
    result: dict[str, SenderConfig] = {name: _sender(section.section(name))
                                       for name in CalleeClass}
    section.reject_unknown()
    return result


def _sender(sub: Section, allow_caller: bool = True) -> SenderConfig:
    kind = sub.str("type", SenderType.CALLER.value if allow_caller else None)
    types = [t for t in SenderType if allow_caller or t is not SenderType.CALLER]
    if kind not in types:
        raise ConfigError(f"must be one of {', '.join(types)}", sub.at("type"))
    value = sub.optional_str("value")
    if kind == SenderType.CALLER:
        if value is not None:
            raise ConfigError("takes no value (A's own number is sent)", sub.at("value"))
    elif value is None:
        raise ConfigError(f"is required for a {kind} sender", sub.at("value"))
    elif kind == SenderType.SHORT_CODE and not _SHORT_CODE.match(value):
        raise ConfigError("must be 3 to 8 digits", sub.at("value"))
    elif kind == SenderType.ALPHANUMERIC and not _ALPHANUMERIC.match(value):
        raise ConfigError("must be 1 to 11 letters, digits, space . _ -", sub.at("value"))
    sub.reject_unknown()
    return SenderConfig(SenderType(kind), value)
