"""Typed settings of the SMPP client (parsed by :mod:`interceptor.sms.config`)."""

from __future__ import annotations

from dataclasses import dataclass, field

BIND_MODES = ("transmitter", "transceiver")


@dataclass(frozen=True)
class BindConfig:
    """One bind to one SMSC. Durations in seconds."""

    name: str
    host: str
    port: int
    system_id: str
    password: str = field(repr=False)
    system_type: str = ""
    mode: str = "transceiver"  # transceiver: delivery receipts come back on the same bind
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""
    priority: int = 0  # lower first; binds of a higher number are the failover
    window: int = 10  # outstanding submit_sm without their response
    enquire_link_interval: float = 30.0
    response_timeout: float = 10.0  # any request -> its response
    reconnect_initial: float = 1.0  # after a failed connect or bind: doubles up to max
    reconnect_max: float = 60.0
    reconnect_after_loss: float = 0.5  # after losing a bind that was up


@dataclass(frozen=True)
class PoolConfig:
    binds: tuple[BindConfig, ...]
    max_per_second: float = 100.0  # submit_sm per second over all binds (TPS cap)
    burst: int = 10
    throttle_delay: float = 1.0  # first pause of a bind after ESME_RTHROTTLED/RMSGQFUL
    throttle_delay_max: float = 30.0
    max_resubmits: int = 5  # per part, after throttling, timeouts and lost binds
    unbind_timeout: float = 2.0
