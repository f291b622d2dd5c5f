"""``beepcall mnp`` against SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from interceptor.storage import portability
from interceptor.storage.portability import PortedItem
from tests.cli.conftest import Beepcall


def test_import_show_and_replace(beepcall: Beepcall, admin_engine: Engine,
                                 tmp_path: Path) -> None:
    path = tmp_path / "mnp.csv"
    path.write_text("number,status,routing_number\n"
                    "0912345678,ported_in,\n"
                    "0987654321,ported_out,1234\n")
    result = beepcall("mnp", "import", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout == "imported 2 number(s): 2 added, 0 updated\n"
    assert portability.lookup(admin_engine, "84987654321") == PortedItem(
        "84987654321", "ported_out", "1234")

    shown = json.loads(beepcall("mnp", "show", "+84987654321", "--json").stdout)
    assert shown == {"number": "84987654321", "status": "ported_out",
                     "routing_number": "1234", "operator": None}

    path.write_text("number,status\n0912345678,ported_out\n")
    assert beepcall("mnp", "import", str(path)).stdout == \
        "imported 1 number(s): 0 added, 1 updated\n"
    assert set(portability.load_all(admin_engine)) == {"84912345678", "84987654321"}

    result = beepcall("mnp", "import", "--replace", str(path))
    assert result.stdout.startswith("imported 1 number(s) (table replaced)")
    assert set(portability.load_all(admin_engine)) == {"84912345678"}
    missing = beepcall("mnp", "show", "0987654321")
    assert missing.exit_code == 1 and "not in the portability table" in missing.stderr


def test_bad_rows_are_reported_and_nothing_is_written(beepcall: Beepcall,
                                                      admin_engine: Engine,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "mnp.csv"
    path.write_text("number,status,routing_number\n"
                    "0912345678,ported_in,\n"
                    "0912,ported_in,\n"
                    "0987654321,moved,\n"
                    "0987654322,ported_out,1,extra\n"
                    "+84912345678,ported_out,\n")
    result = beepcall("mnp", "import", str(path))
    assert result.exit_code == 1
    assert "4 bad row(s), nothing imported" in result.stderr
    for fragment in ("line 3: '0912'", "line 4: status 'moved'",
                     "line 5: 4 values for 3 columns", "line 6: 84912345678 repeats line 2"):
        assert fragment in result.stderr, fragment
    assert portability.load_all(admin_engine) == {}
