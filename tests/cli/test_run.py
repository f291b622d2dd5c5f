"""``beepcall run`` and ``check-config`` as an operator uses them, in a real process."""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from interceptor.demo.run import AD_NAME, AD_TEXT
from interceptor.diameter import codec
from interceptor.storage.engine import make_engine
from interceptor.storage.models import AdCampaign, Attempt
from tests.diameter.fakes import peer_factory, split_messages

pytestmark = pytest.mark.integration  # every test here runs beepcall in its own process

BEEPCALL = [sys.executable, "-m", "cli"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _config(listen_port: int, ocs_port: int) -> dict[str, object]:
    return {
        "agent": {"origin_host": "interceptor.test", "origin_realm": "test"},
        "listen": {"address": "127.0.0.1", "port": listen_port},
        "peers": {
            "clients": [{"origin_host": "cscf.test", "addresses": ["127.0.0.1"]}],
            "ocs": [{"origin_host": "ocs1.test", "address": "127.0.0.1", "port": ocs_port},
                    {"origin_host": "ocs2.test", "address": "127.0.0.1", "port": 70000}],
        },
        "detection": {"enabled": False},
    }


def test_invalid_config_exits_non_zero_naming_the_path(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    listen_port = _free_port()
    config.write_text(yaml.safe_dump(_config(listen_port, 3868)))
    result = subprocess.run([*BEEPCALL, "run", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "peers.ocs[1].port: must be 1..65535" in result.stderr
    # Nothing listened: the port is still ours to take.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", listen_port))


@pytest.mark.parametrize(("mutation", "expected"), [
    ({"listen": {"port": "x"}}, "listen.port: must be 0..65535"),
    ({"agent": {"origin_realm": "test"}}, "agent.origin_host: is required"),
    ({"timers": {"watchdog": 1}}, "timers.watchdog: must be 6.0..3600.0"),
    ({"routing": {"default": ["nobody.test"]}}, "routing.default[0]: unknown peer"),
    ({"listen": {"adress": "1.2.3.4"}}, "listen.adress: unknown setting"),
])
def test_check_config_reports_each_error_by_path(tmp_path: Path, mutation: dict[str, object],
                                                 expected: str) -> None:
    raw = _config(3868, 3868)
    raw["peers"]["ocs"].pop()  # type: ignore[index]
    raw.update(mutation)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(raw))
    result = subprocess.run([*BEEPCALL, "check-config", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert expected in result.stderr


def test_example_config_is_valid() -> None:
    example = Path(__file__).parents[2] / "examples" / "interceptor.yaml"
    result = subprocess.run([*BEEPCALL, "check-config", "--config", str(example)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def _read_messages(sock: socket.socket, deadline: float) -> list[bytes]:
    data = b""
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            break
        data += chunk
        if len(data) >= 4 and len(data) >= struct.unpack("!I", data[:4])[0] & 0xFFFFFF:
            return split_messages(data)
    return split_messages(data)


def test_run_serves_a_client_and_sends_dpr_on_sigterm(tmp_path: Path) -> None:
    listen_port = _free_port()
    raw = _config(listen_port, _free_port())  # the OCS is down: the agent keeps retrying
    raw["peers"]["ocs"].pop()  # type: ignore[index]
    config = tmp_path / "ok.yaml"
    config.write_text(yaml.safe_dump(raw))
    process = subprocess.Popen([*BEEPCALL, "run", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", listen_port), timeout=0.5)
                break
            except OSError:
                assert time.monotonic() < deadline, "interceptor did not start listening"
                time.sleep(0.05)  # waiting for another process to start: polling is all we have
        with sock:
            sock.sendall(peer_factory("cscf.test").cer())
            [cea] = _read_messages(sock, time.monotonic() + 10)
            assert codec.result_code(cea) == 2001
            process.send_signal(signal.SIGTERM)
            [dpr] = _read_messages(sock, time.monotonic() + 10)
            header = codec.parse_header(dpr)
            assert header.command_code == 282 and header.is_request
            sock.sendall(peer_factory("cscf.test").dpa(header))
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_demo_runs_on_embedded_defaults_and_records_attempts(tmp_path: Path) -> None:
    result = subprocess.run([*BEEPCALL, "demo", "--calls", "30", "--interval", "0",
                             "--workdir", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "30/30 requests answered through the interceptor" in result.stdout
    voice_refusals = [line for line in result.stdout.splitlines()
                      if "IMS voice" in line and "4012" in line]
    handed = [line for line in voice_refusals if line.endswith("-> out of credit: to side work")]
    assert voice_refusals and len(handed) == len(voice_refusals)
    assert f"{len(voice_refusals)} out-of-credit voice attempts in the attempts table" in \
        result.stdout
    assert (tmp_path / "beepcall-demo.db").exists()
    # Some callees call back, one caller tops up; the summary and the HTML report say so.
    callbacks = [line for line in result.stdout.splitlines() if "(callback; talks" in line]
    assert callbacks and all("2001" in line for line in callbacks)
    assert any("(topped up; talks" in line for line in result.stdout.splitlines())
    assert "callback rate: overall / rang ->" in result.stdout
    linked = [line for line in result.stdout.splitlines()
              if "callback " in line and "s later" in line and "s charged" in line]
    assert len(linked) >= len(callbacks)
    assert "Beep Call: what the service did and earned" in result.stdout
    report = tmp_path / "beepcall-report.html"
    assert report.exists() and report.read_text().count("<svg") == 5
    # The SMS to the beeped callees went to the demo's own SMSC, with the demo's ad.
    received = re.search(r"SMS the demo SMSC received on 127\.0\.0\.1:\d+ \((\d+); "
                         r"(\d+) delivery receipts sent back\)", result.stdout)
    assert received is not None, result.stdout
    sms_lines = [line for line in result.stdout.splitlines()
                 if re.match(r"  to +\d+  from +\d+  UCS-2, ", line)]
    assert len(sms_lines) == int(received.group(1)) >= 1
    assert int(received.group(2)) >= len(sms_lines)
    assert all(line.endswith(". - " + AD_TEXT) for line in sms_lines)
    engine = make_engine(f"sqlite:///{tmp_path / 'beepcall-demo.db'}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(Attempt)).all()
            [campaign_id] = connection.execute(
                select(AdCampaign.id).where(AdCampaign.name == AD_NAME)).scalars()
    finally:
        engine.dispose()
    notified = [row for row in rows if row.beep_outcome is not None]
    assert notified and len(notified) == len(sms_lines)
    assert {(row.sms_status, row.sms_campaign_id) for row in notified} <= \
        {("submitted", campaign_id), ("delivered", campaign_id)}
    for row in notified:
        assert f"  to {row.callee_e164:>12}  from {row.caller_e164:>12}  " in \
            "\n".join(sms_lines)
    assert re.search(rf"SMS by status +│ +delivered {len(notified)} │", result.stdout)
