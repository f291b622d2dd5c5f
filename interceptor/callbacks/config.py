"""The ``callbacks`` section: attribution window, tariffs per callee class, currency."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from interceptor.core.section import ConfigError, Section
from interceptor.core.vocabulary import CalleeClass

DEFAULT_WINDOW = 1800.0  # the brief: ~25% of beeped callees call back within 30 minutes


@dataclass(frozen=True)
class CallbacksConfig:
    enabled: bool = True
    window: float = DEFAULT_WINDOW  # seconds after the beep (or SMS) a callback counts
    session_max: float = 4 * 3600.0  # a linked call is followed this long at most
    # Price per charged minute (per-second billing) by the attempt's callee class.
    tariffs: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    currency: str = "VND"
    sweep_interval: float = 30.0  # how often expired watches are dropped

    def revenue(self, callee_class: str, seconds: int) -> Decimal:
        rate = self.tariffs.get(callee_class, Decimal(0))
        return (rate * seconds / 60).quantize(Decimal("0.01"))


def parse_callbacks(section: Section) -> CallbacksConfig:
    enabled = section.bool("enabled", True)
    window = section.float("window", DEFAULT_WINDOW, low=1.0, high=7 * 86400.0)
    session_max = section.float("session_max", 4 * 3600.0, low=60.0, high=86400.0)
    sweep = section.float("sweep_interval", 30.0, low=0.05, high=3600.0)
    currency = section.str("currency", "VND")
    tariffs_section = section.section("tariffs")
    classes = {klass.value for klass in CalleeClass}
    tariffs: dict[str, Decimal] = {}
    for key in tariffs_section.raw:
        if key not in classes:
            raise ConfigError(f"unknown callee class (one of {', '.join(sorted(classes))})",
                              tariffs_section.at(key))
        value = tariffs_section.float(key, low=0.0)
        tariffs[key] = Decimal(str(value))
    section.reject_unknown()
    return CallbacksConfig(enabled=enabled, window=window, session_max=session_max,
                           tariffs=MappingProxyType(tariffs), currency=currency,
                           sweep_interval=sweep)
