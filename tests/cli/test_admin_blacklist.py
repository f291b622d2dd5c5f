"""``beepcall blacklist`` against SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import getpass
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from interceptor.storage import blacklist as store
from tests.cli.conftest import Beepcall

HEADER = "number,scope,reason,expires_at\n"


def test_add_list_remove(beepcall: Beepcall, admin_engine: Engine) -> None:
    result = beepcall("blacklist", "add", "0912 345 678", "--scope", "callee",
                      "--reason", "asked by phone", "--by", "alice")
    assert result.exit_code == 0, result.output
    assert result.stdout == "added: 84912345678 (callee)\n"
    [entry] = store.entries(admin_engine)
    assert (entry.number, entry.scope, entry.reason, entry.added_by, entry.expires_at) == (
        "84912345678", "callee", "asked by phone", "alice", None)

    listed = beepcall("blacklist", "list")
    assert listed.exit_code == 0
    header, row = listed.stdout.splitlines()
    assert header.split() == ["NUMBER", "SCOPE", "EXPIRES_AT", "ADDED_BY", "ADDED_AT",
                              "REASON"]
    assert row.startswith("84912345678  callee")

    removed = beepcall("blacklist", "remove", "+84912345678")
    assert removed.exit_code == 0 and removed.stdout.startswith("removed: 84912345678")
    assert store.entries(admin_engine) == []
    again = beepcall("blacklist", "remove", "+84912345678")
    assert again.exit_code == 1
    assert "84912345678 is not in the blacklist" in again.stderr


def test_add_again_updates_and_by_defaults_to_the_os_user(beepcall: Beepcall,
                                                          admin_engine: Engine) -> None:
    assert beepcall("blacklist", "add", "0912345678", "--scope", "caller").exit_code == 0
    result = beepcall("blacklist", "add", "0912345678", "--scope", "caller", "--reason", "x")
    assert result.stdout.startswith("updated: 84912345678 (caller)")
    [entry] = store.entries(admin_engine)
    assert entry.added_by == getpass.getuser() and entry.reason == "x"


def test_expiry_by_date_or_duration(beepcall: Beepcall, admin_engine: Engine) -> None:
    before = datetime.now(UTC)
    assert beepcall("blacklist", "add", "0912345678", "--scope", "callee",
                    "--expires", "2099-12-31").exit_code == 0
    assert beepcall("blacklist", "add", "0912345679", "--scope", "callee",
                    "--for", "30d").exit_code == 0
    entries = {entry.number: entry for entry in store.entries(admin_engine)}
    assert entries["84912345678"].expires_at == datetime(2100, 1, 1, tzinfo=UTC)
    expires = entries["84912345679"].expires_at
    assert expires is not None
    assert before + timedelta(days=30) <= expires <= datetime.now(UTC) + timedelta(days=30)


def test_bad_input_is_a_one_line_error(beepcall: Beepcall) -> None:
    cases = [
        (["0912345678", "--scope", "callee", "--expires", "2099-01-01", "--for", "1d"],
         "give --expires or --for, not both"),
        (["0912345678", "--scope", "callee", "--expires", "2020-01-01"], "is in the past"),
        (["0912345678", "--scope", "callee", "--for", "soon"], "not a duration"),
        (["0912345678", "--scope", "everyone"], "'everyone' is not one of"),
        (["12", "--scope", "callee"], "too short"),
    ]
    for args, message in cases:
        result = beepcall("blacklist", "add", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output


def test_list_filters_and_json(beepcall: Beepcall) -> None:
    beepcall("blacklist", "add", "0912345678", "--scope", "callee", "--by", "ops")
    beepcall("blacklist", "add", "0912345678", "--scope", "caller", "--by", "ops")
    beepcall("blacklist", "add", "0987654321", "--scope", "callee", "--by", "ops")
    result = beepcall("blacklist", "list", "--json", "--scope", "callee")
    rows = json.loads(result.stdout)
    assert [(row["number"], row["scope"]) for row in rows] == [("84912345678", "callee"),
                                                               ("84987654321", "callee")]
    assert rows[0]["added_at"].endswith("Z") and rows[0]["added_by"] == "ops"
    result = beepcall("blacklist", "list", "--json", "--number", "0912345678")
    assert len(json.loads(result.stdout)) == 2
    empty = beepcall("blacklist", "list", "--number", "0911111111")
    assert empty.exit_code == 0 and empty.stdout == ""


def test_import_is_all_or_nothing_with_line_numbers(beepcall: Beepcall,
                                                    admin_engine: Engine,
                                                    tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER +
                   "0912345678,callee,ok,\n"
                   "abc,callee,,\n"
                   "0912345679,nobody,,\n"
                   "\n"
                   "0912345670,caller,,2020-01-01\n"
                   "0912345671,caller,,tomorrow\n"
                   "+84912345678,callee,again,\n")
    result = beepcall("blacklist", "import", str(bad))
    assert result.exit_code == 1
    assert "5 bad row(s), nothing imported" in result.stderr
    for fragment in ("line 3: 'abc'", "line 4: scope 'nobody'", "line 6: expires_at",
                     "line 7: 'tomorrow' is not an ISO date",
                     "line 8: 84912345678 (callee) repeats line 2"):
        assert fragment in result.stderr, fragment
    assert store.entries(admin_engine) == []

    good = tmp_path / "good.csv"
    good.write_text(HEADER + "0912345678,callee,ok,\n0912345679,caller,,2099-06-30\n")
    result = beepcall("blacklist", "import", str(good), "--by", "bulk")
    assert result.exit_code == 0, result.output
    assert result.stdout == "imported 2 row(s): 2 added, 0 updated\n"
    assert {(entry.number, entry.added_by) for entry in store.entries(admin_engine)} == {
        ("84912345678", "bulk"), ("84912345679", "bulk")}


def test_import_checks_the_header(beepcall: Beepcall, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("msisdn,scope\n0912345678,callee\n")
    result = beepcall("blacklist", "import", str(path))
    assert result.exit_code == 1
    assert "line 1: bad header (missing column(s) number; unknown column(s) msisdn)" \
        in result.stderr


def test_export_then_import_round_trips(beepcall: Beepcall, admin_engine: Engine) -> None:
    beepcall("blacklist", "add", "0912345678", "--scope", "callee", "--reason",
             "said \"stop\", twice", "--by", "alice", "--expires", "2099-12-31")
    beepcall("blacklist", "add", "0987654321", "--scope", "caller", "--by", "bob")
    exported = beepcall("blacklist", "export")
    assert exported.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [row["number"] for row in rows] == ["84912345678", "84987654321"]
    assert rows[0]["reason"] == 'said "stop", twice'
    assert rows[0]["expires_at"] == "2100-01-01T00:00:00Z"
    before = store.entries(admin_engine)
    for entry in before:
        store.remove(admin_engine, entry.number)
    result = beepcall("blacklist", "import", "-", input=exported.stdout)
    assert result.exit_code == 0, result.output
    assert store.entries(admin_engine) == before
