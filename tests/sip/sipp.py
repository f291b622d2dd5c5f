"""SIPp (Debian ``sip-tester``) as B's network: a UAS scenario on 127.0.0.1, run as a
subprocess, with its message trace, response-time (RTD) trace and statistics read back.

Missing ``sipp`` fails the test loudly (it never skips). Every process started is
terminated at teardown, killed if it does not exit.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import logging
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import defer, reactor
from twisted.internet.task import deferLater

logger = logging.getLogger(__name__)

SCENARIOS = Path(__file__).parent / "scenarios"
INSTALL_HINT = "apt-get install -y sip-tester"
EXIT_ALL_OK = 0  # SIPp: every call of the scenario succeeded

_ENTRY = re.compile(
    r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n"
    r"(UDP|TCP) message (sent|received) (?:\[\d+\] bytes :|\(\d+ bytes\):)\n\n",
    re.MULTILINE)


def require_sipp() -> str:
    path = shutil.which("sipp")
    if path is None:
        pytest.fail(f"required binary 'sipp' not found in PATH; install it: {INSTALL_HINT}")
    return path


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class TracedMessage:
    """One entry of SIPp's ``-trace_msg`` log."""

    time: float  # epoch seconds (SIPp's local wall clock)
    direction: str  # "sent" or "received" (by SIPp)
    text: str

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    @property
    def method(self) -> str | None:
        first = self.first_line
        return None if first.startswith("SIP/2.0") else first.split(" ", 1)[0]

    @property
    def status(self) -> int | None:
        first = self.first_line
        return int(first.split(" ")[1]) if first.startswith("SIP/2.0") else None

    def header(self, name: str) -> str | None:
        for line in self.text.split("\n")[1:]:
            key, sep, value = line.partition(":")
            if sep and key.strip().lower() == name.lower():
                return value.strip()
        return None


class SippUas:
    """One SIPp UAS process."""

    def __init__(self, scenario: str, workdir: Path, *, calls: int = 1, transport: str = "u1",
                 pause_ms: int = 0, keys: dict[str, str] | None = None,
                 extra: tuple[str, ...] = ()) -> None:
        self.scenario = SCENARIOS / scenario
        assert self.scenario.exists(), self.scenario
        self.workdir = workdir
        self.calls = calls
        self.transport = transport
        self.port = free_port(socket.SOCK_STREAM if transport.startswith("t") else
                              socket.SOCK_DGRAM)
        self.pause_ms = pause_ms
        self.keys = keys or {}
        self.extra = extra
        stem = f"{self.scenario.stem}-{self.port}"
        self.message_file = workdir / f"{stem}-messages.log"
        self.stat_file = workdir / f"{stem}-stat.csv"
        self.error_file = workdir / f"{stem}-errors.log"
        self.output_file = workdir / f"{stem}-screen.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def args(self) -> list[str]:
        args = [require_sipp(), "-sf", str(self.scenario), "-i", "127.0.0.1", "-p",
                str(self.port), "-bind_local", "-t", self.transport, "-m", str(self.calls),
                "-d", str(self.pause_ms), "-nostdin", "-timeout", "120s",
                "-trace_msg", "-message_file", str(self.message_file),
                "-trace_stat", "-stf", str(self.stat_file), "-fd", "1",
                "-trace_rtt", "-rtt_freq", "1",
                "-trace_err", "-error_file", str(self.error_file)]
        for key, value in self.keys.items():
            args += ["-key", key, value]
        return args + list(self.extra)

    def start(self, timeout: float = 10.0) -> SippUas:
        args = self.args
        logger.info("starting %s", " ".join(args))
        with self.output_file.open("wb") as output:
            self.proc = subprocess.Popen(args, cwd=self.workdir, stdin=subprocess.DEVNULL,
                                         stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self._listening():
            if self.proc.poll() is not None:
                raise AssertionError(f"sipp exited with {self.proc.returncode} before "
                                     f"listening:\n{self.screen()}")
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"sipp not listening on {self.port} within {timeout}s")
            time.sleep(0.02)
        return self

    def _listening(self) -> bool:
        if self.transport.startswith("t"):
            with socket.socket() as sock:  # SIPp takes the probe connection and its close
                return sock.connect_ex(("127.0.0.1", self.port)) == 0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(("127.0.0.1", self.port))
            except OSError as error:
                return error.errno == errno.EADDRINUSE
            return False

    def wait(self, timeout: float = 30.0) -> defer.Deferred[int]:
        """Fires with SIPp's exit status once it has run its calls (reactor-friendly)."""
        return self._wait(timeout)

    @defer.inlineCallbacks
    def _wait(self, timeout: float) -> Any:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"sipp still running after {timeout}s:\n{self.screen()}")
            yield deferLater(reactor, 0.02, lambda: None)
        return self.proc.returncode

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    # --- what SIPp saw ---
    def screen(self) -> str:
        text = self.output_file.read_text(errors="replace") if self.output_file.exists() else ""
        errors = self.error_file.read_text(errors="replace") if self.error_file.exists() \
            else ""
        return f"{text[-4000:]}\n--- errors ---\n{errors[-4000:]}"

    def messages(self) -> list[TracedMessage]:
        text = self.message_file.read_text(errors="replace")
        entries = []
        matches = list(_ENTRY.finditer(text))
        for index, match in enumerate(matches):
            end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
            stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f").timestamp()
            entries.append(TracedMessage(stamp, match.group(3), text[match.end():end].strip()))
        return entries

    def rtds(self, name: str) -> list[float]:
        """Per-call response times (ms) of RTD ``name`` (``-trace_rtt -rtt_freq 1``)."""
        files = list(self.workdir.glob(f"{self.scenario.stem}_{self.pid}_rtt.csv"))
        if not files:
            return []
        with files[0].open() as handle:
            rows = list(csv.reader(handle, delimiter=";"))
        return [float(row[1]) for row in rows[1:] if len(row) >= 3 and row[2] == name]

    def stats(self) -> dict[str, str]:
        """The last line of ``-trace_stat`` as {column: value}."""
        with self.stat_file.open() as handle:
            rows = list(csv.reader(handle, delimiter=";"))
        return dict(zip(rows[0], rows[-1], strict=False))

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


@contextlib.contextmanager
def running(uas: SippUas) -> Iterator[SippUas]:
    try:
        yield uas.start()
    finally:
        uas.stop()
