"""The assembler reads only the sections a command asks for: an admin command works with
the service's file without the service's secrets, and without a valid relay section."""

from __future__ import annotations

from pathlib import Path

import pytest

from interceptor.config.loader import load_config, load_sections
from interceptor.core.section import ConfigError

SERVICE = """
agent: {origin_host: beep.test, origin_realm: test, host_ip_addresses: [127.0.0.1]}
peers:
  ocs: [{origin_host: ocs.test, realm: test, address: 127.0.0.1}]
database: {url: "sqlite:///x.db", batch_size: 7}
numbering: {country_code: 84, on_net_prefixes: ["8491"]}
callbacks: {currency: EUR}
metrics: {listen: "127.0.0.1:9999"}
sip:
  local_address: 127.0.0.1
  routes: {on_net: {host: 127.0.0.1, port: 5060, domain: ims.test}}
sms:
  smsc:
    binds:
      - {name: a, host: 127.0.0.1, port: 2775, system_id: beep,
         password_env: BEEPCALL_TEST_PASSWORD_NOT_SET}
"""


@pytest.fixture
def service_file(tmp_path: Path) -> Path:
    path = tmp_path / "interceptor.yaml"
    path.write_text(SERVICE)
    return path


def test_the_whole_file_needs_the_smpp_secret(service_file: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BEEPCALL_TEST_PASSWORD_NOT_SET", raising=False)
    with pytest.raises(ConfigError, match="BEEPCALL_TEST_PASSWORD_NOT_SET"):
        load_config(service_file)


def test_sections_load_without_the_secret(service_file: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BEEPCALL_TEST_PASSWORD_NOT_SET", raising=False)
    sections = load_sections(service_file, "database", "callbacks", "metrics", "numbering",
                             "policy")
    assert sections.database is not None
    assert (sections.database.url, sections.database.batch_size) == ("sqlite:///x.db", 7)
    assert sections.callbacks is not None and sections.callbacks.currency == "EUR"
    assert sections.metrics is not None and sections.metrics.port == 9999
    assert sections.numbering is not None and sections.numbering.country_code == "84"
    assert sections.policy is not None


def test_a_section_not_asked_for_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "partial.yaml"
    path.write_text("agent: {whatever: 1}\ndatabase: {url: 'sqlite:///y.db'}\n"
                    "callbacks: {window: -5}\n")
    sections = load_sections(path, "database")
    assert sections.database is not None and sections.database.url == "sqlite:///y.db"
    assert sections.callbacks is None
    with pytest.raises(ConfigError, match=r"^callbacks\.window"):
        load_sections(path, "callbacks")


def test_an_unknown_section_name_is_a_programming_error(service_file: Path) -> None:
    with pytest.raises(ValueError, match="no such section"):
        load_sections(service_file, "peers")
