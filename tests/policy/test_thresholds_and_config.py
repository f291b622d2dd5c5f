"""Threshold values are checked by type and range whatever their source, and the
``policy`` config section names the offending path."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest

from interceptor.config.loader import parse_config
from interceptor.core.section import ConfigError, Section
from interceptor.policy.config import parse_policy
from interceptor.policy.thresholds import SPECS, QuietHours, ThresholdError, Thresholds, spec_for
from tests.diameter.harness import agent_config


@pytest.mark.parametrize(("key", "text", "value"), [
    ("caller.max_per_hour", "7", 7),
    ("caller.max_per_hour", "off", None),
    ("caller.max_per_hour", False, None),  # YAML reads a bare off as false
    ("pair.min_interval", "600", 600.0),
    ("beep.international", "yes", True),
    ("beep.on_net", False, False),
    ("quiet_hours.window", "22:30-06:00", QuietHours(time(22, 30), time(6))),
    ("quiet_hours.mode", "suppress", "suppress"),
    ("breaker.beep.failure_ratio", "0.25", 0.25),
])
def test_values_parse_to_their_type(key: str, text: object, value: object) -> None:
    spec = spec_for(key)
    assert spec.parse(text) == value
    assert spec.parse(spec.format(spec.parse(text))) == value  # round trip via the DB


@pytest.mark.parametrize(("key", "text", "message"), [
    ("caller.max_per_hour", "-1", "must be >= 0"),
    ("caller.max_per_hour", "2.5", "must be an integer or off"),
    ("caller.max_per_hour", True, "not a boolean"),
    ("pair.min_interval", "forever", "must be a number or off"),
    ("global.max_concurrent_beeps", "off", "must be an integer"),
    ("breaker.beep.failure_ratio", "1.5", "must be <= 1"),
    ("quiet_hours.window", "25:00-07:00", "HH:MM-HH:MM"),
    ("quiet_hours.window", "07:00-07:00", "must differ"),
    ("quiet_hours.mode", "maybe", "one of suppress, defer"),
    ("beep.on_net", "perhaps", "true or false"),
    ("global.max_beeps_per_second", "nan", "finite"),
])
def test_bad_values_say_what_is_expected(key: str, text: object, message: str) -> None:
    with pytest.raises(ThresholdError, match=message):
        spec_for(key).parse(text)


def test_unknown_key_is_refused() -> None:
    with pytest.raises(ThresholdError, match=r"unknown threshold 'caller\.max_per_week'"):
        spec_for("caller.max_per_week")


def test_a_bad_stored_value_keeps_the_default_and_is_reported() -> None:
    loaded = Thresholds.from_text({"caller.max_per_day": "lots", "pair.min_interval": "60"})
    assert loaded.limit("caller.max_per_day") == SPECS["caller.max_per_day"].default
    assert loaded.number("pair.min_interval") == 60.0
    assert loaded.problems == ("caller.max_per_day: must be an integer or off, got 'lots'",)


def test_policy_section_nested_or_dotted_keys_and_sip_limits_seed_globals() -> None:
    sip_limits: Any = type("Limits", (), {"max_per_second": 40.0, "max_concurrent": 9,
                                          "max_age": 120.0})
    config = parse_policy(Section({"timezone": "Asia/Ho_Chi_Minh", "thresholds": {
        "caller": {"max_per_hour": 2}, "pair.min_interval": "off"}}, ("policy",)),
        sip_limits=sip_limits)
    seed = config.seed()
    assert (seed.limit("caller.max_per_hour"), seed.number("pair.min_interval")) == (2, None)
    assert (seed.number("global.max_beeps_per_second"),
            seed.number("global.max_concurrent_beeps"),
            seed.number("global.max_attempt_age")) == (40.0, 9, 120.0)
    assert config.zone.key == "Asia/Ho_Chi_Minh"


@pytest.mark.parametrize(("policy", "message"), [
    ({"timezone": "Mars/Olympus"}, "policy.timezone: unknown time zone 'Mars/Olympus'"),
    ({"thresholds": {"caller": {"max_per_hour": -3}}},
     "policy.thresholds.caller.max_per_hour: must be >= 0"),
    ({"thresholds": {"caller": {"max_per_week": 3}}},
     "policy.thresholds.caller.max_per_week: unknown threshold"),
    ({"thresholds": {"quiet_hours.window": "late"}},
     "policy.thresholds.quiet_hours.window: must be HH:MM-HH:MM"),
    ({"thresholds": {"pair": {"min_interval": None}}},
     "policy.thresholds.pair.min_interval: needs a value"),
    ({"thresholdz": {}}, "policy.thresholdz: unknown setting"),
])
def test_config_errors_name_the_path(policy: dict[str, Any], message: str) -> None:
    raw = {**agent_config([("ocs1.test", 3868)]),
           "numbering": {"country_code": 84, "on_net_prefixes": ["8491"]},
           "policy": policy}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    assert str(caught.value).startswith(message)
