"""``beepcall policy explain A B --at TIME`` against SQLite and PostgreSQL.

The counters and pair rows it reads are made by real decisions
(:func:`interceptor.policy.store.decide` on recorded attempts), and where it matters the
test checks that the interceptor's next decision agrees with the explanation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from cli.admin.thresholds import load_policy_config
from interceptor.policy import store as policy_sql
from interceptor.policy import threshold_store as thresholds_sql
from interceptor.policy.rules import plan
from interceptor.policy.thresholds import SPECS, Thresholds
from interceptor.storage.records import AttemptRecord
from interceptor.storage.writer import write_attempts
from tests.cli.conftest import invoke

A, B = "84912345678", "84987654321"
RULES = ["blacklist:caller", "blacklist:callee", "class", "quiet_hours", "pair_interval",
         "caller_hour", "caller_day", "callee_day"]
# 10:00 in Ho Chi Minh City (UTC+7): outside the default quiet hours (22:00-07:00).
MORNING = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


@pytest.fixture
def url(migrated_url: str) -> str:
    return migrated_url


def write_config(path: Path, **thresholds: Any) -> Path:
    """A config whose policy section sets the operator's zone and ``thresholds``."""
    lines = ["policy:", "  timezone: Asia/Ho_Chi_Minh", "  thresholds:"]
    lines += [f"    {key}: {value}" for key, value in thresholds.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "interceptor.yaml")


def explain(url: str, config: Path | None, caller: str, callee: str, at: datetime | str,
            *extra: str) -> Any:
    """The command's output: parsed JSON with ``--json``, else the click Result."""
    when = at if isinstance(at, str) else at.isoformat()
    args = ["policy", "explain", "--database-url", url, caller, callee, "--at", when, *extra]
    if config is not None:
        args += ["--config", str(config)]
    result = invoke(args)
    if "--json" in extra:
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)
    return result


def verdicts(result: Any) -> dict[str, tuple[str, str]]:
    """rule -> (allow|REFUSE, why) from the text output."""
    assert result.exit_code == 0, result.output
    rows = {}
    for line in result.stdout.splitlines()[1:]:
        verdict, rule, why = line.split(None, 2)
        rows[rule] = (verdict, why)
    return rows


class Interceptor:
    """Records attempts and decides them as the side-work process does, with the
    thresholds the database holds over the configuration's defaults."""

    def __init__(self, engine: Engine, config: Path | None) -> None:
        self.engine = engine
        self.policy = load_policy_config(None if config is None else str(config))
        self.serial = 0

    def thresholds(self) -> Thresholds:
        merged = {key: SPECS[key].format(value) for key, value in
                  self.policy.defaults.items()}
        merged.update(thresholds_sql.load(self.engine))
        return Thresholds.from_text(merged)

    def decide(self, caller: str, callee: str, at: datetime,
               callee_class: str = "off_net") -> policy_sql.DecisionBatch:
        self.serial += 1
        record = AttemptRecord(occurred_at=at, session_id=f"s;{self.serial}",
                               result_code=4012, result_code_source="top_level",
                               client_peer="cscf1", caller_e164=caller, callee_e164=callee,
                               callee_class=callee_class)
        assert write_attempts(self.engine, [record]).inserted == 1
        planned = plan(self.thresholds(), self.policy.zone, caller=caller, callee=callee,
                       callee_class=callee_class, now=at)
        batch = policy_sql.DecisionBatch()
        with self.engine.connect() as connection:
            [candidate] = [found for found in policy_sql.candidates(
                connection, at - timedelta(seconds=60), at, 1000)
                if found.attempt_id == record.attempt_id]
            policy_sql.decide(connection, candidate, planned, at, batch)
        return batch

    def allowed(self, caller: str, callee: str, at: datetime) -> None:
        batch = self.decide(caller, callee, at)
        assert len(batch.claimed) == 1, batch


def test_allowed_shows_every_rule_with_its_counters(url: str, engine: Engine,
                                                    config: Path) -> None:
    fresh = explain(url, config, "0912345678", "0987654321", MORNING)
    assert fresh.stdout.splitlines()[0] == (
        f"beep {A} -> {B} (off_net) at 2026-03-02T03:00:00Z: ALLOWED")
    rows = verdicts(fresh)
    assert list(rows) == RULES
    assert {verdict for verdict, _ in rows.values()} == {"allow"}
    assert rows["quiet_hours"][1] == "10:00 Asia/Ho_Chi_Minh is outside 22:00-07:00"
    assert rows["pair_interval"][1] == f"no beep {A}->{B} on record"
    assert rows["caller_hour"][1] == "0 of 5 used in 2026-03-02T10+0700"
    assert rows["caller_day"][1] == "0 of 20 used in 2026-03-02"

    interceptor = Interceptor(engine, config)
    interceptor.allowed(A, B, MORNING - timedelta(minutes=65))  # 08:55 local
    interceptor.allowed(A, "84987654322", MORNING - timedelta(minutes=5))  # 09:55
    interceptor.allowed("84911111111", B, MORNING - timedelta(minutes=1))
    rows = verdicts(explain(url, config, "0912 345 678", "+84 98 765 4321", MORNING))
    assert {verdict for verdict, _ in rows.values()} == {"allow"}
    assert rows["pair_interval"][1] == f"last beep {A}->{B} 3900 s ago, minimum 600 s"
    assert rows["caller_hour"][1] == "0 of 5 used in 2026-03-02T10+0700"  # a new hour
    assert rows["caller_day"][1] == "2 of 20 used in 2026-03-02"
    assert rows["callee_day"][1] == "2 of 10 used in 2026-03-02"
    earlier = verdicts(explain(url, config, A, B, MORNING - timedelta(minutes=2)))
    assert earlier["caller_hour"][1] == "1 of 5 used in 2026-03-02T09+0700"


def test_refused_by_the_pair_interval(url: str, engine: Engine, config: Path) -> None:
    interceptor = Interceptor(engine, config)
    interceptor.allowed(A, B, MORNING)
    result = explain(url, config, "0912345678", "0987654321", MORNING + timedelta(seconds=120))
    assert result.stdout.splitlines()[0].endswith(": REFUSED BY PAIR_INTERVAL")
    rows = verdicts(result)
    assert rows["pair_interval"] == (
        "REFUSE", f"last beep {A}->{B} 120 s ago, minimum 600 s")
    assert rows["caller_hour"] == ("allow", "1 of 5 used in 2026-03-02T10+0700")
    # The other direction is another pair.
    assert verdicts(explain(url, config, B, A, MORNING + timedelta(seconds=120)))[
        "pair_interval"][0] == "allow"

    # The interceptor agrees: refused at 599 s, allowed from 600 s.
    just_before = MORNING + timedelta(seconds=599)
    assert verdicts(explain(url, config, A, B, just_before))["pair_interval"][0] == "REFUSE"
    assert interceptor.decide(A, B, just_before).suppressed == {"policy:pair_interval": 1}
    at_interval = MORNING + timedelta(seconds=600)
    assert explain(url, config, A, B, at_interval, "--json")["decision"] == "allowed"
    interceptor.allowed(A, B, at_interval)

    # A threshold changed with the CLI applies to the explanation.
    assert invoke(["thresholds", "set", "pair.min_interval", "60", "--database-url",
                   url]).exit_code == 0
    later = verdicts(explain(url, config, A, B, at_interval + timedelta(seconds=90)))
    assert later["pair_interval"] == ("allow", f"last beep {A}->{B} 90 s ago, minimum 60 s")
    assert invoke(["thresholds", "set", "pair.min_interval", "off", "--database-url",
                   url]).exit_code == 0
    assert verdicts(explain(url, config, A, B, at_interval))["pair_interval"] == (
        "allow", "off")


def test_caller_day_counts_in_the_operators_day(url: str, engine: Engine,
                                                tmp_path: Path) -> None:
    # Midnight in Ho Chi Minh City is 17:00 UTC.
    config = write_config(tmp_path / "day.yaml", **{"caller.max_per_day": 2,
                                                    "pair.min_interval": "off",
                                                    "quiet_hours.window": "off"})
    interceptor = Interceptor(engine, config)
    late = datetime(2026, 3, 1, 16, 58, tzinfo=UTC)  # 23:58 local, 1 March
    interceptor.allowed(A, "84987654301", late)
    interceptor.allowed(A, "84987654302", late + timedelta(minutes=1))  # 16:59Z

    before_midnight = explain(url, config, A, B, "2026-03-01T16:59:30Z")
    assert before_midnight.stdout.splitlines()[0].endswith(": REFUSED BY CALLER_DAY")
    rows = verdicts(before_midnight)
    assert rows["caller_day"] == ("REFUSE", "2 of 2 used in 2026-03-01")
    assert rows["caller_hour"] == ("allow", "2 of 5 used in 2026-03-01T23+0700")
    # The same question at 17:00Z is asked in the next local day: nothing counted yet.
    after_midnight = verdicts(explain(url, config, A, B, "2026-03-01T17:00:00Z"))
    assert after_midnight["caller_day"] == ("allow", "0 of 2 used in 2026-03-02")
    assert after_midnight["caller_hour"] == ("allow", "0 of 5 used in 2026-03-02T00+0700")

    # The interceptor decides the same: refused at 16:59:30Z (the local day is full),
    # allowed at 17:00Z, and that beep counts in the new local day.
    refused = interceptor.decide(A, B, datetime(2026, 3, 1, 16, 59, 30, tzinfo=UTC))
    assert refused.suppressed == {"policy:caller_daily": 1}
    interceptor.allowed(A, B, datetime(2026, 3, 1, 17, 0, tzinfo=UTC))
    rows = verdicts(explain(url, config, A, "84987654303", "2026-03-01T17:01:00Z"))
    assert rows["caller_day"] == ("allow", "1 of 2 used in 2026-03-02")
    assert rows["quiet_hours"] == ("allow", "off")
    # ... and 1 March's count did not move.
    assert verdicts(explain(url, config, A, "84987654303", "2026-03-01T16:59:59Z"))[
        "caller_day"] == ("REFUSE", "2 of 2 used in 2026-03-01")


def test_caller_hour_refusal_matches_the_interceptor(url: str, engine: Engine,
                                                     tmp_path: Path) -> None:
    config = write_config(tmp_path / "hour.yaml", **{"caller.max_per_hour": 2})
    interceptor = Interceptor(engine, config)
    for minute, callee in ((1, "84987654301"), (2, "84987654302")):
        interceptor.allowed(A, callee, MORNING + timedelta(minutes=minute))
    at = MORNING + timedelta(minutes=3)
    answer = explain(url, config, A, B, at, "--json")
    assert answer["decision"] == "refused by caller_hour"
    [hour] = [rule for rule in answer["rules"] if rule["rule"] == "caller_hour"]
    assert hour == {"rule": "caller_hour", "allows": False,
                    "why": "2 of 2 used in 2026-03-02T10+0700"}
    assert interceptor.decide(A, B, at).suppressed == {"policy:caller_hourly": 1}


def test_blacklisted_caller_and_callee(url: str, config: Path) -> None:
    added = invoke(["blacklist", "add", "0912345678", "--scope", "caller", "--database-url",
                    url, "--expires", "2099-12-31"])
    assert added.exit_code == 0, added.output
    result = explain(url, config, "0912345678", "0987654321", MORNING)
    assert result.stdout.splitlines()[0].endswith(": REFUSED BY BLACKLIST:CALLER")
    rows = verdicts(result)
    assert rows["blacklist:caller"] == ("REFUSE", f"{A} is listed until 2100-01-01T00:00:00Z")
    assert rows["blacklist:callee"] == ("allow", f"{B} is not listed")
    # The caller scope does not list the number as a callee.
    assert explain(url, config, B, A, MORNING, "--json")["decision"] == "allowed"
    # After the expiry the entry no longer applies.
    assert explain(url, config, A, B, "2100-01-01T00:00:00Z", "--json")[
        "decision"] == "allowed"

    assert invoke(["blacklist", "add", "0987654321", "--scope", "callee",
                   "--database-url", url]).exit_code == 0
    rows = verdicts(explain(url, config, "0911111111", B, MORNING))
    assert rows["blacklist:callee"] == ("REFUSE", f"{B} is listed without expiry")


def test_quiet_hours_deferred_or_suppressed(url: str, engine: Engine, config: Path) -> None:
    night = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 23:00 local
    deferred = explain(url, config, A, B, night)
    assert deferred.stdout.splitlines()[0].endswith(
        ": DEFERRED UNTIL 2026-03-02T00:00:00Z")  # 07:00 local
    assert verdicts(deferred)["quiet_hours"] == (
        "allow", "23:00 Asia/Ho_Chi_Minh is inside 22:00-07:00: deferred")
    interceptor = Interceptor(engine, config)
    assert interceptor.decide(A, B, night).deferred == 1

    assert invoke(["thresholds", "set", "quiet_hours.mode", "suppress", "--database-url",
                   url]).exit_code == 0
    suppressed = explain(url, config, A, B, night)
    assert suppressed.stdout.splitlines()[0].endswith(": REFUSED BY QUIET_HOURS")
    assert verdicts(suppressed)["quiet_hours"] == (
        "REFUSE", "23:00 Asia/Ho_Chi_Minh is inside 22:00-07:00: suppressed")
    assert interceptor.decide(A, B, night).suppressed == {"policy:quiet_hours": 1}

    # The window's end is exclusive: 07:00 local is allowed.
    assert explain(url, config, A, B, "2026-03-02T00:00:00Z", "--json")[
        "decision"] == "allowed"
    assert explain(url, config, A, B, "2026-03-01T23:59:00Z", "--json")[
        "decision"] == "refused by quiet_hours"
    # A window set with the CLI.
    assert invoke(["thresholds", "set", "quiet_hours.window", "09:00-11:00",
                   "--database-url", url]).exit_code == 0
    assert verdicts(explain(url, config, A, B, MORNING))["quiet_hours"] == (
        "REFUSE", "10:00 Asia/Ho_Chi_Minh is inside 09:00-11:00: suppressed")


def test_json_structure(url: str, engine: Engine, config: Path) -> None:
    Interceptor(engine, config).allowed(A, B, MORNING)
    answer = explain(url, config, "0912345678", "0987654321", "2026-03-02T10:01:00+07:00",
                     "--json")
    assert set(answer) == {"caller", "callee", "callee_class", "at", "decision", "rules"}
    assert (answer["caller"], answer["callee"], answer["callee_class"], answer["at"]) == (
        A, B, "off_net", "2026-03-02T03:01:00Z")
    assert answer["decision"] == "refused by pair_interval"
    assert [rule["rule"] for rule in answer["rules"]] == RULES
    for rule in answer["rules"]:
        assert set(rule) == {"rule", "allows", "why"}
        assert isinstance(rule["allows"], bool) and isinstance(rule["why"], str)
    assert [rule["rule"] for rule in answer["rules"] if not rule["allows"]] == [
        "pair_interval"]
    assert answer["rules"][RULES.index("pair_interval")]["why"] == (
        f"last beep {A}->{B} 60 s ago, minimum 600 s")


@pytest.mark.parametrize("typed", ["0912345678", "0912 345 678", "+84912345678",
                                   "84912345678", "912345678", "tel:+84-912-345-678"])
def test_numbers_are_normalised(url: str, config: Path, typed: str) -> None:
    answer = explain(url, config, typed, "098.765.4321", MORNING, "--json")
    assert (answer["caller"], answer["callee"]) == (A, B)


def test_class_switch_and_bad_input(url: str, config: Path) -> None:
    foreign = explain(url, config, A, "+33612345678", MORNING, "--json")
    assert foreign["callee_class"] == "international"
    assert foreign["decision"] == "refused by class"
    assert foreign["rules"][RULES.index("class")]["why"] == (
        "class international: beep off, SMS off")

    bad = explain(url, config, "12", B, MORNING)
    assert bad.exit_code == 1
    assert bad.stderr.startswith("Error: '12': ") and len(bad.stderr.splitlines()) == 1
    when = explain(url, config, A, B, "tomorrow")
    assert when.exit_code == 2 and "'tomorrow' is not an ISO date" in when.stderr


def test_unreachable_database() -> None:
    result = invoke(["policy", "explain", "0912345678", "0987654321", "--database-url",
                     "postgresql+psycopg://beep:hunter2@127.0.0.1:1/beep"])
    assert result.exit_code == 3, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("Error: cannot connect to database "
                           "postgresql+psycopg://beep:***@127.0.0.1:1/beep: ")
    assert "hunter2" not in result.output and "Traceback" not in result.output
