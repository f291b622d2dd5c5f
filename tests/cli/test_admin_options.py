"""Choosing the database, errors without tracebacks or passwords, --help, completion."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from cli.admin import ADMIN_GROUPS
from cli.main import main
from tests.cli.conftest import invoke
from tests.storage.databases import migrate


def sqlite(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def two_databases(tmp_path: Path) -> tuple[str, str]:
    first, second = sqlite(tmp_path / "one.db"), sqlite(tmp_path / "two.db")
    migrate(first)
    migrate(second)
    invoke(["blacklist", "add", "0911111111", "--scope", "callee", "--database-url", first])
    invoke(["blacklist", "add", "0922222222", "--scope", "callee", "--database-url", second])
    return first, second


def numbers(result: click.testing.Result) -> list[str]:
    assert result.exit_code == 0, result.output
    return [row["number"] for row in json.loads(result.stdout)]


def test_url_precedence(two_databases: tuple[str, str], tmp_path: Path) -> None:
    first, second = two_databases
    secret = tmp_path / "database-url"
    secret.write_text(second + "\n")
    config = tmp_path / "interceptor.yaml"
    config.write_text(f"database:\n  url_file: {secret}\n")
    env = {"BEEPCALL_DATABASE_URL": first}
    listing = ["blacklist", "list", "--json"]
    assert numbers(invoke([*listing, "--config", str(config)])) == ["84922222222"]
    assert numbers(invoke([*listing, "--config", str(config)], env=env)) == ["84911111111"]
    assert numbers(invoke(listing, env=env)) == ["84911111111"]
    assert numbers(invoke([*listing, "--database-url", second], env=env)) == ["84922222222"]
    # On the group too; the command's own option wins.
    assert numbers(invoke(["blacklist", "--database-url", second, "list", "--json"])) \
        == ["84922222222"]
    assert numbers(invoke(["blacklist", "--database-url", second, "list", "--json",
                           "--database-url", first])) == ["84911111111"]


def test_default_is_the_sqlite_file_in_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke(["db", "upgrade"]).exit_code == 0
    assert (tmp_path / "beepcall.db").exists()


def test_unreachable_database(tmp_path: Path) -> None:
    url = "postgresql+psycopg://beep:hunter2@127.0.0.1:1/beep"
    for args in (["blacklist", "list"], ["attempts", "list"], ["db", "current"],
                 ["db", "upgrade"], ["mnp", "show", "0912345678"]):
        result = invoke([*args, "--database-url", url])
        assert result.exit_code == 3, (args, result.output)
        [line] = result.stderr.splitlines()
        assert line.startswith("Error: cannot ")
        assert "postgresql+psycopg://beep:***@127.0.0.1:1/beep" in line
        assert "hunter2" not in result.output
        assert "Traceback" not in result.output


def test_database_without_the_schema(tmp_path: Path) -> None:
    result = invoke(["blacklist", "list", "--database-url", sqlite(tmp_path / "empty.db")])
    assert result.exit_code == 3
    assert "is not initialised (missing attempts, blacklist, number_portability, " \
           "thresholds, policy_counters): run `beepcall db upgrade`" in result.stderr


@pytest.mark.parametrize(("url", "message"), [
    ("mysql://root@localhost/beep", "unsupported database mysql://root@localhost/beep"),
    ("postgresql+psycopg2://postgres@127.0.0.1/beep", "use the psycopg 3 driver"),
    ("not a url", "invalid database URL"),
])
def test_unusable_urls(url: str, message: str) -> None:
    result = invoke(["blacklist", "list", "--database-url", url])
    assert result.exit_code == 1
    assert message in result.stderr


def test_bad_config_file(tmp_path: Path) -> None:
    config = tmp_path / "interceptor.yaml"
    config.write_text("database:\n  batch_size: 0\n")
    result = invoke(["blacklist", "list", "--config", str(config)])
    assert result.exit_code == 1
    assert "invalid configuration: database.batch_size: must be 1..100000" in result.stderr
    missing = invoke(["blacklist", "list", "--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "cannot read config file" in missing.stderr


def test_numbering_comes_from_the_config_file(tmp_path: Path) -> None:
    url = sqlite(tmp_path / "beep.db")
    migrate(url)
    config = tmp_path / "interceptor.yaml"
    config.write_text(f"database:\n  url: {url}\nnumbering:\n  country_code: '33'\n"
                      "  national_number_lengths: [9]\n  on_net_prefixes: ['336']\n")
    result = invoke(["blacklist", "add", "0612345678", "--scope", "callee", "--config",
                     str(config)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "added: 33612345678 (callee)\n"


def every_command() -> list[list[str]]:
    paths: list[list[str]] = []
    for group in ADMIN_GROUPS:
        assert isinstance(group, click.Group)
        paths.append([group.name or ""])
        paths.extend([group.name or "", name] for name in group.commands)
    return paths


@pytest.mark.parametrize("path", every_command(), ids=" ".join)
def test_help_everywhere(path: list[str]) -> None:
    result = invoke([*path, "--help"])
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: beepcall {' '.join(path)}")
    if len(path) == 2:
        assert "--database-url URL" in result.stdout


def test_admin_groups_are_registered() -> None:
    assert {"blacklist", "attempts", "mnp", "db"} <= set(main.commands)
    assert set(main.commands["blacklist"].commands) == {  # type: ignore[attr-defined]
        "add", "remove", "list", "import", "export"}


def test_shell_completion() -> None:
    script = invoke([], env={"_BEEPCALL_COMPLETE": "bash_source"})
    assert script.exit_code == 0
    assert "_beepcall_completion" in script.stdout
    words = invoke([], env={"_BEEPCALL_COMPLETE": "bash_complete",
                            "COMP_WORDS": "beepcall blacklist a", "COMP_CWORD": "2"})
    assert "add" in words.stdout
