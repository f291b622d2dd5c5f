"""The one configuration assembler: the YAML file's sections, each parsed by the parser
that lives beside the code it configures, into one typed object.

``load_config`` reads and validates the whole file (the service: ``beepcall run``,
``check-config``); ``load_sections`` reads only the sections a command needs, so an admin
command never needs the service's secrets (the SMPP password) or the relay's peers.
"""

from __future__ import annotations

from collections.abc import Collection
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
from interceptor.sidework.config import SideWorkConfig
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

    @property
    def side_work(self) -> SideWorkConfig | None:
        """What the side-work process runs with (None: detection off, a plain relay)."""
        if self.recording is None:
            return None
        return SideWorkConfig(
            database=self.database, detection=self.recording.detection,
            numbering=self.recording.numbering, policy=self.policy,
            callbacks=self.callbacks, origin_host=self.relay.identity.origin_host,
            sip=self.sip, sms=self.sms,
            stats_interval=self.metrics.stats_interval if self.metrics is not None else 2.0)


@dataclass(frozen=True)
class ConfigSections:
    """Some sections of a configuration file (``load_sections``). A section not asked for
    is None; one asked for but absent has its defaults, except ``numbering`` and
    ``metrics``, which have none (None: the caller's default plan, no endpoint)."""

    source: str
    database: DatabaseConfig | None = None
    numbering: NumberingConfig | None = None
    policy: PolicyConfig | None = None
    callbacks: CallbacksConfig | None = None
    metrics: MetricsConfig | None = None


SECTIONS = frozenset({"database", "numbering", "policy", "callbacks", "metrics"})


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
    policy = _policy(root, sip)
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


def parse_sections(raw: Any, names: Collection[str],
                   source: str = "<memory>") -> ConfigSections:
    unknown = set(names) - SECTIONS
    if unknown:
        raise ValueError(f"no such section: {sorted(unknown)}")
    root = Section(raw)

    def wanted(name: str) -> bool:
        return name in names

    return ConfigSections(
        source=source,
        database=parse_database(root.section("database")) if wanted("database") else None,
        numbering=parse_numbering(root.section("numbering"))
        if wanted("numbering") and root.has("numbering") else None,
        # Beeps' global limits in the policy default to the sip section's.
        policy=_policy(root, parse_sip(root.section("sip")) if root.has("sip") else None)
        if wanted("policy") else None,
        callbacks=parse_callbacks(root.section("callbacks")) if wanted("callbacks") else None,
        metrics=parse_metrics(root.section("metrics"))
        if wanted("metrics") and root.has("metrics") else None)


def load_sections(path: str | Path, *names: str) -> ConfigSections:
    """Read and validate only the named sections of a YAML file (see ``SECTIONS``)."""
    return parse_sections(read_yaml_file(path), names, str(path))


def _policy(root: Section, sip: SipConfig | None) -> PolicyConfig:
    return parse_policy(root.section("policy"),
                        sip_limits=None if sip is None else sip.limits)
