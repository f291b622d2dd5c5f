"""What the side-work process is configured with: the sections of the configuration file
its features need (the assembler in :mod:`interceptor.config` builds it)."""

from __future__ import annotations

from dataclasses import dataclass

from interceptor.callbacks.config import CallbacksConfig
from interceptor.detection.config import DetectionConfig
from interceptor.numbers import NumberingConfig
from interceptor.policy.config import PolicyConfig
from interceptor.sip.config import SipConfig
from interceptor.sms.config import SmsConfig
from interceptor.storage.config import DatabaseConfig


@dataclass(frozen=True)
class SideWorkConfig:
    database: DatabaseConfig
    detection: DetectionConfig
    numbering: NumberingConfig
    policy: PolicyConfig
    callbacks: CallbacksConfig
    origin_host: str  # the relay's identity, recorded on each attempt
    sip: SipConfig | None = None  # beeps: None when the section is absent
    sms: SmsConfig | None = None
    stats_interval: float = 2.0  # seconds between snapshots to the relay process
