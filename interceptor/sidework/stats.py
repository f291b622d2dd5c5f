"""The side work's figures as the relay process receives them: one typed snapshot every
``metrics.stats_interval`` seconds, written by the side-work process and read as
attributes by the metrics collector, ``/status`` and ``beepcall status``.

Each part is the owning feature's own dataclass; :func:`interceptor.core.jsondata` turns
the whole into JSON and back, so a renamed field is a type error on the reading side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from interceptor.beeps.scheduler import BeepFigures
from interceptor.callbacks.service import CallbackFigures
from interceptor.core import jsondata
from interceptor.detection.detector import DetectionCounters
from interceptor.policy.service import PolicyCounters
from interceptor.reports.today import DaySummary
from interceptor.sms.scheduler import SmsCounters
from interceptor.storage.recorder import RecorderStats


@dataclass
class SideWorkStats:
    detection: DetectionCounters = field(default_factory=DetectionCounters)
    recorder: RecorderStats = field(default_factory=RecorderStats)
    policy: PolicyCounters = field(default_factory=PolicyCounters)
    breakers: dict[str, str] = field(default_factory=dict)  # name -> state
    beeps: BeepFigures | None = None  # None: neither beeps nor the SMS configured
    sms: SmsCounters | None = None
    callbacks: CallbackFigures | None = None
    today: DaySummary | None = None

    @property
    def suppressed_by_reason(self) -> dict[str, int]:
        """At detection (blacklists) and by the policy's decisions."""
        merged = dict(self.detection.suppressed_by_reason)
        for reason, count in self.policy.suppressed.items():
            merged[reason] = merged.get(reason, 0) + count
        return merged

    def to_json(self) -> dict[str, Any]:
        return dict(jsondata.to_json(self))

    @classmethod
    def from_json(cls, value: Any) -> SideWorkStats:
        return jsondata.from_json(cls, value)
