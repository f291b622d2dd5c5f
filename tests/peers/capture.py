"""Integration fixture: capture loopback traffic with dumpcap/tshark and decode it with tshark.

``PacketCapture`` captures TCP/UDP ports on ``lo`` into a pcapng file and decodes it afterwards
with ``tshark -T pdml`` using decode-as (``-d tcp.port==P,diameter``, ``-d udp.port==P,sip``) so
non-standard ports are dissected. It returns the decoded Diameter/SIP PDUs (one entry per PDU,
also when several share a TCP segment) and every malformed packet / error-level expert item.

Start and stop are synchronised with a marker: a UDP datagram with a unique payload sent to an
extra captured port. ``start`` returns only after dumpcap reported "Capturing on" *and* the start
marker is in the file; ``stop`` sends an end marker, waits until dumpcap flushed it to the file
(so everything sent before it is in the file too), then SIGINTs dumpcap and waits for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

logger = logging.getLogger(__name__)

INSTALL_HINT = "apt-get install -y tshark"
CAPTURING_ON = "Capturing on"  # dumpcap/tshark stderr once the interface is open
MARKER_PREFIX = b"BEEPCALL-CAPTURE-MARKER-"
# epan expert severities (_ws.expert.severity)
SEVERITIES = {
    "comment": 0x00100000,
    "chat": 0x00200000,
    "note": 0x00400000,
    "warn": 0x00600000,
    "error": 0x00800000,
}
SEVERITY_NAMES = {value: name for name, value in SEVERITIES.items()}
_DIAMETER_FLAG_BITS = (("R", 0x80), ("P", 0x40), ("E", 0x20), ("T", 0x10))


def require_tool(name: str) -> str:
    """Absolute path of a Wireshark tool, or fail the test loudly (never skip)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"required binary {name!r} not found in PATH; install it: {INSTALL_HINT}")
    return path


def free_udp_port() -> int:
    """A UDP port currently free on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PduBase:
    """Common data of a decoded PDU."""

    frame: int
    time: float
    src: str
    src_port: int
    dst: str
    dst_port: int
    fields: dict[str, list[str]]  # tshark field name -> shown values, in order

    def values(self, name: str) -> list[str]:
        """All values of a field (full tshark name, e.g. ``diameter.Session-Id``)."""
        return self.fields.get(name, [])

    def first(self, name: str) -> str | None:
        """First value of a field or None."""
        values = self.fields.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class DiameterPdu(PduBase):
    """One decoded Diameter message."""

    command_code: int = 0
    application_id: int = 0
    flags: int = 0
    hop_by_hop: int = 0
    end_to_end: int = 0
    length: int = 0

    @property
    def is_request(self) -> bool:
        """R bit."""
        return bool(self.flags & 0x80)

    @property
    def is_proxyable(self) -> bool:
        """P bit."""
        return bool(self.flags & 0x40)

    @property
    def is_error(self) -> bool:
        """E bit."""
        return bool(self.flags & 0x20)

    @property
    def flag_string(self) -> str:
        """Flags as ``RPET`` letters with ``-`` for unset bits (freeDiameter style)."""
        return "".join(letter if self.flags & bit else "-" for letter, bit in _DIAMETER_FLAG_BITS)

    def avp(self, name: str) -> list[str]:
        """Values of AVP ``name`` anywhere in the message (``avp("Route-Record")``)."""
        return self.values(f"diameter.{name}")

    @property
    def session_id(self) -> str | None:
        """Session-Id value."""
        values = self.avp("Session-Id")
        return values[0] if values else None

    @property
    def route_records(self) -> list[str]:
        """Route-Record values in order."""
        return self.avp("Route-Record")

    @property
    def result_code(self) -> int | None:
        """Result-Code (top level or nested) if present."""
        values = self.avp("Result-Code")
        return int(values[0]) if values else None

    def __str__(self) -> str:
        kind = "REQ" if self.is_request else "ANS"
        return (
            f"#{self.frame} {self.src}:{self.src_port}->{self.dst}:{self.dst_port} "
            f"diameter {kind} code={self.command_code} app={self.application_id} "
            f"flags={self.flag_string} hbh=0x{self.hop_by_hop:08x} e2e=0x{self.end_to_end:08x}"
        )


@dataclass(frozen=True)
class SipPdu(PduBase):
    """One decoded SIP message."""

    method: str | None = None  # requests
    status_code: int | None = None  # responses
    call_id: str | None = None
    cseq: str | None = None

    @property
    def is_request(self) -> bool:
        """True for requests."""
        return self.method is not None


@dataclass(frozen=True)
class CaptureProblem:
    """A malformed packet or an expert item at/above the requested severity."""

    frame: int
    protocol: str
    severity: str  # "error", "warn", ...
    group: str
    message: str
    malformed: bool

    def __str__(self) -> str:
        kind = "MALFORMED" if self.malformed else self.severity.upper()
        return f"#{self.frame} {self.protocol} {kind}/{self.group}: {self.message}"


@dataclass
class Decoded:
    """Everything decoded from one capture file."""

    diameter: list[DiameterPdu] = field(default_factory=list)
    sip: list[SipPdu] = field(default_factory=list)
    problems: list[CaptureProblem] = field(default_factory=list)


# --- PDML parsing --------------------------------------------------------------------------------
_EXPERT_GROUPS = {
    0x01000000: "Checksum",
    0x02000000: "Sequence",
    0x03000000: "Response",
    0x04000000: "Request",
    0x05000000: "Undecoded",
    0x06000000: "Reassemble",
    0x07000000: "Malformed",
    0x08000000: "Debug",
    0x09000000: "Protocol",
    0x0A000000: "Security",
    0x0B000000: "Comment",
    0x0C000000: "Decryption",
    0x0D000000: "Assumption",
    0x0E000000: "Deprecated",
}


def _int(text: str | None, default: int = 0) -> int:
    if not text:
        return default
    try:
        return int(text, 0)
    except ValueError:
        return default


def _collect_fields(element: ET.Element, prefix: str) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for child in element.iter("field"):
        name = child.get("name", "")
        if name.startswith(prefix) and "show" in child.attrib:
            fields.setdefault(name, []).append(child.get("show", ""))
    return fields


def _packet_fields(packet: ET.Element) -> dict[str, str]:
    """frame/ip/transport fields of a packet (first occurrence)."""
    wanted = {
        "frame.number",
        "frame.time_epoch",
        "ip.src",
        "ip.dst",
        "ipv6.src",
        "ipv6.dst",
        "tcp.srcport",
        "tcp.dstport",
        "udp.srcport",
        "udp.dstport",
    }
    found: dict[str, str] = {}
    for proto in packet.findall("proto"):
        if proto.get("name") not in {"frame", "ip", "ipv6", "tcp", "udp"}:
            continue
        for fld in proto.iter("field"):
            name = fld.get("name", "")
            if name in wanted and name not in found:
                found[name] = fld.get("show", "")
    return found


def _problems(packet: ET.Element, frame: int, min_severity: int) -> list[CaptureProblem]:
    result: list[CaptureProblem] = []
    malformed_reported = False
    malformed_present = False
    for proto in packet.iter("proto"):
        if proto.get("name") == "_ws.malformed":
            malformed_present = True
    parents = {child: parent for parent in packet.iter() for child in parent}
    for expert in packet.iter("field"):
        if expert.get("name") != "_ws.expert":
            continue
        sub = {f.get("name", ""): f.get("show", "") for f in expert.iter("field")}
        severity = _int(sub.get("_ws.expert.severity"))
        if severity < min_severity:
            continue
        group = _EXPERT_GROUPS.get(_int(sub.get("_ws.expert.group")), "?")
        node: ET.Element | None = expert
        while node is not None and node.tag != "proto":
            node = parents.get(node)
        protocol = node.get("name", "?") if node is not None else "?"
        malformed = group == "Malformed"
        malformed_reported = malformed_reported or malformed
        result.append(
            CaptureProblem(
                frame=frame,
                protocol=protocol,
                severity=SEVERITY_NAMES.get(severity, hex(severity)),
                group=group,
                message=sub.get("_ws.expert.message", expert.get("showname", "")),
                malformed=malformed,
            )
        )
    if malformed_present and not malformed_reported:
        result.append(
            CaptureProblem(frame, "_ws.malformed", "error", "Malformed", "Malformed Packet", True)
        )
    return result


def parse_pdml(pdml: str, min_severity: str = "error") -> Decoded:
    """Turn ``tshark -T pdml`` output into PDUs and problems."""
    decoded = Decoded()
    threshold = SEVERITIES[min_severity]
    root = ET.fromstring(pdml)
    for packet in root.iter("packet"):
        info = _packet_fields(packet)
        frame = _int(info.get("frame.number"))
        stamp = float(info.get("frame.time_epoch") or 0.0)
        src = info.get("ip.src") or info.get("ipv6.src") or ""
        dst = info.get("ip.dst") or info.get("ipv6.dst") or ""
        src_port = _int(info.get("tcp.srcport") or info.get("udp.srcport"))
        dst_port = _int(info.get("tcp.dstport") or info.get("udp.dstport"))
        for proto in packet.findall("proto"):
            name = proto.get("name")
            if name == "diameter":
                fields = _collect_fields(proto, "diameter.")
                decoded.diameter.append(
                    DiameterPdu(
                        fields=fields,
                        command_code=_int(_first(fields, "diameter.cmd.code")),
                        application_id=_int(_first(fields, "diameter.applicationId")),
                        flags=_int(_first(fields, "diameter.flags")),
                        hop_by_hop=_int(_first(fields, "diameter.hopbyhopid")),
                        end_to_end=_int(_first(fields, "diameter.endtoendid")),
                        length=_int(_first(fields, "diameter.length")),
                        frame=frame,
                        time=stamp,
                        src=src,
                        src_port=src_port,
                        dst=dst,
                        dst_port=dst_port,
                    )
                )
            elif name == "sip":
                fields = _collect_fields(proto, "sip.")
                status = _first(fields, "sip.Status-Code")
                decoded.sip.append(
                    SipPdu(
                        fields=fields,
                        method=_first(fields, "sip.Method") if status is None else None,
                        status_code=_int(status) if status is not None else None,
                        call_id=_first(fields, "sip.Call-ID"),
                        cseq=_first(fields, "sip.CSeq"),
                        frame=frame,
                        time=stamp,
                        src=src,
                        src_port=src_port,
                        dst=dst,
                        dst_port=dst_port,
                    )
                )
        decoded.problems.extend(_problems(packet, frame, threshold))
    return decoded


def _first(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


# --- the capture ---------------------------------------------------------------------------------
class PacketCapture:
    """A loopback capture of selected ports, decoded with tshark decode-as after ``stop``."""

    def __init__(
        self,
        workdir: Path,
        *,
        diameter_ports: Sequence[int] = (),
        sip_udp_ports: Sequence[int] = (),
        sip_tcp_ports: Sequence[int] = (),
        other_tcp_ports: Sequence[int] = (),
        other_udp_ports: Sequence[int] = (),
        interface: str = "lo",
        name: str = "capture",
    ) -> None:
        if not (
            diameter_ports or sip_udp_ports or sip_tcp_ports or other_tcp_ports or other_udp_ports
        ):
            raise ValueError("PacketCapture needs at least one port to capture")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.diameter_ports = tuple(diameter_ports)
        self.sip_udp_ports = tuple(sip_udp_ports)
        self.sip_tcp_ports = tuple(sip_tcp_ports)
        self.tcp_ports = tuple(dict.fromkeys((*diameter_ports, *sip_tcp_ports, *other_tcp_ports)))
        self.udp_ports = tuple(dict.fromkeys((*sip_udp_ports, *other_udp_ports)))
        self.interface = interface
        self.pcap_path = workdir / f"{name}.pcapng"
        self.stderr_path = workdir / f"{name}.dumpcap.log"
        self.marker_port = free_udp_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr_lock = threading.Lock()
        self._stderr_chunks: list[str] = []
        self._reader: threading.Thread | None = None
        self._stopped = False
        self._decoded: dict[str, Decoded] = {}

    def __repr__(self) -> str:
        ports = f"tcp={self.tcp_ports} udp={self.udp_ports}"
        return f"<PacketCapture {self.interface} {ports} {self.pcap_path}>"

    @property
    def capture_filter(self) -> str:
        """The libpcap capture filter (ports + marker port)."""
        parts = [f"tcp port {p}" for p in self.tcp_ports] + [
            f"udp port {p}" for p in self.udp_ports
        ]
        parts.append(f"udp port {self.marker_port}")
        return " or ".join(parts)

    def decode_as_args(self) -> list[str]:
        """tshark ``-d`` arguments for the configured ports."""
        args: list[str] = []
        for port in self.diameter_ports:
            args += ["-d", f"tcp.port=={port},diameter"]
        for port in self.sip_udp_ports:
            args += ["-d", f"udp.port=={port},sip"]
        for port in self.sip_tcp_ports:
            args += ["-d", f"tcp.port=={port},sip"]
        return args

    # --- lifecycle ---
    def start(self, timeout: float = 15.0) -> PacketCapture:
        """Start capturing; returns once packets on the ports are provably being recorded."""
        require_tool("tshark")
        capturer = shutil.which("dumpcap") or require_tool("tshark")
        args = [
            capturer,
            "-i",
            self.interface,
            "-f",
            self.capture_filter,
            "-w",
            str(self.pcap_path),
        ]
        logger.info("starting capture: %s", " ".join(args))
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._reader = threading.Thread(
            target=self._read_stderr, name="capture-stderr", daemon=True
        )
        self._reader.start()
        deadline = time.monotonic() + timeout
        if not self._wait(lambda: CAPTURING_ON in self.stderr_text(), deadline):
            self._abort(f"no {CAPTURING_ON!r} from {Path(capturer).name} within {timeout}s")
        if not self._sync_marker(deadline):
            self._abort(f"start marker not recorded within {timeout}s")
        logger.info("capture running: %s", self)
        return self

    def stop(self, timeout: float = 15.0) -> Path:
        """Flush (end marker), SIGINT the capturer and wait; returns the pcapng path."""
        proc = self._proc
        if proc is None:
            raise AssertionError("capture was never started")
        if self._stopped:
            return self.pcap_path
        self._stopped = True
        deadline = time.monotonic() + timeout
        flushed = proc.poll() is None and self._sync_marker(deadline)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("capturer ignored SIGINT, killing it")
                proc.kill()
                proc.wait(5.0)
        if self._reader is not None:
            self._reader.join(5.0)
        self.stderr_path.write_text(self.stderr_text())
        if not flushed:
            raise AssertionError(
                f"capture did not flush its end marker (rc={proc.returncode}); "
                f"packets may be missing\n{self.stderr_text()}"
            )
        logger.info("capture stopped: %s", self.pcap_path)
        return self.pcap_path

    def __enter__(self) -> PacketCapture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop without raising (teardown)."""
        if self._proc is not None and not self._stopped:
            try:
                self.stop()
            except AssertionError as exc:
                logger.warning("capture stop: %s", exc)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5.0)

    # --- decoding ---
    def decode(self, min_severity: str = "error") -> Decoded:
        """Decode the stopped capture (cached per severity)."""
        if min_severity not in SEVERITIES:
            raise ValueError(f"min_severity must be one of {list(SEVERITIES)}")
        if not self._stopped:
            raise AssertionError("stop() the capture before decoding it")
        if min_severity not in self._decoded:
            pdml = self._tshark("-T", "pdml")
            self._decoded[min_severity] = parse_pdml(pdml, min_severity)
        return self._decoded[min_severity]

    def diameter_messages(self) -> list[DiameterPdu]:
        """Decoded Diameter messages in capture order."""
        return self.decode().diameter

    def sip_messages(self) -> list[SipPdu]:
        """Decoded SIP messages in capture order."""
        return self.decode().sip

    def problems(self, min_severity: str = "error") -> list[CaptureProblem]:
        """Malformed packets and expert items with severity >= ``min_severity``."""
        return self.decode(min_severity).problems

    def summary(self) -> str:
        """tshark's one-line-per-packet view (for failure messages)."""
        return self._tshark()

    def assert_clean(self) -> None:
        """Fail if any packet is malformed or carries an error-level expert item."""
        problems = self.problems()
        if problems:
            listing = "\n".join(str(p) for p in problems)
            raise AssertionError(
                f"capture {self.pcap_path} has problems:\n{listing}\n\n{self.summary()}"
            )

    # --- internals ---
    def _tshark(self, *extra: str) -> str:
        tshark = require_tool("tshark")
        args = [
            tshark,
            "-n",
            "-r",
            str(self.pcap_path),
            *self.decode_as_args(),
            "-Y",
            f"not udp.port == {self.marker_port}",
            *extra,
        ]
        proc = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise AssertionError(
                f"tshark failed rc={proc.returncode}: {' '.join(args)}\n{proc.stderr}"
            )
        return proc.stdout

    def stderr_text(self) -> str:
        """What the capturer printed on stderr so far."""
        with self._stderr_lock:
            return "".join(self._stderr_chunks)

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        fd = self._proc.stderr.fileno()
        while raw := os.read(fd, 4096):
            with self._stderr_lock:
                self._stderr_chunks.append(raw.decode(errors="replace"))

    def _wait(self, check: Callable[[], bool], deadline: float) -> bool:
        while True:
            if check():
                return True
            if time.monotonic() >= deadline or (
                self._proc is not None and self._proc.poll() is not None
            ):
                return check()
            time.sleep(0.05)

    def _sync_marker(self, deadline: float) -> bool:
        """Send a unique UDP marker and wait until it appears in the capture file."""
        marker = MARKER_PREFIX + secrets.token_hex(8).encode()
        try:
            offset = max(0, self.pcap_path.stat().st_size - 64)
        except FileNotFoundError:
            offset = 0

        def recorded() -> bool:
            try:
                with self.pcap_path.open("rb") as fh:
                    fh.seek(offset)
                    return marker in fh.read()
            except FileNotFoundError:
                return False

        # Resent until seen: dumpcap says "Capturing on" a moment before its filter is
        # attached, and a datagram sent in that moment is never captured.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while True:
                sock.sendto(marker, ("127.0.0.1", self.marker_port))
                if self._wait(recorded, min(deadline, time.monotonic() + 0.5)):
                    return True
                if time.monotonic() >= deadline or (
                        self._proc is not None and self._proc.poll() is not None):
                    return False

    def _abort(self, reason: str) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5.0)
        self._stopped = True
        raise AssertionError(
            f"packet capture failed to start: {reason}\nstderr:\n{self.stderr_text()}"
        )


CaptureFactory = Callable[..., PacketCapture]


@pytest.fixture
def packet_capture_factory(tmp_path: Path) -> Iterator[CaptureFactory]:
    """Start ``PacketCapture`` objects (same keyword arguments); all are stopped at teardown.

    Fails (never skips) when tshark is missing.
    """
    require_tool("tshark")
    captures: list[PacketCapture] = []

    def start(**kwargs: object) -> PacketCapture:
        name = str(kwargs.pop("name", f"capture-{len(captures)}"))
        capture = PacketCapture(tmp_path, name=name, **kwargs)  # type: ignore[arg-type]
        captures.append(capture)
        return capture.start()

    try:
        yield start
    finally:
        for capture in captures:
            with contextlib.suppress(Exception):
                capture.close()
            logger.info("capture file: %s", capture.pcap_path)
