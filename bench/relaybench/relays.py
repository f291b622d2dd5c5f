"""The configurations under test: no relay, the interceptor, freeDiameter as a relay.

Each one starts (pinned to the relay core) between the generator and the OCS stub and
says where the generator connects and which process to measure.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from relaybench.procs import Child, ChildProcesses, StartError, free_port, pinned
from relaybench.templates import CLIENT, DESTINATION_REALM, OCS

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCALHOST = "127.0.0.1"
FREEDIAMETER_BINARY = "freeDiameterd"
FREEDIAMETER_EXTENSION_DIRS = (
    Path("/usr/lib/x86_64-linux-gnu/freeDiameter"),
    Path("/usr/lib/freeDiameter"),
)
FREEDIAMETER_EXTENSIONS = ("dict_nasreq", "dict_dcca", "dict_dcca_3gpp")  # dependency order


@dataclass(frozen=True)
class Endpoint:
    """Where the generator connects, and the relay process (None: nothing in between)."""

    host: str
    port: int
    relay: Child | None


class Relay(Protocol):
    name: str

    def version(self) -> str: ...

    def start(self, children: ChildProcesses, workdir: Path, stub_port: int,
              cpus: str | None) -> Endpoint: ...


class Direct:
    """Baseline: the generator talks to the stub; proves the generator is not the limit."""

    name = "direct"

    def version(self) -> str:
        return "no relay: generator -> OCS stub"

    def start(self, children: ChildProcesses, workdir: Path, stub_port: int,
              cpus: str | None) -> Endpoint:
        return Endpoint(LOCALHOST, stub_port, None)


def _beepcall_command() -> tuple[list[str], dict[str, str] | None]:
    """The ``beepcall`` console script of this interpreter (not a pyenv shim: one pid),
    else the CLI from the source tree; with the environment it needs (None: inherit)."""
    beside_python = Path(sys.executable).parent / "beepcall"
    if beside_python.exists():
        return [str(beside_python)], None
    found = shutil.which("beepcall")
    if found:
        return [found], None
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    return [sys.executable, "-c", "from cli.main import main; main()"], env


def interceptor_config(listen_port: int, stub_port: int) -> dict[str, Any]:
    return {
        "agent": {"origin_host": "interceptor.bench.test", "origin_realm": "bench.test",
                  "host_ip_addresses": [LOCALHOST]},
        "listen": {"address": LOCALHOST, "port": listen_port},
        "peers": {
            "clients": [{"origin_host": CLIENT.origin_host, "addresses": [LOCALHOST]}],
            "ocs": [{"origin_host": OCS.origin_host, "realm": DESTINATION_REALM,
                     "address": LOCALHOST, "port": stub_port}],
        },
        "routing": {"realms": [{"realm": DESTINATION_REALM, "primary": [OCS.origin_host]}],
                    "default": [OCS.origin_host]},
        "detection": {"enabled": False},  # a plain relay; --interceptor-extra can turn it on
    }


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` laid over it, mappings merged key by key."""
    result = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


@dataclass(frozen=True)
class Interceptor:
    """Our relay: ``beepcall run --config <generated yaml>``, detection off unless
    ``extra`` (a YAML mapping laid over the generated config) turns it on."""

    log_level: str = "warning"
    extra: dict[str, Any] = field(default_factory=dict)
    name: str = "interceptor"

    def version(self) -> str:
        try:
            ours = importlib.metadata.version("beepcall-interceptor")
        except importlib.metadata.PackageNotFoundError:
            ours = "not installed (run from source)"
        twisted = importlib.metadata.version("twisted")
        return f"beepcall-interceptor {ours}, Twisted {twisted}, Python {sys.version.split()[0]}"

    def start(self, children: ChildProcesses, workdir: Path, stub_port: int,
              cpus: str | None) -> Endpoint:
        port = free_port()
        config_path = workdir / "interceptor.yaml"
        config = merged(interceptor_config(port, stub_port), self.extra)
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        beepcall, env = _beepcall_command()
        command = [*beepcall, "run", "--config", str(config_path), "--log-level", self.log_level]
        # cwd: relative paths of the config (SQLite file, spool) stay in the work directory
        child = children.start(self.name, pinned(command, cpus), cwd=workdir, env=env)
        return Endpoint(LOCALHOST, port, child)


RECORDING = {
    "detection": {"enabled": True},
    "numbering": {"country_code": 84, "on_net_prefixes": ["8491", "8494"]},
}


class InterceptorRecording:
    """The interceptor with detection and recording on: every out-of-credit answer
    becomes a row in a (migrated) SQLite file. ``recorded()`` counts them afterwards."""

    name = "interceptor+recording"

    def __init__(self, log_level: str) -> None:
        self.log_level = log_level
        self.database: Path | None = None

    def version(self) -> str:
        return Interceptor().version() + ", detection on, attempts in SQLite"

    def start(self, children: ChildProcesses, workdir: Path, stub_port: int,
              cpus: str | None) -> Endpoint:
        workdir.mkdir(parents=True, exist_ok=True)
        self.database = workdir / "attempts.db"
        url = f"sqlite:///{self.database}"
        beepcall, env = _beepcall_command()
        result = subprocess.run([*beepcall, "db", "upgrade", "--database-url", url],
                                capture_output=True, text=True, check=False, env=env)
        if result.returncode != 0:
            raise StartError(f"beepcall db upgrade failed: {result.stderr.strip()}")
        self.prepare(self.database)
        relay = Interceptor(log_level=self.log_level, extra=self.extra(url, workdir),
                            name=self.name)
        return relay.start(children, workdir, stub_port, cpus)

    def extra(self, url: str, workdir: Path) -> dict[str, Any]:
        return merged(RECORDING, {"database": {"url": url,
                                               "spool_dir": str(workdir / "spool")}})

    def prepare(self, database: Path) -> None:
        """Anything the database should hold before the interceptor starts."""

    def recorded(self) -> int | None:
        if self.database is None or not self.database.exists():
            return None
        with sqlite3.connect(self.database) as connection:
            return int(connection.execute("SELECT count(*) FROM attempts").fetchone()[0])


class InterceptorWatching(InterceptorRecording):
    """Recording, plus callback attribution watching 10,000 subscribers and 100 linked
    sessions (none of them the generator's): every answer then takes the tap's
    callback check, as on a live network where beeps are always recent."""

    name = "interceptor+recording+watching"
    WATCHED = 10_000
    SESSIONS = 100

    def version(self) -> str:
        return (Interceptor().version() + f", detection on, attempts in SQLite, "
                f"{self.WATCHED} subscribers and {self.SESSIONS} sessions watched")

    def prepare(self, database: Path) -> None:
        far = "2999-01-01 00:00:00.000000"
        rows = [(f"bench-{n}", kind, f"{n:09d}", far, far)
                for n in range(self.WATCHED // 2) for kind in ("callee", "caller")]
        rows += [(f"bench-session-{n}", "session", f"bench-session;{n}", far, far)
                 for n in range(self.SESSIONS)]
        with sqlite3.connect(database) as connection:
            connection.executemany(
                "INSERT INTO callback_watches (attempt_id, kind, watch_key, notified_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?)", rows)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


SIPP_SCENARIO = REPO_ROOT / "tests" / "sip" / "scenarios" / "ring_cancel.xml"


class InterceptorBeeps(InterceptorRecording):
    """Recording plus beeps: every out-of-credit voice attempt is beeped at a SIPp UAS
    (B's network, ring then CANCEL) on the load-generator core, while the relay relays.
    ``ring_times()`` reads what the interceptor measured per beep (180 -> CANCEL)."""

    name = "interceptor+beeps"

    def __init__(self, log_level: str, loadgen_cpus: str | None = "1") -> None:
        super().__init__(log_level)
        self.loadgen_cpus = loadgen_cpus

    def version(self) -> str:
        return Interceptor().version() + ", detection on, beeps to a SIPp UAS"

    def start(self, children: ChildProcesses, workdir: Path, stub_port: int,
              cpus: str | None) -> Endpoint:
        workdir.mkdir(parents=True, exist_ok=True)
        sipp = shutil.which("sipp")
        if sipp is None:
            raise StartError("sipp not found: apt-get install -y sip-tester")
        sip_port = free_udp_port()
        command = [sipp, "-sf", str(SIPP_SCENARIO), "-i", LOCALHOST, "-p", str(sip_port),
                   "-bind_local", "-m", "100000000", "-d", "0", "-nostdin",
                   "-buff_size", str(4 << 20)]
        children.start("sipp", pinned(command, self.loadgen_cpus), cwd=workdir)
        route = {"host": LOCALHOST, "port": sip_port, "domain": "ims.bench.test"}
        self.sip = {"sip": {"routes": {klass: route for klass in
                                       ("on_net", "off_net", "international")},
                            "limits": {"max_per_second": 2000, "max_concurrent": 4000,
                                       "burst": 200}},
                    # The load generator's few callers redial constantly: measure the
                    # beeps, not the policy's refusals.
                    "policy": {"thresholds": {
                        "beep": {"international": True}, "quiet_hours.window": "off",
                        "caller": {"max_per_hour": "off", "max_per_day": "off"},
                        "callee.max_per_day": "off", "pair.min_interval": "off"}}}
        return super().start(children, workdir, stub_port, cpus)

    def extra(self, url: str, workdir: Path) -> dict[str, Any]:
        return merged(super().extra(url, workdir), self.sip)

    def beep_figures(self) -> str:
        if self.database is None or not self.database.exists():
            return "no database"
        with sqlite3.connect(self.database) as connection:
            outcomes = dict(connection.execute(
                "SELECT coalesce(beep_outcome, status), count(*) FROM attempts "
                "GROUP BY 1").fetchall())
            rings = sorted(value for (value,) in connection.execute(
                "SELECT ring_time_ms FROM attempts WHERE beep_outcome = 'rang'"))
        text = ", ".join(f"{name} {count}" for name, count in sorted(outcomes.items()))
        if rings:
            def at(fraction: float) -> int:
                return int(rings[min(len(rings) - 1, int(fraction * len(rings)))])
            text += (f"; ring time (180 -> CANCEL) p1/p50/p99 {at(0.01)}/{at(0.5)}/"
                     f"{at(0.99)} ms over {len(rings)} beeps")
        return text


def _extension_dir() -> Path:
    for directory in FREEDIAMETER_EXTENSION_DIRS:
        if (directory / "rt_default.fdx").exists():
            return directory
    raise StartError("freeDiameter extensions (rt_default.fdx) not found in "
                     + ", ".join(str(d) for d in FREEDIAMETER_EXTENSION_DIRS))


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """freeDiameter insists on TLS_Cred even with TLS unused: make a throw-away one."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = ["openssl", "req", "-new", "-batch", "-x509", "-days", "2", "-nodes",
               "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
               "-subj", "/CN=relay.bench.test", "-out", str(cert), "-keyout", str(key)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StartError(f"openssl failed: {result.stderr.strip()}")
    return cert, key


def freediameter_config(directory: Path, listen_port: int, stub_port: int) -> Path:
    extensions = _extension_dir()
    cert, key = _self_signed_certificate(directory)
    routes = directory / "rt_default.conf"
    routes.write_text(f'dr="{DESTINATION_REALM}" : rlm="{DESTINATION_REALM}" += 100 ;\n')
    whitelist = directory / "acl_wl.conf"
    whitelist.write_text(f"ALLOW_IPSEC {CLIENT.origin_host}\n")  # plain TCP client peer
    lines = [
        'Identity = "relay.bench.test";',
        'Realm = "bench.test";',
        f"Port = {listen_port};",
        "SecPort = 0;",
        "No_SCTP;",
        "No_IPv6;",
        f'ListenOn = "{LOCALHOST}";',
        f'TLS_Cred = "{cert}", "{key}";',
        f'TLS_CA = "{cert}";',
        *(f'LoadExtension = "{extensions / name}.fdx";' for name in FREEDIAMETER_EXTENSIONS),
        f'LoadExtension = "{extensions / "rt_default.fdx"}" : "{routes}";',
        f'LoadExtension = "{extensions / "acl_wl.fdx"}" : "{whitelist}";',
        f'ConnectPeer = "{OCS.origin_host}" {{ ConnectTo = "{LOCALHOST}"; '
        f"Port = {stub_port}; No_TLS; }};",
    ]
    path = directory / "freeDiameter.conf"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(frozen=True)
class FreeDiameter:
    """freeDiameterd relaying by realm (rt_default) to the stub, DCCA dictionaries loaded."""

    name: str = "freeDiameter"

    def version(self) -> str:
        binary = shutil.which(FREEDIAMETER_BINARY)
        if binary is None:
            return f"{FREEDIAMETER_BINARY} not found"
        result = subprocess.run([binary, "--version"], capture_output=True, text=True,
                                check=False)
        text = (result.stdout or result.stderr).strip()
        return text.splitlines()[0] if text else "unknown version"

    def start(self, children: ChildProcesses, workdir: Path, stub_port: int,
              cpus: str | None) -> Endpoint:
        binary = shutil.which(FREEDIAMETER_BINARY)
        if binary is None:
            raise StartError(f"{FREEDIAMETER_BINARY} not found on PATH "
                             "(Debian package freediameterd)")
        directory = workdir / "freediameter"
        directory.mkdir()
        port = free_port()
        config = freediameter_config(directory, port, stub_port)
        child = children.start(self.name, pinned([binary, "-c", str(config)], cpus))
        return Endpoint(LOCALHOST, port, child)


def haproxy_config(listen_port: int, stub_port: int) -> str:
    return "\n".join([
        "global",
        "    nbthread 1",
        "    maxconn 1000",
        "defaults",
        "    mode tcp",
        "    timeout connect 5s",
        "    timeout client 1h",
        "    timeout server 1h",
        "frontend diameter",
        f"    bind {LOCALHOST}:{listen_port}",
        "    default_backend ocs",
        "backend ocs",
        f"    server stub {LOCALHOST}:{stub_port}",
        "",
    ])


@dataclass(frozen=True)
class HAProxy:
    """Optional yardstick, not a Diameter agent: HAProxy forwarding TCP bytes to the stub.

    The generator and the stub do CER/CEA with each other through it. It shows what the
    load side sustains through a cheap relay that keeps the stream's batching."""

    name: str = "haproxy"

    def version(self) -> str:
        binary = shutil.which("haproxy")
        if binary is None:
            return "haproxy not found"
        result = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
        return result.stdout.splitlines()[0] if result.stdout else "unknown version"

    def start(self, children: ChildProcesses, workdir: Path, stub_port: int,
              cpus: str | None) -> Endpoint:
        binary = shutil.which("haproxy")
        if binary is None:
            raise StartError("haproxy not found on PATH (Debian package haproxy)")
        port = free_port()
        config = workdir / "haproxy.cfg"
        config.write_text(haproxy_config(port, stub_port))
        child = children.start(self.name, pinned([binary, "-db", "-f", str(config)], cpus))
        return Endpoint(LOCALHOST, port, child)


def load_extra(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        extra = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise StartError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(extra, dict):
        raise StartError(f"{path}: must be a YAML mapping")
    return extra


def all_relays(interceptor_log_level: str, interceptor_extra: dict[str, Any]
               ) -> dict[str, Relay]:
    relays: list[Relay] = [Direct(),
                           Interceptor(log_level=interceptor_log_level,
                                       extra=interceptor_extra),
                           InterceptorRecording(interceptor_log_level),
                           InterceptorWatching(interceptor_log_level),
                           InterceptorBeeps(interceptor_log_level),
                           FreeDiameter(), HAProxy()]
    return {relay.name: relay for relay in relays}
