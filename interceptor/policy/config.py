"""The ``policy`` configuration section: the operator's time zone and the thresholds'
starting values (seeded into SQL the first time; SQL is authoritative afterwards).

    policy:
      timezone: Asia/Ho_Chi_Minh
      refresh: 2                  # seconds between reloads of the thresholds table
      thresholds:                 # any key of `beepcall thresholds show`, nested or dotted
        caller: {max_per_hour: 5, max_per_day: 20}
        pair.min_interval: 600
        quiet_hours: {window: "22:00-07:00", mode: defer}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from interceptor.core.section import ConfigError, PathElement, Section
from interceptor.policy.thresholds import SPECS, ThresholdError, Thresholds, Value


@dataclass(frozen=True)
class PolicyConfig:
    timezone: str = "UTC"
    refresh: float = 2.0
    # Starting values by key: the registry's defaults overridden by the config file.
    defaults: Mapping[str, Value] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def seed(self) -> Thresholds:
        return Thresholds(self.defaults)


def parse_policy(section: Section, *, sip_limits: Any = None) -> PolicyConfig:
    """``sip_limits`` (the ``sip.limits`` values) seed the global rate/concurrency/age
    thresholds when the policy section does not name them."""
    timezone = section.str("timezone", "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {timezone!r} (an IANA name such as "
                          "Asia/Ho_Chi_Minh)", section.at("timezone")) from None
    refresh = section.float("refresh", 2.0, low=0.1, high=3600)
    defaults: dict[str, Value] = {key: spec.default for key, spec in SPECS.items()}
    if sip_limits is not None:
        defaults["global.max_beeps_per_second"] = float(sip_limits.max_per_second)
        defaults["global.max_concurrent_beeps"] = int(sip_limits.max_concurrent)
        defaults["global.max_attempt_age"] = float(sip_limits.max_age)
    section._read.add("thresholds")
    for key, value, path in _flatten(section.raw.get("thresholds"), section.at("thresholds")):
        spec = SPECS.get(key)
        if spec is None:
            raise ConfigError("unknown threshold (see `beepcall thresholds show`)", path)
        try:
            defaults[key] = spec.parse(value)
        except ThresholdError as error:
            raise ConfigError(str(error), path) from None
    section.reject_unknown()
    return PolicyConfig(timezone=timezone, refresh=refresh, defaults=defaults)


def _flatten(raw: Any, path: tuple[PathElement, ...],
             prefix: str = "") -> list[tuple[str, Any, tuple[PathElement, ...]]]:
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise ConfigError("must be a mapping of threshold keys", path)
    found = []
    for name, value in raw.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            found += _flatten(value, (*path, name), f"{key}.")
        else:
            if value is None:
                raise ConfigError("needs a value (use off to disable a limit)",
                                  (*path, name))
            found.append((key, value, (*path, name)))
    return found
