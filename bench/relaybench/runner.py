"""One configuration end to end: stub, relay, then the generator's phases on one connection."""

from __future__ import annotations

import json
import logging
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relaybench.native import Binaries
from relaybench.procs import ChildProcesses, StartError, descendants, pinned, tail
from relaybench.relays import Endpoint, Relay
from relaybench.templates import Templates

log = logging.getLogger(__name__)

STUB_START_SECONDS = 5.0
GENERATOR_EXIT_MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class Phase:
    key: str
    rate: float | None  # None: saturation with ``window`` requests in flight
    warmup: float
    seconds: float
    window: int = 0

    def generator_args(self) -> list[str]:
        if self.rate is None:
            return ["--sat", f"{self.warmup},{self.seconds},{self.window}"]
        return ["--rate", f"{self.rate:.0f},{self.warmup},{self.seconds}"]


@dataclass(frozen=True)
class Plan:
    phases: tuple[Phase, ...]
    relay_cpus: str | None = "0"
    loadgen_cpus: str | None = "1"
    ready_timeout: float = 15.0
    drain_timeout: float = 5.0
    max_outstanding: int = 20_000
    out_of_credit_ratio: float = 0.0

    def generator_seconds(self) -> float:
        phases = sum(p.warmup + p.seconds + self.drain_timeout for p in self.phases)
        return self.ready_timeout + phases + 2.0


@dataclass
class ConfigResult:
    name: str
    version: str
    error: str | None = None
    relay_command: str = ""
    ready_seconds: float | None = None
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def start_stub(children: ChildProcesses, binaries: Binaries, templates: Templates,
               plan: Plan) -> tuple[int, int]:
    command = [str(binaries.stub), "--templates", str(templates.directory),
               "--out-of-credit-ratio", str(plan.out_of_credit_ratio)]
    stub = children.start("stub", pinned(command, plan.loadgen_cpus), capture_stdout=True)
    line = stub.read_line(time.monotonic() + STUB_START_SECONDS)
    if not line.startswith("PORT "):
        raise StartError(f"stub said {line!r} instead of its port")
    return stub.pid, int(line.split()[1])


def generator_command(binaries: Binaries, templates: Templates, plan: Plan,
                      endpoint: Endpoint, cpu_pids: dict[str, int]) -> list[str]:
    command = [str(binaries.generator), "--host", endpoint.host, "--port", str(endpoint.port),
               "--templates", str(templates.directory),
               "--sid-offset", str(templates.session_counter_offset),
               "--sid-width", str(templates.session_counter_width),
               "--ready-timeout", str(plan.ready_timeout),
               "--drain-timeout", str(plan.drain_timeout),
               "--max-outstanding", str(plan.max_outstanding)]
    for label, pid in cpu_pids.items():
        command += ["--cpu", f"{label}={pid}"]
    for phase in plan.phases:
        command += phase.generator_args()
    return pinned(command, plan.loadgen_cpus)


def _relay_pids(endpoint: Endpoint) -> dict[str, int]:
    if endpoint.relay is None:
        return {}
    pids = {"relay": endpoint.relay.pid}
    for index, pid in enumerate(descendants(endpoint.relay.pid), start=1):
        pids[f"relay_child{index}"] = pid
    return pids


def _relay_failure(endpoint: Endpoint) -> str:
    relay = endpoint.relay
    if relay is None:
        return ""
    status = relay.exited()
    state = "is still running" if status is None else f"exited with status {status}"
    log_tail = tail(relay.log_path, 12)
    return f"; {relay.name} {state}" + (f"; its log ends:\n{log_tail}" if log_tail else "")


def _read_events(stdout: bytes) -> list[dict[str, Any]]:
    events = []
    for line in stdout.decode(errors="replace").splitlines():
        if line.strip():
            events.append(json.loads(line))
    return events


def run_configuration(relay: Relay, binaries: Binaries, templates: Templates, plan: Plan,
                      workdir: Path) -> ConfigResult:
    result = ConfigResult(name=relay.name, version=relay.version())
    config_dir = workdir / relay.name
    config_dir.mkdir()
    with ChildProcesses(config_dir) as children:
        try:
            stub_pid, stub_port = start_stub(children, binaries, templates, plan)
            endpoint = relay.start(children, config_dir, stub_port, plan.relay_cpus)
        except StartError as error:
            result.error = str(error)
            return result
        if endpoint.relay is not None:
            result.relay_command = " ".join(map(str, endpoint.relay.process.args))
        cpu_pids = {**_relay_pids(endpoint), "stub": stub_pid}
        command = generator_command(binaries, templates, plan, endpoint, cpu_pids)
        log.info("%s: generator on %s:%s, %d phases", relay.name, endpoint.host,
                 endpoint.port, len(plan.phases))
        generator = children.start("generator", command, capture_stdout=True)
        try:
            stdout, _ = generator.process.communicate(timeout=plan.generator_seconds()
                                                      + GENERATOR_EXIT_MARGIN_SECONDS)
        except subprocess.TimeoutExpired:
            result.error = "generator did not finish in time" + _relay_failure(endpoint)
            return result
        for event in _read_events(stdout):
            if event["event"] == "ready":
                result.ready_seconds = event["seconds"]
            elif event["event"] == "phase":
                phase = plan.phases[len(result.phases)]
                result.phases[phase.key] = event
            elif event["event"] == "error":
                result.error = event["reason"]
        if result.error is None and len(result.phases) < len(plan.phases):
            result.error = (f"generator exited with status {generator.process.returncode} "
                            f"after {len(result.phases)} of {len(plan.phases)} phases; log:\n"
                            f"{tail(generator.log_path)}")
        if result.error is not None:
            result.error += _relay_failure(endpoint)
        elif endpoint.relay is not None and endpoint.relay.exited() is not None:
            result.error = "relay exited during the run" + _relay_failure(endpoint)
    return result
