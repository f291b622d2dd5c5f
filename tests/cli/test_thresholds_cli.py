"""``beepcall thresholds show|set|reset|history`` against SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from interceptor.policy import threshold_store as store
from interceptor.policy.thresholds import SPECS, Thresholds
from tests.cli.conftest import invoke

UNREACHABLE = "postgresql+psycopg://beep:hunter2@127.0.0.1:1/beep"


@pytest.fixture
def url(migrated_url: str) -> str:
    return migrated_url


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """An interceptor config whose policy section overrides one default."""
    path = tmp_path / "interceptor.yaml"
    path.write_text("policy:\n"
                    "  timezone: Asia/Ho_Chi_Minh\n"
                    "  thresholds:\n"
                    "    caller.max_per_hour: 7\n"
                    "    quiet_hours: {mode: suppress}\n")
    return path


def thresholds(url: str, *args: str) -> tuple[int, str, str]:
    result = invoke(["thresholds", "--database-url", url, *args])
    return result.exit_code, result.stdout, result.stderr


def shown(url: str, *extra: str) -> dict[str, dict[str, str]]:
    code, out, err = thresholds(url, "show", "--json", *extra)
    assert code == 0, err
    return {row["key"]: row for row in json.loads(out)}


def test_show_lists_every_key_with_the_config_default(url: str, config: Path) -> None:
    rows = shown(url, "--config", str(config))
    assert list(rows) == list(SPECS)  # every key, in the registry's order
    hour = rows["caller.max_per_hour"]
    assert (hour["value"], hour["default"], hour["source"]) == ("7", "7", "config default")
    assert rows["quiet_hours.mode"]["default"] == "suppress"
    # Keys the config does not name keep the built-in defaults.
    assert (rows["caller.max_per_day"]["value"], rows["caller.max_per_day"]["default"]) \
        == ("20", "20")
    assert rows["quiet_hours.window"]["value"] == "22:00-07:00"
    assert rows["pair.min_interval"]["value"] == "600"
    assert rows["caller.max_per_hour"]["meaning"] == SPECS["caller.max_per_hour"].help
    assert rows["caller.max_per_hour"]["updated_at"] is None

    # Without the config file, the built-in default.
    assert shown(url)["caller.max_per_hour"]["default"] == "5"

    # The table: a header and one line per key.
    code, out, _ = thresholds(url, "show", "--config", str(config))
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split() == ["KEY", "VALUE", "DEFAULT", "SOURCE", "MEANING"]
    assert [line.split()[0] for line in lines] == list(SPECS)
    hour_line = next(line for line in lines if line.startswith("caller.max_per_hour "))
    assert hour_line.split()[1:5] == ["7", "7", "config", "default"]


def test_a_stored_value_wins_and_the_default_is_still_shown(url: str, config: Path) -> None:
    code, out, err = thresholds(url, "set", "caller.max_per_hour", "3", "--by", "alice")
    assert code == 0, err
    assert out == "caller.max_per_hour: (default) -> 3\n"
    row = shown(url, "--config", str(config))["caller.max_per_hour"]
    assert (row["value"], row["default"], row["source"]) == ("3", "7", "set by alice")
    assert row["updated_at"].endswith("Z")


@pytest.mark.parametrize(("key", "value", "message"), [
    ("caller.max_per_hour", "abc", "caller.max_per_hour: must be an integer or off, got 'abc'"),
    ("caller.max_per_hour", "2.5", "caller.max_per_hour: must be an integer or off, got '2.5'"),
    ("caller.max_per_day", "-1", "caller.max_per_day: must be >= 0"),
    ("global.max_beeps_per_second", "0", "global.max_beeps_per_second: must be >= 0.1"),
    ("breaker.beep.failure_ratio", "1.5", "breaker.beep.failure_ratio: must be <= 1"),
    ("pair.min_interval", "nan", "pair.min_interval: must be a finite number"),
    ("no.such.key", "1", "no.such.key: unknown threshold 'no.such.key'"),
    ("quiet_hours.window", "25:00-07:00",
     "quiet_hours.window: must be HH:MM-HH:MM (or off), got '25:00-07:00'"),
    ("quiet_hours.window", "22:00-22:00", "quiet_hours.window: start and end must differ"),
    ("quiet_hours.mode", "later", "quiet_hours.mode: must be one of suppress, defer"),
    # `off` disables a limit, but a rate or a count cannot be off.
    ("global.max_beeps_per_second", "off",
     "global.max_beeps_per_second: must be a number, got 'off'"),
    ("global.max_concurrent_beeps", "off",
     "global.max_concurrent_beeps: must be an integer, got 'off'"),
    ("beep.on_net", "maybe", "beep.on_net: must be true or false, got 'maybe'"),
])
def test_set_refuses_a_bad_value_naming_the_key(url: str, engine: Engine, key: str,
                                                value: str, message: str) -> None:
    code, out, err = thresholds(url, "set", key, "--", value)
    assert code == 1, (key, value, out, err)
    assert err == f"Error: {message}\n" or err.startswith(f"Error: {message} ")
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert out == ""
    assert store.load(engine) == {}  # nothing written,
    assert store.history(engine) == []  # nothing audited


@pytest.mark.parametrize(("key", "value", "stored"), [
    ("caller.max_per_hour", "off", "off"),
    ("callee.max_per_day", "0", "0"),
    ("caller.max_per_day", "1000000", "1000000"),
    ("pair.min_interval", "90.0", "90"),
    ("pair.min_interval", "off", "off"),
    ("quiet_hours.window", "23:30-06:00", "23:30-06:00"),
    ("quiet_hours.window", "off", "off"),
    ("quiet_hours.mode", "suppress", "suppress"),
    ("beep.international", "yes", "true"),
    ("sms.on_net", "false", "false"),
    ("breaker.smsc.failure_ratio", "0.25", "0.25"),
])
def test_set_stores_the_canonical_text(url: str, engine: Engine, key: str, value: str,
                                       stored: str) -> None:
    code, out, err = thresholds(url, "set", key, value, "--by", "ops")
    assert code == 0, err
    assert out == f"{key}: (default) -> {stored}\n"
    assert store.load(engine) == {key: stored}
    parsed = Thresholds.from_text(store.load(engine))
    assert parsed.problems == ()
    assert parsed[key] == SPECS[key].parse(value)


def test_off_disables_a_limit(url: str, engine: Engine) -> None:
    assert thresholds(url, "set", "caller.max_per_hour", "off")[0] == 0
    assert Thresholds.from_text(store.load(engine)).limit("caller.max_per_hour") is None
    assert shown(url)["caller.max_per_hour"]["value"] == "off"


def test_reset_puts_back_the_config_default(url: str, engine: Engine, config: Path) -> None:
    assert thresholds(url, "set", "caller.max_per_hour", "2", "--by", "alice")[0] == 0
    code, out, err = thresholds(url, "reset", "caller.max_per_hour", "--by", "bob",
                                "--config", str(config))
    assert code == 0, err
    assert out == "caller.max_per_hour: 2 -> 7 (default)\n"
    row = shown(url, "--config", str(config))["caller.max_per_hour"]
    assert (row["value"], row["source"]) == ("7", "set by bob")
    # Without a config file: the built-in default.
    code, out, _ = thresholds(url, "reset", "caller.max_per_hour")
    assert out == "caller.max_per_hour: 7 -> 5 (default)\n"
    assert store.load(engine)["caller.max_per_hour"] == "5"
    assert [entry.action for entry in store.history(engine)] == ["reset", "reset", "set"]
    # A key never set: reset stores the default (there was no old value).
    code, out, _ = thresholds(url, "reset", "quiet_hours.mode", "--config", str(config))
    assert out == "quiet_hours.mode: (default) -> suppress (default)\n"
    unknown = thresholds(url, "reset", "caller.max_per_week")
    assert unknown[0] == 1
    assert "unknown threshold 'caller.max_per_week'" in unknown[2]


def test_history_newest_first_filtered_and_as_json(url: str, config: Path) -> None:
    for args in (("set", "caller.max_per_hour", "4", "--by", "alice"),
                 ("set", "pair.min_interval", "300", "--by", "bob"),
                 ("set", "caller.max_per_hour", "off", "--by", "carol"),
                 ("reset", "caller.max_per_hour", "--by", "dave", "--config", str(config))):
        code, _, err = thresholds(url, *args)
        assert code == 0, err

    code, out, err = thresholds(url, "history", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [(row["key"], row["action"], row["old"], row["new"], row["by"]) for row in rows] \
        == [("caller.max_per_hour", "reset", "off", "7", "dave"),
            ("caller.max_per_hour", "set", "4", "off", "carol"),
            ("pair.min_interval", "set", None, "300", "bob"),
            ("caller.max_per_hour", "set", None, "4", "alice")]
    assert set(rows[0]) == {"changed_at", "key", "action", "old", "new", "by"}
    times = [datetime.fromisoformat(row["changed_at"].replace("Z", "+00:00"))
             for row in rows]
    assert all(row["changed_at"].endswith("Z") for row in rows)
    assert times == sorted(times, reverse=True)

    code, out, _ = thresholds(url, "history", "caller.max_per_hour", "--json")
    assert [row["by"] for row in json.loads(out)] == ["dave", "carol", "alice"]
    code, out, _ = thresholds(url, "history", "caller.max_per_hour", "--json", "--limit", "1")
    assert [row["by"] for row in json.loads(out)] == ["dave"]

    code, out, _ = thresholds(url, "history", "pair.min_interval")
    header, line = out.splitlines()
    assert header.split() == ["CHANGED_AT", "KEY", "ACTION", "OLD", "NEW", "BY"]
    assert line.split()[1:] == ["pair.min_interval", "set", "-", "300", "bob"]

    code, _, err = thresholds(url, "history", "pair.interval")
    assert code == 1 and "unknown threshold 'pair.interval'" in err


def test_history_of_a_key_never_changed_is_empty(url: str) -> None:
    code, out, err = thresholds(url, "history", "caller.max_per_day")
    assert (code, out, err) == (0, "", "(none)\n")
    assert json.loads(thresholds(url, "history", "--json")[1]) == []


@pytest.mark.parametrize("args", [
    ("show",), ("show", "--json"), ("set", "caller.max_per_hour", "3"),
    ("reset", "caller.max_per_hour"), ("history",), ("history", "caller.max_per_hour"),
])
def test_unreachable_database_is_a_one_line_error(args: tuple[str, ...]) -> None:
    code, out, err = thresholds(UNREACHABLE, *args)
    assert code == 3, (args, out, err)
    [line] = err.splitlines()
    assert line.startswith("Error: cannot connect to database "
                           "postgresql+psycopg://beep:***@127.0.0.1:1/beep: ")
    assert "hunter2" not in out + err and "Traceback" not in out + err


def test_a_bad_value_is_refused_before_the_database_is_needed() -> None:
    code, _, err = thresholds(UNREACHABLE, "set", "caller.max_per_hour", "lots")
    assert code == 1
    assert err.startswith("Error: caller.max_per_hour: must be an integer or off")


def test_database_without_the_policy_tables(tmp_path: Path) -> None:
    code, _, err = thresholds(f"sqlite:///{tmp_path / 'empty.db'}", "show")
    assert code == 3
    assert "is not initialised (missing attempts, blacklist, number_portability, " \
           "thresholds, policy_counters): run `beepcall db upgrade`" in err
