"""The whole configuration file: one typed object per section."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from interceptor.callbacks.config import CallbacksConfig, parse_callbacks
from interceptor.core.section import ConfigError, Section, read_yaml_file
from interceptor.detection.config import DetectionConfig, parse_detection
from interceptor.diameter.config import RelayConfig, parse_relay
from interceptor.metrics.config import MetricsConfig, parse_metrics
from interceptor.numbers import NumberingConfig, parse_numbering
from interceptor.policy.config import PolicyConfig, parse_policy
from interceptor.sip.config import SipConfig, parse_sip
from interceptor.sms.config import SmsConfig, parse_sms
from interceptor.storage.config import DatabaseConfig, parse_database


@dataclass(frozen=True)
class RecordingConfig:
    """Out-of-credit detection and the attempts it records. Off: a plain relay."""

    detection: DetectionConfig
    numbering: NumberingConfig


@dataclass(frozen=True)
class InterceptorConfig:
    relay: RelayConfig
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    recording: RecordingConfig | None = None
    sip: SipConfig | None = None  # beeps: None when the section is absent
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    callbacks: CallbacksConfig = field(default_factory=CallbacksConfig)
    metrics: MetricsConfig | None = None  # /metrics and /status: None when absent
    sms: SmsConfig | None = None  # the beep SMS: None when the section is absent
    source: str = "<memory>"
    base_dir: Path | None = None
    raw: Any = field(default=None, compare=False, repr=False)  # for the side-work process


def parse_config(raw: Any, source: str = "<memory>",
                 base_dir: Path | None = None) -> InterceptorConfig:
    root = Section(raw)
    relay = parse_relay(root)
    database = parse_database(root.section("database"))
    detection_section = root.section("detection")
    recording = None
    if detection_section.bool("enabled", True):
        recording = RecordingConfig(
            detection=parse_detection(detection_section, base_dir=base_dir),
            numbering=parse_numbering(root.section("numbering")),
        )
    else:
        detection_section.reject_unknown(*detection_section.raw)  # the rest is moot
        root.section("numbering")
    sip = parse_sip(root.section("sip")) if root.has("sip") else None
    if sip is not None and recording is None:
        raise ConfigError("beeps need detection enabled", ("sip",))
    policy = parse_policy(root.section("policy"),
                          sip_limits=None if sip is None else sip.limits)
    callbacks = parse_callbacks(root.section("callbacks"))
    metrics = parse_metrics(root.section("metrics")) if root.has("metrics") else None
    sms = None
    if root.has("sms"):
        if recording is None:
            raise ConfigError("the SMS needs detection enabled", ("sms",))
        numbering = recording.numbering
        sms = parse_sms(root.section("sms"), base_dir=base_dir,
                        country_code=numbering.country_code,
                        national_prefix=numbering.national_prefix)
    root.reject_unknown()
    return InterceptorConfig(relay=relay, database=database, recording=recording, sip=sip,
                             policy=policy, callbacks=callbacks, metrics=metrics, sms=sms,
                             source=source, base_dir=base_dir, raw=raw)


def load_config(path: str | Path) -> InterceptorConfig:
    """Read and validate a YAML file; every problem is a ConfigError."""
    path = Path(path)
    return parse_config(read_yaml_file(path), str(path), base_dir=path.parent)
