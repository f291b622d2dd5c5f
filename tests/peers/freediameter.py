"""Integration fixtures: a real ``freeDiameterd`` peer and a tiny threaded Python Diameter peer.

``FreeDiameterDaemon`` writes a config (identity, realm, port, ConnectPeer, acl_wl, rt_default,
dbg_msg_dumps) into its own work dir, runs ``freeDiameterd`` with stdout/stderr captured to a log
file and parses that log (peer state changes, sent/received messages).

``DiameterStubPeer`` is a plain-socket, thread-based Diameter node (listen or connect) that
answers CER/DWR/DPR itself and hands other requests to per-command handlers. It does not touch the
Twisted reactor, so it can be used next to pytest-twisted tests.

Facts about freeDiameter 1.2.1 (Debian) that this module relies on, checked by running it:

* TLS is fully disabled without any certificate when ``SecPort = 0`` and no ``TLS_Cred`` is given
  (log: "TLS is disabled, this is *NOT* a recommended practice!").
* ``ListenOn = "127.0.0.1"`` is silently dropped (libfdcore filters loopback endpoints), so the
  daemon always binds the wildcard address on ``Port``; ``No_IPv6`` keeps it to IPv4.
* Unknown peers connecting in are rejected unless listed in ``ConnectPeer`` or whitelisted by the
  ``acl_wl.fdx`` extension with ``ALLOW_IPSEC`` (without it: "only TLS-protected connection is
  whitelisted"); the rejected peer gets a CEA with 3010 DIAMETER_UNKNOWN_PEER.
* A CEA whose Origin-Host differs from the ``ConnectPeer`` identity is refused.

Usage (``interceptor.test`` listening on ``127.0.0.1:PORT``; upstream OCS stub ``ocs.ocs.test``)::

    # (a) freeDiameter as a CLIENT (CSCF/PGW) of the interceptor
    pgw = freediameter_factory(FreeDiameterConfig(
        "pgw.client.test", "client.test",
        connect_peers=[ConnectPeer("interceptor.test", PORT)]))
    pgw.wait_peer_open("interceptor.test")

    # (b) freeDiameter as the UPSTREAM the interceptor connects to, relaying to a Python OCS
    ocs = diameter_stub_factory("ocs.ocs.test", "ocs.test", handlers={CMD_CCR: answer_ccr})
    upstream = freediameter_factory(FreeDiameterConfig(
        "dra.test", "test",
        accept_peers=["interceptor.test"],                 # acl_wl: let the interceptor in
        connect_peers=[ConnectPeer("ocs.ocs.test", ocs.listen())],
        routes=[realm_route("ocs.test", "ocs.ocs.test")]))  # rt_default
    # point the interceptor at 127.0.0.1:upstream.port, then:
    upstream.wait_peer_open("interceptor.test")
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest
from diameter.message import Message
from diameter.message.commands import (
    CapabilitiesExchangeAnswer,
    CapabilitiesExchangeRequest,
    DeviceWatchdogAnswer,
    DisconnectPeerAnswer,
)

from interceptor.diameter.traffic import CallAttempt, cca, ccr

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)
T = TypeVar("T")

FREEDIAMETERD = "freeDiameterd"
INSTALL_HINT = "apt-get install -y freediameterd freediameter-extensions"
EXTENSION_DIRS = (
    Path("/usr/lib/freeDiameter"),
    Path("/usr/lib/x86_64-linux-gnu/freeDiameter"),
    Path("/usr/local/lib/freeDiameter"),
)
MIN_TW_TIMER = 6
# dbg_msg_dumps mask: errors FULL (0x4), send/receive FULL (0x40), routing COMPACT (0x200),
# peer connect events COMPACT (0x2000). FULL = one line per message, AVPs parsed.
DEFAULT_DUMP_MASK = 0x2244

CMD_CER = 257
CMD_DWR = 280
CMD_DPR = 282
RESULT_SUCCESS = 2001

# --- log strings of freeDiameter 1.2.1 -----------------------------------------------------------
LOG_INITIALIZED = "freeDiameterd daemon initialized."
# "'STATE_WAITCEA'\t-> 'STATE_OPEN'\t'peer.id'"
# "'STATE_CLOSED'\t-> STATE_ZOMBIE (terminated)\t'peer.id'"
STATE_RE = re.compile(
    r"'(?P<old>STATE_[A-Z_]+)'\t-> '?(?P<new>STATE_[A-Z_]+)'?[^\t]*\t'(?P<peer>[^']*)'"
)
# dbg_msg_dumps FULL mode:
# "SND to 'peer': Capabilities-Exchange-Request(257)[R---], Length=176, Hop-By-Hop-Id=0x7ad760d9,
#  End-to-End=0xc89f9f98, { Origin-Host(264)[-M]="client.test" }, ..."  (base protocol, app 0)
# "RCV from 'peer': Credit-Control-Request(4/272)[RP--], Length=160, ..."  (application 4)
# routing (COMPACT):
#   "FORWARDING: 'Credit-Control-Request'4/272 f:RP-- src:'interceptor.test' len:160"
# errors: "ERROR  PARSING ERROR: '<reason>' from '<peer>': ...", "ROUTING ERROR", "DROPPED"
MSG_RE = re.compile(
    r"(?P<dir>SND to|RCV from) '(?P<peer>[^']*)': (?P<name>.*?)\((?:(?P<app>\d+)/)?(?P<code>\d+)\)"
    r"\[(?P<flags>[RPET-]{4})\], Length=(?P<length>\d+), "
    r"Hop-By-Hop-Id=0x(?P<hbh>[0-9a-fA-F]+), End-to-End=0x(?P<e2e>[0-9a-fA-F]+)(?P<avps>.*)$"
)
ORIGIN_HOST_RE = re.compile(r'Origin-Host\(264\)\[[^\]]*\]="(?P<host>[^"]*)"')
UNKNOWN_PEER = "<unknown peer>"


def require_binary(name: str, install_hint: str) -> str:
    """Return the absolute path of ``name`` or fail the test loudly (never skip)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"required binary {name!r} not found in PATH; install it: {install_hint}")
    return path


def find_extension(name: str) -> Path:
    """Locate a freeDiameter extension (``rt_default.fdx``...) or fail the test loudly."""
    for directory in EXTENSION_DIRS:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    pytest.fail(
        f"freeDiameter extension {name!r} not found in {EXTENSION_DIRS}; install: {INSTALL_HINT}"
    )


def free_tcp_port() -> int:
    """Return a TCP port that is currently free on all IPv4 addresses (the daemon binds 0.0.0.0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


# --- configuration -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConnectPeer:
    """A ``ConnectPeer`` entry: connect out to ``host:port``, expect ``identity`` in the CEA."""

    identity: str
    port: int
    host: str = "127.0.0.1"
    tw_timer: int | None = None
    tc_timer: int | None = None

    def render(self) -> str:
        """Return the ``ConnectPeer = ...;`` config line (always ``No_TLS``, TCP only)."""
        params = [
            f'ConnectTo = "{self.host}"',
            f"Port = {self.port}",
            "No_TLS",
            "No_SCTP",
            "Prefer_TCP",
        ]
        if self.tw_timer is not None:
            params.append(f"TwTimer = {self.tw_timer}")
        if self.tc_timer is not None:
            params.append(f"TcTimer = {self.tc_timer}")
        return f'ConnectPeer = "{self.identity}" {{ {"; ".join(params)}; }};'


@dataclass(frozen=True)
class RouteRule:
    """A raw ``rt_default`` rule: ``CRITERIA : TARGET += SCORE ;``."""

    criteria: str
    target: str
    score: int | str = 100

    def render(self) -> str:
        """Return the rule line."""
        return f"{self.criteria} : {self.target} += {self.score} ;"


def realm_route(realm: str, peer: str, score: int | str = 100) -> RouteRule:
    """Route requests with ``Destination-Realm == realm`` to the peer with Diameter-Id ``peer``."""
    return RouteRule(criteria=f'dr="{realm}"', target=f'"{peer}"', score=score)


@dataclass(frozen=True)
class Extension:
    """A ``LoadExtension`` entry; ``argument`` is the extension's config file or parameter."""

    name: str
    argument: str | None = None


@dataclass
class FreeDiameterConfig:
    """What to write into ``freeDiameter.conf``; ``port=0`` picks a free port at start."""

    identity: str
    realm: str
    port: int = 0
    tw_timer: int = MIN_TW_TIMER
    tc_timer: int = 3
    connect_peers: Sequence[ConnectPeer] = ()
    accept_peers: Sequence[str] = ()  # acl_wl.fdx whitelist (ALLOW_IPSEC = no TLS); "*.realm" ok
    routes: Sequence[RouteRule] = ()  # rt_default.fdx rules
    extensions: Sequence[Extension] = ()  # extra LoadExtension entries
    dictionaries: Sequence[str] = ("dict_nasreq.fdx", "dict_dcca.fdx", "dict_dcca_3gpp.fdx")
    dump_messages: bool = True  # dbg_msg_dumps.fdx, needed by messages()/assert_*_exchanged
    dump_mask: int = DEFAULT_DUMP_MASK
    no_relay: bool = False
    listen_on: str = "127.0.0.1"  # written, but see module docstring: 1.2.1 drops loopback
    debug: bool = False  # pass -d (very verbose)
    extra_lines: Sequence[str] = ()

    def validate(self) -> None:
        """Raise ``ValueError`` for values freeDiameter would reject."""
        if self.tw_timer < MIN_TW_TIMER:
            raise ValueError(f"TwTimer must be >= {MIN_TW_TIMER} s (RFC 3539), got {self.tw_timer}")
        for peer in self.connect_peers:
            if peer.tw_timer is not None and peer.tw_timer < MIN_TW_TIMER:
                raise ValueError(f"TwTimer of {peer.identity} must be >= {MIN_TW_TIMER} s")
        if self.tc_timer <= 0:
            raise ValueError("TcTimer must be > 0")


def render_config(config: FreeDiameterConfig, workdir: Path, port: int) -> str:
    """Write auxiliary files into ``workdir`` and return the main config text."""
    config.validate()
    lines = [
        f'Identity = "{config.identity}";',
        f'Realm = "{config.realm}";',
        f"Port = {port};",
        "SecPort = 0;  # no TLS port and no TLS_Cred: TLS disabled",
        "No_SCTP;",
        "No_IPv6;",
        "Prefer_TCP;",
        f'ListenOn = "{config.listen_on}";',
        f"TwTimer = {config.tw_timer};",
        f"TcTimer = {config.tc_timer};",
    ]
    if config.no_relay:
        lines.append("NoRelay;")
    extensions: list[Extension] = [Extension(name) for name in config.dictionaries]
    if config.dump_messages:
        extensions.append(Extension("dbg_msg_dumps.fdx", f"0x{config.dump_mask:04x}"))
    if config.accept_peers:
        acl = workdir / "acl_wl.conf"
        acl.write_text("ALLOW_IPSEC " + " ".join(config.accept_peers) + "\n")
        extensions.append(Extension("acl_wl.fdx", str(acl)))
    if config.routes:
        rt = workdir / "rt_default.conf"
        rt.write_text("".join(rule.render() + "\n" for rule in config.routes))
        extensions.append(Extension("rt_default.fdx", str(rt)))
    extensions.extend(config.extensions)
    for ext in extensions:
        path = Path(ext.name) if os.path.isabs(ext.name) else find_extension(ext.name)
        arg = f' : "{ext.argument}"' if ext.argument is not None else ""
        lines.append(f'LoadExtension = "{path}"{arg};')
    lines.extend(peer.render() for peer in config.connect_peers)
    lines.extend(config.extra_lines)
    return "\n".join(lines) + "\n"


# --- log parsing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StateChange:
    """A peer state machine transition from the daemon log."""

    old: str
    new: str
    peer: str


@dataclass(frozen=True)
class LoggedMessage:
    """A message the daemon logged as sent (``SND``) or received (``RCV``) via dbg_msg_dumps."""

    direction: str  # "SND" or "RCV"
    peer: str  # Diameter-Id of the remote peer ("<unknown peer>" for a CER before CEA)
    name: str
    application_id: int
    command_code: int
    flags: str  # e.g. "R---", "-P--"
    length: int
    hop_by_hop: int
    end_to_end: int
    origin_host: str | None
    line: str

    @property
    def is_request(self) -> bool:
        """True for requests (R flag)."""
        return self.flags.startswith("R")

    def avp_values(self, avp_name: str) -> list[str]:
        """Values of top-level-or-nested AVPs named ``avp_name`` as dumped (strings unquoted)."""
        regex = re.compile(
            r"\{ "
            + re.escape(avp_name)
            + r"\(\d+\)\[[^\]]*\]=(?:\"(?P<s>[^\"]*)\"|(?P<o>[^{}]*?)) \}"
        )
        return [m["s"] if m["s"] is not None else m["o"] for m in regex.finditer(self.line)]

    @property
    def remote(self) -> str:
        """Remote peer identity, falling back to Origin-Host for a CER from a not-yet-known peer."""
        if self.peer == UNKNOWN_PEER and self.direction == "RCV" and self.origin_host:
            return self.origin_host
        return self.peer


def parse_state_changes(text: str) -> list[StateChange]:
    """Extract all peer state transitions from a daemon log."""
    return [StateChange(m["old"], m["new"], m["peer"]) for m in STATE_RE.finditer(text)]


def parse_messages(text: str) -> list[LoggedMessage]:
    """Extract all dbg_msg_dumps FULL-mode ``SND to``/``RCV from`` lines from a daemon log."""
    result: list[LoggedMessage] = []
    for line in text.splitlines():
        m = MSG_RE.search(line)
        if m is None:
            continue
        oh = ORIGIN_HOST_RE.search(m["avps"])
        result.append(
            LoggedMessage(
                direction="SND" if m["dir"] == "SND to" else "RCV",
                peer=m["peer"],
                name=m["name"],
                application_id=int(m["app"] or 0),
                command_code=int(m["code"]),
                flags=m["flags"],
                length=int(m["length"]),
                hop_by_hop=int(m["hbh"], 16),
                end_to_end=int(m["e2e"], 16),
                origin_host=oh["host"] if oh else None,
                line=line,
            )
        )
    return result


def _poll(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Call ``check`` until it returns True or ``timeout`` elapses; return the last result."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


# --- the daemon ----------------------------------------------------------------------------------
class FreeDiameterDaemon:
    """One ``freeDiameterd`` process with its own work dir, config and log file.

    Log queries look at the current run only (a restart appends to the same file). Pass
    ``since=daemon.log_mark()`` to only consider what is logged after that point.
    """

    def __init__(self, config: FreeDiameterConfig, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "freeDiameter.conf"
        self.log_path = workdir / "freeDiameterd.log"
        self.port = config.port
        self._proc: subprocess.Popen[bytes] | None = None
        self._run_offset = 0

    def __repr__(self) -> str:
        return f"<FreeDiameterDaemon {self.config.identity} port={self.port} log={self.log_path}>"

    @property
    def identity(self) -> str:
        """Diameter Identity of this daemon."""
        return self.config.identity

    @property
    def realm(self) -> str:
        """Diameter Realm of this daemon."""
        return self.config.realm

    @property
    def pid(self) -> int | None:
        """Process id while started."""
        return self._proc.pid if self._proc else None

    def is_running(self) -> bool:
        """True while the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 15.0) -> FreeDiameterDaemon:
        """Write the config, start the daemon, wait for its "initialized" log line.

        A restart after ``stop()`` keeps the port; with ``config.port == 0`` a free port is
        picked (and re-picked up to 3 times if the bind fails).
        """
        if self.is_running():
            raise AssertionError(f"{self} is already running")
        binary = require_binary(FREEDIAMETERD, INSTALL_HINT)
        fixed_port = self.port or self.config.port
        attempts = 1 if fixed_port else 3
        for attempt in range(1, attempts + 1):
            self.port = fixed_port or free_tcp_port()
            self.config_path.write_text(render_config(self.config, self.workdir, self.port))
            args = [binary, "-c", str(self.config_path)] + (["-d"] if self.config.debug else [])
            logger.info("starting %s (attempt %d): %s", self, attempt, " ".join(args))
            self._run_offset = self.log_mark()
            with self.log_path.open("ab") as log:
                self._proc = subprocess.Popen(
                    args,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=self.workdir,
                    start_new_session=True,
                )
            _poll(lambda: LOG_INITIALIZED in self.log_text() or not self.is_running(), timeout)
            if self.is_running() and LOG_INITIALIZED in self.log_text():
                return self
            bind_clash = "Address already in use" in self.log_text()
            self.stop()
            if not (bind_clash and attempt < attempts):
                break
        raise AssertionError(
            f"freeDiameterd {self.identity} did not start (no {LOG_INITIALIZED!r} in {timeout}s)\n"
            f"config:\n{self.config_path.read_text()}\nlog tail:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL; return the exit code (None: never run).

        freeDiameter sends DPR to its open peers and waits for DPA, so a peer that is already gone
        can delay the exit; the kill after ``timeout`` bounds that.
        """
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning("%s ignored SIGTERM for %.1fs, killing it", self, timeout)
                proc.kill()
                proc.wait(timeout)
        logger.info("%s exited with %s", self, proc.returncode)
        return proc.returncode

    def __enter__(self) -> FreeDiameterDaemon:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- log access ---
    def log_mark(self) -> int:
        """Current end of the log (byte offset), for ``since=`` arguments."""
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_text(self, since: int = 0) -> str:
        """Log of the current run (from ``since`` if that is later)."""
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(max(since, self._run_offset))
                return fh.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        """Last ``lines`` lines of the current run's log, for failure messages."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    def log_lines(self, substring: str, since: int = 0) -> list[str]:
        """Log lines containing ``substring`` (e.g. "FORWARDING:", "ROUTING ERROR")."""
        return [line for line in self.log_text(since).splitlines() if substring in line]

    def error_lines(self, since: int = 0) -> list[str]:
        """Message-level error lines: parsing/routing errors, dropped and failed-over messages."""
        markers = ("PARSING ERROR", "ROUTING ERROR", "DROPPED ", "FAILOVER from")
        text = self.log_text(since)
        return [line for line in text.splitlines() if any(k in line for k in markers)]

    def state_changes(self, since: int = 0) -> list[StateChange]:
        """Peer state transitions logged in this run."""
        return parse_state_changes(self.log_text(since))

    def peer_state(self, identity: str) -> str | None:
        """Latest logged state of peer ``identity`` in this run (None if never logged)."""
        states = [c.new for c in self.state_changes() if c.peer.lower() == identity.lower()]
        return states[-1] if states else None

    def messages(self, since: int = 0) -> list[LoggedMessage]:
        """Messages logged by dbg_msg_dumps in this run (needs ``dump_messages=True``)."""
        return parse_messages(self.log_text(since))

    def _require_dumps(self) -> None:
        if not self.config.dump_messages:
            raise AssertionError("message assertions need FreeDiameterConfig(dump_messages=True)")

    def find_messages(
        self,
        command_code: int,
        *,
        peer: str | None = None,
        direction: str | None = None,
        is_request: bool | None = None,
        since: int = 0,
    ) -> list[LoggedMessage]:
        """Logged messages matching the filters (``peer`` matches ``LoggedMessage.remote``)."""
        return [
            m
            for m in self.messages(since)
            if m.command_code == command_code
            and (peer is None or m.remote.lower() == peer.lower())
            and (direction is None or m.direction == direction)
            and (is_request is None or m.is_request == is_request)
        ]

    def _exit_state(self) -> str:
        return "running" if self.is_running() else f"exited rc={self._proc and self._proc.poll()}"

    def wait_for_log(
        self, pattern: str | re.Pattern[str], timeout: float = 10.0, since: int = 0
    ) -> re.Match[str]:
        """Poll the log until ``pattern`` (regex) matches; fail with the log tail on timeout."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        found: list[re.Match[str]] = []

        def check() -> bool:
            m = regex.search(self.log_text(since))
            if m:
                found.append(m)
            return bool(m) or not self.is_running()

        _poll(check, timeout)
        if not found:
            raise AssertionError(
                f"{self.identity}: {regex.pattern!r} not in log within {timeout}s "
                f"({self._exit_state()})\nlog tail:\n{self.log_tail()}"
            )
        return found[0]

    def wait_peer_open(self, identity: str, timeout: float = 15.0, since: int = 0) -> None:
        """Wait until the log shows ``'<old state>' -> 'STATE_OPEN' '<identity>'``."""
        pattern = re.compile(r"-> 'STATE_OPEN'\t'" + re.escape(identity) + "'", re.IGNORECASE)
        self.wait_for_log(pattern, timeout, since)

    def wait_peer_closed(self, identity: str, timeout: float = 15.0, since: int = 0) -> None:
        """Wait until peer ``identity`` leaves STATE_OPEN (any transition out of it)."""
        pattern = re.compile(r"'STATE_OPEN'\t-> [^\t]*\t'" + re.escape(identity) + "'", re.I)
        self.wait_for_log(pattern, timeout, since)

    def wait_for_message(
        self,
        command_code: int,
        *,
        peer: str | None = None,
        direction: str | None = None,
        is_request: bool | None = None,
        timeout: float = 10.0,
        since: int = 0,
    ) -> LoggedMessage:
        """Poll until a matching message is logged; return the first one."""
        self._require_dumps()
        found: list[LoggedMessage] = []

        def check() -> bool:
            found[:] = self.find_messages(
                command_code, peer=peer, direction=direction, is_request=is_request, since=since
            )
            return bool(found) or not self.is_running()

        _poll(check, timeout)
        if not found:
            raise AssertionError(
                f"{self.identity}: no message code={command_code} peer={peer} dir={direction} "
                f"request={is_request} within {timeout}s ({self._exit_state()})\n"
                f"log tail:\n{self.log_tail()}"
            )
        return found[0]

    def assert_capabilities_exchanged(
        self, identity: str, timeout: float = 10.0, since: int = 0
    ) -> None:
        """Assert a CER and a CEA with ``identity`` were logged (either direction)."""
        for is_request in (True, False):
            self.wait_for_message(
                CMD_CER, peer=identity, is_request=is_request, timeout=timeout, since=since
            )

    def assert_watchdog_exchanged(
        self, identity: str, timeout: float | None = None, since: int = 0
    ) -> None:
        """Assert a DWR and a DWA with ``identity`` were logged; default wait is Tw + jitter."""
        wait = timeout if timeout is not None else self.config.tw_timer + 6.0
        for is_request in (True, False):
            self.wait_for_message(
                CMD_DWR, peer=identity, is_request=is_request, timeout=wait, since=since
            )


def in_thread(func: Callable[..., T], *args: object, **kwargs: object) -> Deferred[T]:
    """Run a blocking helper (``wait_peer_open``, ``wait_for``...) off the reactor thread.

    In ``pytest_twisted`` tests the reactor must keep running while we wait for an external peer
    to talk to code under test: ``yield in_thread(fd.wait_peer_open, "interceptor.test")``.
    """
    from twisted.internet import threads

    return threads.deferToThread(func, *args, **kwargs)


FreeDiameterFactory = Callable[[FreeDiameterConfig], FreeDiameterDaemon]


@pytest.fixture
def freediameter_factory(tmp_path: Path) -> Iterator[FreeDiameterFactory]:
    """Start ``freeDiameterd`` instances from configs; all are stopped at teardown.

    Fails (never skips) when the binary is missing.
    """
    require_binary(FREEDIAMETERD, INSTALL_HINT)
    daemons: list[FreeDiameterDaemon] = []

    def start(config: FreeDiameterConfig) -> FreeDiameterDaemon:
        daemon = FreeDiameterDaemon(config, tmp_path / f"fd-{len(daemons)}-{config.identity}")
        daemons.append(daemon)
        return daemon.start()

    try:
        yield start
    finally:
        for daemon in reversed(daemons):
            with contextlib.suppress(Exception):
                daemon.stop()
            logger.info("freeDiameterd %s log: %s", daemon.identity, daemon.log_path)


# --- base protocol answers (shared by the threaded stub and Twisted test agents) -----------------
_BASE_ANSWERS: dict[int, type[Message]] = {
    CMD_CER: CapabilitiesExchangeAnswer,
    CMD_DWR: DeviceWatchdogAnswer,
    CMD_DPR: DisconnectPeerAnswer,
}


def base_protocol_answer(
    request: Message,
    identity: str,
    realm: str,
    *,
    auth_application_ids: Sequence[int] = (4,),
    origin_state_id: int | None = None,
    product_name: str = "beepcall-test-stub",
) -> Message | None:
    """CEA/DWA/DPA (Result-Code 2001) for a CER/DWR/DPR request; None for anything else."""
    cls = _BASE_ANSWERS.get(request.header.command_code)
    if cls is None or not request.header.is_request:
        return None
    answer = cls()
    answer.header.hop_by_hop_identifier = request.header.hop_by_hop_identifier
    answer.header.end_to_end_identifier = request.header.end_to_end_identifier
    answer.result_code = RESULT_SUCCESS
    answer.origin_host = identity.encode()
    answer.origin_realm = realm.encode()
    if cls is not DisconnectPeerAnswer:
        answer.origin_state_id = origin_state_id or (int(time.time()) & 0xFFFFFFFF)
    if cls is CapabilitiesExchangeAnswer:
        answer.host_ip_address = ["127.0.0.1"]
        answer.vendor_id = 0
        answer.product_name = product_name
        answer.auth_application_id = list(auth_application_ids)
    return answer


# --- DCCA (Ro/Gy) helpers for stubs ------------------------------------------------------------
DCCA_APPLICATION_ID = 4
CMD_CCR = 272


def credit_control_request(
    session_id: str,
    origin_host: str,
    origin_realm: str,
    destination_realm: str,
    *,
    request_type: int = 1,
    request_number: int = 0,
    service_context_id: str = "32260@3gpp.org",
) -> Message:
    """The traffic kit's voice CCR, as a message for the stub (ids 0: it fills them)."""
    call = CallAttempt(session_id, origin_host, origin_realm, destination_realm,
                       service_context=service_context_id, request_type=request_type,
                       request_number=request_number)
    return Message.from_bytes(ccr(call, hop_by_hop=0, end_to_end=0))


def answer_ccr(
    peer: DiameterStubPeer, request: Message, result_code: int = RESULT_SUCCESS
) -> Message:
    """The traffic kit's CCA to ``request`` from ``peer`` (usable as
    ``handlers={CMD_CCR: answer_ccr}``)."""
    return Message.from_bytes(cca(request.as_bytes(), peer.identity, peer.realm, result_code))


# --- a tiny threaded Python Diameter peer --------------------------------------------------------
RequestHandler = Callable[["DiameterStubPeer", Message], Message | None]
HEADER_LEN = 20


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    """Read exactly ``size`` bytes; None on clean EOF before any byte."""
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            if chunks:
                raise ConnectionError(f"EOF after {size - remaining} of {size} bytes")
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


@dataclass
class _Connection:
    sock: socket.socket
    peer_address: tuple[str, int]
    send_lock: threading.Lock = field(default_factory=threading.Lock)
    remote_identity: str | None = None
    open: bool = True


class DiameterStubPeer:
    """Minimal Diameter node on plain sockets + threads (for freeDiameter to talk to).

    Answers CER (CEA 2001 advertising ``auth_application_ids``), DWR and DPR by itself; other
    requests go to ``handlers[command_code](peer, request)`` whose returned message is sent.
    Every received message is recorded; use ``wait_for`` to wait for one.
    """

    def __init__(
        self,
        identity: str,
        realm: str,
        *,
        auth_application_ids: Sequence[int] = (4,),
        handlers: Mapping[int, RequestHandler] | None = None,
        answer_watchdog: bool = True,
    ) -> None:
        self.identity = identity
        self.realm = realm
        self.auth_application_ids = tuple(auth_application_ids)
        self.handlers: dict[int, RequestHandler] = dict(handlers or {})
        self.answer_watchdog = answer_watchdog
        self.port = 0
        self.origin_state_id = int(time.time()) & 0xFFFFFFFF
        self.errors: list[str] = []
        self._received: list[Message] = []
        self._cond = threading.Condition()
        self._connections: list[_Connection] = []
        self._pending: dict[int, Future[Message]] = {}
        self._ids = itertools.count(random.randrange(1, 1 << 24))
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()

    def __repr__(self) -> str:
        return f"<DiameterStubPeer {self.identity} port={self.port}>"

    # --- lifecycle ---
    def listen(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Accept connections on ``host:port`` (0 = free port); returns the port."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(8)
        listener.settimeout(0.2)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        self._spawn(self._accept_loop, "accept")
        logger.info("%s listening", self)
        return self.port

    def connect(self, host: str, port: int, timeout: float = 10.0) -> Message:
        """Connect to ``host:port``, send a CER and wait for the CEA (returned)."""
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.settimeout(None)
        conn = _Connection(sock, (host, port))
        with self._cond:
            self._connections.append(conn)
        self._spawn(functools.partial(self._read_loop, conn), f"read-{host}:{port}")
        cer = CapabilitiesExchangeRequest()
        cer.origin_host = self.identity.encode()
        cer.origin_realm = self.realm.encode()
        cer.host_ip_address = ["127.0.0.1"]
        cer.vendor_id = 0
        cer.product_name = "beepcall-test-stub"
        cer.origin_state_id = self.origin_state_id
        cer.auth_application_id = list(self.auth_application_ids)
        cer.inband_security_id = [0]
        cea = self.request(cer, timeout=timeout, connection=conn)
        result = getattr(cea, "result_code", None)
        if result != RESULT_SUCCESS:
            raise AssertionError(f"{self}: CEA from {host}:{port} has Result-Code {result}")
        conn.remote_identity = _text(getattr(cea, "origin_host", None))
        return cea

    def close(self) -> None:
        """Close the listener and all connections, join the threads."""
        self._closed.set()
        if self._listener is not None:
            self._listener.close()
        with self._cond:
            connections = list(self._connections)
        for conn in connections:
            self._close_connection(conn)
        for thread in self._threads:
            thread.join(timeout=2.0)

    def __enter__(self) -> DiameterStubPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- sending ---
    def next_ids(self) -> tuple[int, int]:
        """Fresh (hop-by-hop, end-to-end) identifiers."""
        value = next(self._ids) & 0xFFFFFFFF
        return value, value

    def connection(self) -> _Connection:
        """The most recent open connection (fails if none)."""
        with self._cond:
            open_conns = [c for c in self._connections if c.open]
        if not open_conns:
            raise AssertionError(f"{self}: no open connection")
        return open_conns[-1]

    def wait_connected(self, timeout: float = 10.0) -> None:
        """Wait until some peer is connected and has completed CER/CEA with us."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: any(c.open and c.remote_identity for c in self._connections), timeout
            )
        if not ok:
            raise AssertionError(f"{self}: no peer completed CER/CEA within {timeout}s")

    def send_raw(self, data: bytes, connection: _Connection | None = None) -> None:
        """Send raw bytes on a connection (default: the most recent one)."""
        conn = connection or self.connection()
        with conn.send_lock:
            conn.sock.sendall(data)

    def send(self, message: Message, connection: _Connection | None = None) -> None:
        """Encode and send a message."""
        logger.debug("%s SND %s", self, message)
        self.send_raw(message.as_bytes(), connection)

    def request(
        self, message: Message, timeout: float = 10.0, connection: _Connection | None = None
    ) -> Message:
        """Send a request (hop-by-hop/end-to-end filled if 0) and wait for its answer."""
        if not message.header.hop_by_hop_identifier:
            hbh, e2e = self.next_ids()
            message.header.hop_by_hop_identifier = hbh
            message.header.end_to_end_identifier = e2e
        future: Future[Message] = Future()
        with self._cond:
            self._pending[message.header.hop_by_hop_identifier] = future
        self.send(message, connection)
        try:
            return future.result(timeout)
        except FutureTimeoutError:
            raise AssertionError(f"{self}: no answer to {message} within {timeout}s") from None

    # --- received messages ---
    def received(self) -> list[Message]:
        """Copy of all messages received so far."""
        with self._cond:
            return list(self._received)

    def mark(self) -> int:
        """Number of messages received so far, for ``wait_for(..., since=mark)``."""
        with self._cond:
            return len(self._received)

    def wait_for(
        self,
        command_code: int,
        *,
        is_request: bool | None = None,
        timeout: float = 10.0,
        since: int = 0,
    ) -> Message:
        """Wait for a message with ``command_code`` (and R flag) received after index ``since``."""

        def first() -> Message | None:
            for msg in self._received[since:]:
                if msg.header.command_code == command_code and (
                    is_request is None or msg.header.is_request == is_request
                ):
                    return msg
            return None

        with self._cond:
            ok = self._cond.wait_for(lambda: first() is not None, timeout)
            msg = first()
        if not ok or msg is None:
            codes = [(m.header.command_code, m.header.is_request) for m in self.received()]
            raise AssertionError(
                f"{self}: no message code={command_code} request={is_request} within {timeout}s; "
                f"got {codes}; errors={self.errors}"
            )
        return msg

    # --- internals ---
    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=f"stub-{self.identity}-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._closed.is_set():
            try:
                sock, address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            conn = _Connection(sock, address)
            with self._cond:
                self._connections.append(conn)
                self._cond.notify_all()
            logger.info("%s accepted %s", self, address)
            self._spawn(functools.partial(self._read_loop, conn), f"read-{address[1]}")

    def _close_connection(self, conn: _Connection) -> None:
        conn.open = False
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_RDWR)
        conn.sock.close()
        with self._cond:
            self._cond.notify_all()

    def _read_loop(self, conn: _Connection) -> None:
        try:
            while not self._closed.is_set():
                header = _recv_exact(conn.sock, 4)
                if header is None:
                    break
                length = struct.unpack("!I", b"\x00" + header[1:4])[0]
                if header[0] != 1 or length < HEADER_LEN:
                    raise ValueError(f"bad Diameter header {header.hex()} (version/length)")
                body = _recv_exact(conn.sock, length - 4)
                if body is None:
                    raise ConnectionError("EOF inside a message")
                message = Message.from_bytes(header + body)
                self._on_message(conn, message)
        except Exception as exc:  # recorded, the test asserts on errors
            if not self._closed.is_set() and conn.open:
                logger.warning("%s: connection %s error: %r", self, conn.peer_address, exc)
                with self._cond:
                    self.errors.append(f"{conn.peer_address}: {exc!r}")
        finally:
            self._close_connection(conn)

    def _on_message(self, conn: _Connection, message: Message) -> None:
        logger.debug("%s RCV %s", self, message)
        header = message.header
        with self._cond:
            self._received.append(message)
            future = (
                None if header.is_request else self._pending.pop(header.hop_by_hop_identifier, None)
            )
            self._cond.notify_all()
        if future is not None:
            future.set_result(message)
            return
        if not header.is_request:
            return
        answer: Message | None
        if header.command_code == CMD_CER:
            self.send(self._base_protocol_answer(message), conn)
            with self._cond:
                conn.remote_identity = _text(getattr(message, "origin_host", None))
                self._cond.notify_all()
            return
        if header.command_code == CMD_DWR:
            answer = self._base_protocol_answer(message) if self.answer_watchdog else None
        elif header.command_code == CMD_DPR:
            self.send(self._base_protocol_answer(message), conn)
            self._close_connection(conn)
            return
        elif header.command_code in self.handlers:
            answer = self.handlers[header.command_code](self, message)
        else:
            logger.warning("%s: no handler for request code %d", self, header.command_code)
            answer = None
        if answer is not None:
            self.send(answer, conn)

    def _base_protocol_answer(self, request: Message) -> Message:
        answer = base_protocol_answer(
            request,
            self.identity,
            self.realm,
            auth_application_ids=self.auth_application_ids,
            origin_state_id=self.origin_state_id,
        )
        assert answer is not None
        return answer

    def answer_base(self, request: Message, result_code: int = RESULT_SUCCESS) -> Message:
        """``request.to_answer()`` + our Origin-Host/Realm, Result-Code, Session-Id copied."""
        answer = request.to_answer()
        session_id = getattr(request, "session_id", None)
        if session_id is not None:
            answer.session_id = session_id
        answer.origin_host = self.identity.encode()
        answer.origin_realm = self.realm.encode()
        answer.result_code = result_code
        return answer


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else None


StubFactory = Callable[..., DiameterStubPeer]


@pytest.fixture
def diameter_stub_factory() -> Iterator[StubFactory]:
    """Create ``DiameterStubPeer`` objects (constructor arguments); closed at teardown."""
    peers: list[DiameterStubPeer] = []

    def make(identity: str, realm: str, **kwargs: object) -> DiameterStubPeer:
        peer = DiameterStubPeer(identity, realm, **kwargs)  # type: ignore[arg-type]
        peers.append(peer)
        return peer

    try:
        yield make
    finally:
        for peer in peers:
            peer.close()
