"""The operator's thresholds: every tunable rule of the policy, by key, with its type,
range and default.

Values live in SQL (table ``thresholds``), seeded from the configuration file's
``policy.thresholds`` (or the defaults below) and changed at runtime with
``beepcall thresholds set``. Every value is stored as text and parsed here, so one
function checks a value whether it comes from YAML, the CLI or the database.

Limits accept ``off`` (the rule does not apply). Durations are seconds. A deferred
attempt's age (``global.max_attempt_age``) counts from the end of its deferral.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import time
from enum import StrEnum

from interceptor.core.vocabulary import CalleeClass

OFF = "off"
_ON_BY_DEFAULT = frozenset({CalleeClass.ON_NET, CalleeClass.OFF_NET})
"""The callee classes beeped (and sent the SMS) unless the operator says otherwise."""


class QuietHoursMode(StrEnum):
    """``quiet_hours.mode``: what happens to a beep due inside the quiet hours."""

    SUPPRESS = "suppress"
    DEFER = "defer"  # to the window's end


class ThresholdError(ValueError):
    """A value that is not valid for its key; the message says what is expected."""


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time  # end < start: the window spans midnight

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


Value = bool | int | float | str | QuietHours | None  # None: "off"


@dataclass(frozen=True)
class ThresholdSpec:
    key: str
    kind: str  # bool | limit | seconds | ratio | rate | count | choice | window
    default: Value
    help: str
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    def parse(self, text: object) -> Value:
        """The typed value of ``text`` (YAML scalar or CLI/database text)."""
        if isinstance(text, bool) and self.kind != "bool":
            # YAML 1.1 reads a bare `off` as false.
            if text is False and self.kind in ("limit", "seconds", "window"):
                return None
            raise ThresholdError(f"must be a {self.kind}, not a boolean")
        raw = str(text).strip() if not isinstance(text, bool) else text
        if raw == OFF and self.kind in ("limit", "seconds", "window"):
            return None
        if self.kind == "bool":
            return _bool(raw)
        if self.kind == "choice":
            if raw not in self.choices:
                raise ThresholdError(f"must be one of {', '.join(self.choices)}")
            return str(raw)
        if self.kind == "window":
            return _window(str(raw))
        number: float
        try:
            number = int(str(raw)) if self.kind in ("limit", "count") else float(str(raw))
        except ValueError:
            expected = "an integer" if self.kind in ("limit", "count") else "a number"
            extra = " or off" if self.kind in ("limit", "seconds") else ""
            raise ThresholdError(f"must be {expected}{extra}, got {raw!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ThresholdError("must be a finite number")
        if self.low is not None and number < self.low:
            raise ThresholdError(f"must be >= {_number(self.low)}")
        if self.high is not None and number > self.high:
            raise ThresholdError(f"must be <= {_number(self.high)}")
        return number

    def format(self, value: Value) -> str:
        """Text for the database and for display; ``parse(format(v)) == v``."""
        if value is None:
            return OFF
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ThresholdError(f"must be true or false, got {raw!r}")


_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


def _window(raw: str) -> QuietHours:
    match = _WINDOW.match(raw)
    if match is None:
        raise ThresholdError(f"must be HH:MM-HH:MM (or off), got {raw!r}")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if (h1, m1) == (h2, m2):
        raise ThresholdError("start and end must differ")
    return QuietHours(time(h1, m1), time(h2, m2))


def _specs() -> Iterator[ThresholdSpec]:
    for callee_class in CalleeClass:
        yield ThresholdSpec(f"beep.{callee_class}", "bool", callee_class in _ON_BY_DEFAULT,
                            f"beep callees of class {callee_class}")
    for callee_class in CalleeClass:
        yield ThresholdSpec(f"sms.{callee_class}", "bool", callee_class in _ON_BY_DEFAULT,
                            f"send the SMS to callees of class {callee_class}")
    yield ThresholdSpec("caller.max_per_hour", "limit", 5,
                        "beeps on one caller's behalf per clock hour (operator time)",
                        low=0, high=1_000_000)
    yield ThresholdSpec("caller.max_per_day", "limit", 20,
                        "beeps on one caller's behalf per day (operator time)",
                        low=0, high=1_000_000)
    yield ThresholdSpec("pair.min_interval", "seconds", 600.0,
                        "minimum seconds between two beeps from the same A to the same B",
                        low=0, high=31 * 86400)
    yield ThresholdSpec("callee.max_per_day", "limit", 10,
                        "beeps one callee receives per day from all callers",
                        low=0, high=1_000_000)
    yield ThresholdSpec("quiet_hours.window", "window", QuietHours(time(22), time(7)),
                        "no beeps in this window of the operator's time zone (HH:MM-HH:MM)")
    yield ThresholdSpec("quiet_hours.mode", "choice", QuietHoursMode.DEFER.value,
                        "in quiet hours: suppress the beep, or defer it to the window's end",
                        choices=tuple(mode.value for mode in QuietHoursMode))
    yield ThresholdSpec("quiet_hours.max_delay", "seconds", 36000.0,
                        "defer mode: a beep that would wait longer than this for the "
                        "window's end is suppressed instead", low=60, high=86400)
    yield ThresholdSpec("global.max_beeps_per_second", "rate", 500.0,
                        "new beeps per second, all callers", low=0.1, high=100_000)
    yield ThresholdSpec("global.max_concurrent_beeps", "count", 2000,
                        "beeps in progress at once", low=1, high=1_000_000)
    yield ThresholdSpec("global.max_sms_per_second", "rate", 50.0,
                        "SMS submitted per second, all binds", low=0.1, high=100_000)
    yield ThresholdSpec("global.max_attempt_age", "seconds", 60.0,
                        "an attempt not beeped this many seconds after the call fails "
                        "expires", low=1, high=7 * 86400)
    for target in ("beep", "smsc"):
        yield ThresholdSpec(f"breaker.{target}.failure_ratio", "ratio", 0.5,
                            f"{target}: share of network failures that opens the breaker",
                            low=0.01, high=1.0)
        yield ThresholdSpec(f"breaker.{target}.window", "rate", 60.0,
                            f"{target}: seconds of outcomes the ratio looks at",
                            low=1, high=86400)
        yield ThresholdSpec(f"breaker.{target}.min_samples", "count", 20,
                            f"{target}: outcomes needed in the window before it can open",
                            low=1, high=1_000_000)
        yield ThresholdSpec(f"breaker.{target}.cooldown", "rate", 30.0,
                            f"{target}: seconds paused before a probe", low=1, high=86400)


SPECS: Mapping[str, ThresholdSpec] = {spec.key: spec for spec in _specs()}


def spec_for(key: str) -> ThresholdSpec:
    try:
        return SPECS[key]
    except KeyError:
        raise ThresholdError(f"unknown threshold {key!r} (see `beepcall thresholds show`)") \
            from None


class Thresholds:
    """One consistent set of threshold values, typed; missing keys take the defaults."""

    def __init__(self, values: Mapping[str, Value] | None = None) -> None:
        self._values = {key: spec.default for key, spec in SPECS.items()}
        if values:
            for key, value in values.items():
                if key in SPECS:
                    self._values[key] = value

    @classmethod
    def from_text(cls, stored: Mapping[str, str]) -> Thresholds:
        """From the database's text; an unreadable value keeps its default (and is
        reported by ``problems``), so one bad row never disables the whole policy."""
        values: dict[str, Value] = {}
        problems: list[str] = []
        for key, text in stored.items():
            spec = SPECS.get(key)
            if spec is None:
                continue
            try:
                values[key] = spec.parse(text)
            except ThresholdError as error:
                problems.append(f"{key}: {error}")
        thresholds = cls(values)
        thresholds.problems = tuple(problems)
        return thresholds

    problems: tuple[str, ...] = ()

    def __getitem__(self, key: str) -> Value:
        return self._values[key]

    def items(self) -> Iterator[tuple[str, Value]]:
        yield from self._values.items()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Thresholds) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(sorted((k, str(v)) for k, v in self._values.items())))

    # Typed accessors for the rules.

    def flag(self, key: str) -> bool:
        return bool(self._values[key])

    def limit(self, key: str) -> int | None:
        value = self._values[key]
        return None if value is None else int(value)  # type: ignore[arg-type]

    def number(self, key: str) -> float | None:
        value = self._values[key]
        return None if value is None else float(value)  # type: ignore[arg-type]

    def quiet_hours(self) -> QuietHours | None:
        value = self._values["quiet_hours.window"]
        return value if isinstance(value, QuietHours) else None

    def text(self, key: str) -> str:
        return str(self._values[key])
