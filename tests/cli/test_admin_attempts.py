"""``beepcall attempts`` against SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from interceptor.storage.records import AttemptRecord
from interceptor.storage.writer import write_attempts
from tests.cli.conftest import Beepcall
from tests.storage.fakes import attempt


@pytest.fixture
def recorded(admin_engine: Engine) -> list[AttemptRecord]:
    records = [attempt(index) for index in range(5)]
    records.append(attempt(5, caller_e164="84910000001", status="suppressed",
                           status_reason="blacklist:callee"))
    write_attempts(admin_engine, records)
    return records


def test_list_newest_first(beepcall: Beepcall, recorded: list[AttemptRecord]) -> None:
    result = beepcall("attempts", "list")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split()[:4] == ["ID", "OCCURRED_AT", "CALLER_E164", "CALLEE_E164"]
    assert len(rows) == 6
    assert "2026-03-01T10:32:05Z" in rows[0] and "2026-03-01T10:32:00Z" in rows[-1]


def test_filters(beepcall: Beepcall, recorded: list[AttemptRecord]) -> None:
    def ids(*args: str) -> list[str]:
        result = beepcall("attempts", "list", "--json", *args)
        assert result.exit_code == 0, result.output
        return [row["attempt_id"] for row in json.loads(result.stdout)]

    first, second = recorded[1].attempt_id, recorded[5].attempt_id
    assert ids("--number", "0910000001") == [second, first]  # national format, normalised
    assert ids("--caller", "+84 910 000 001", "--status", "recorded") == [first]
    assert ids("--callee", "tel:+84980000002") == [recorded[2].attempt_id]
    assert ids("--since", "2026-03-01T10:32:01Z", "--until", "2026-03-01T17:32:03+07:00") \
        == [recorded[2].attempt_id, first]
    assert ids("--status", "suppressed") == [second]
    assert ids("--since", "1h") == []  # the fixtures are from March 2026
    assert len(ids("--limit", "2")) == 2


def test_json_has_every_column(beepcall: Beepcall, recorded: list[AttemptRecord]) -> None:
    [row] = json.loads(beepcall("attempts", "list", "--json", "--status",
                                "suppressed").stdout)
    assert row["status_reason"] == "blacklist:callee"
    assert row["occurred_at"] == "2026-03-01T10:32:05Z"
    for later in ("beep_outcome", "beep_sip_code", "rang_at", "sms_status", "callback_at"):
        assert row[later] is None


def test_show_by_attempt_id_or_row_id(beepcall: Beepcall,
                                      recorded: list[AttemptRecord]) -> None:
    record = recorded[3]
    shown = beepcall("attempts", "show", record.attempt_id)
    assert shown.exit_code == 0
    lines = dict(line.split(None, 1) for line in shown.stdout.splitlines())
    assert lines["session_id"] == record.session_id
    assert lines["beep_outcome"] == "-"
    as_json = json.loads(beepcall("attempts", "show", lines["id"], "--json").stdout)
    assert as_json["attempt_id"] == record.attempt_id
    missing = beepcall("attempts", "show", "no-such-attempt")
    assert missing.exit_code == 1 and "no attempt 'no-such-attempt'" in missing.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "yesterday"], "'yesterday' is not an ISO date"),
    (["--number", "abc"], "not a telephone number"),
    (["--limit", "0"], "0 is not in the range"),
])
def test_bad_filters(beepcall: Beepcall, args: list[str], message: str) -> None:
    result = beepcall("attempts", "list", *args)
    assert result.exit_code == 2
    assert message in result.stderr
