#!/usr/bin/env python3
"""Beep emitter benchmark: beeps per second against a SIPp UAS, with the ring time SIPp saw.

    python bench/beep_bench.py                 # 50, 200/s, then a ramp to the maximum
    python bench/beep_bench.py --quick         # short phases (smoke test)
    python bench/beep_bench.py --rates 50,200 --ramp 1000,2000 --duration 10 --json out.json

Each phase starts a fresh SIPp UAS (tests/sip/scenarios/ring_cancel.xml: 100, 180, wait for
the CANCEL, 200, 487, ACK) pinned to ``--sipp-cpu`` and a fresh BeepEmitter in this process,
pinned to ``--emitter-cpu``; beeps are submitted at the offered rate for ``--duration``
seconds. SIPp measures, per call, the time from sending 180 to receiving the CANCEL (RTD
"ring", ``-trace_rtt``): that is the ring time B experiences. A phase is *sustained* when
every beep rang, SIPp completed every call, the emitter kept up with the offered rate and
SIPp's ring time p1..p99 is inside 300..500 ms. The ramp stops at the first failed phase;
the maximum sustained rate is the last one that passed.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twisted.internet import defer, task  # noqa: E402
from twisted.internet import reactor as _reactor  # noqa: E402

from interceptor.core.section import Section  # noqa: E402
from interceptor.sip.config import parse_sip  # noqa: E402
from interceptor.sip.emitter import BeepEmitter  # noqa: E402
from interceptor.sip.outcome import BeepOutcome, BeepRequest  # noqa: E402

reactor: Any = _reactor  # zope interfaces are opaque to mypy
SCENARIO = ROOT / "tests" / "sip" / "scenarios" / "ring_cancel.xml"
RING_RANGE_MS = (300.0, 500.0)
RING_TIME_MS = 400


@dataclass
class PhaseResult:
    rate: float
    duration: float
    submitted: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    achieved_rate: float = 0.0  # beeps submitted per second over the phase
    sipp_exit: int | None = None
    sipp_calls: int = 0  # RTD samples SIPp wrote
    sipp_ring_ms: dict[str, float] = field(default_factory=dict)  # p1, p50, p99, max
    emitter_ring_ms: dict[str, float] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    cpu_per_beep_us: float = 0.0
    max_loop_lag_ms: float = 0.0
    sustained: bool = False
    why_not: str = ""


def percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    return {"p1": at(0.01), "p50": at(0.50), "p99": at(0.99), "max": ordered[-1]}


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sipp:
    """The UAS of one phase."""

    def __init__(self, workdir: Path, calls: int, cpu: str | None) -> None:
        self.workdir = workdir
        self.port = free_udp_port()
        sipp = shutil.which("sipp")
        if sipp is None:
            sys.exit("sipp not found: apt-get install -y sip-tester")
        args = [sipp, "-sf", str(SCENARIO), "-i", "127.0.0.1", "-p", str(self.port),
                "-bind_local", "-m", str(calls), "-d", "0", "-nostdin", "-timeout", "600s",
                "-trace_rtt", "-rtt_freq", "100", "-buff_size", str(4 * 1024 * 1024)]
        if cpu is not None:
            args = ["taskset", "-c", cpu, *args]
        self.output = (workdir / f"sipp-{self.port}.out").open("wb")
        self.proc = subprocess.Popen(args, cwd=workdir, stdin=subprocess.DEVNULL,
                                     stdout=self.output, stderr=subprocess.STDOUT)
        self._wait_listening()

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"sipp exited early ({self.proc.returncode}); see {self.output.name}")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind(("127.0.0.1", self.port))
                except OSError:
                    return
            time.sleep(0.02)
        sys.exit("sipp did not start listening")

    def ring_times(self) -> list[float]:
        values: list[float] = []
        for path in self.workdir.glob(f"{SCENARIO.stem}_{self.proc.pid}_rtt.csv"):
            with path.open() as handle:
                for row in csv.reader(handle, delimiter=";"):
                    if len(row) >= 3 and row[2] == "ring":
                        values.append(float(row[1]))
        return values

    @defer.inlineCallbacks
    def finish(self, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            yield task.deferLater(reactor, 0.05, lambda: None)
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.output.close()
        return self.proc.returncode


class LagProbe:
    """How late the reactor runs a 5 ms timer: a stalled loop delays every beep."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._last = time.monotonic()
        self._loop = task.LoopingCall(self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        self.worst = max(self.worst, now - self._last - 0.005)
        self._last = now

    def start(self) -> None:
        self._last = time.monotonic()
        self._loop.start(0.005, now=False)

    def stop(self) -> None:
        self._loop.stop()


def cpu_time() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@defer.inlineCallbacks
def run_phase(rate: float, duration: float, workdir: Path, sipp_cpu: str | None) -> Any:
    result = PhaseResult(rate=rate, duration=duration)
    calls = max(1, round(rate * duration))
    sipp = Sipp(workdir, calls, sipp_cpu)
    config = parse_sip(Section({
        "local_address": "127.0.0.1",
        "ring_time_ms": RING_TIME_MS,
        "routes": {"on_net": {"host": "127.0.0.1", "port": sipp.port, "domain": "ims.bench"}},
        "limits": {"max_concurrent": 1_000_000, "max_per_second": max(rate * 2, 100.0),
                   "burst": max(int(rate / 10), 10), "queue_size": 1_000_000},
    }, ("sip",)))
    emitter = BeepEmitter(config, reactor, seed=int(rate))
    yield emitter.startService()
    ring_times: list[float] = []
    done: defer.Deferred[None] = defer.Deferred()

    def record(outcome: BeepOutcome) -> None:
        result.outcomes[outcome.kind.value] = result.outcomes.get(outcome.kind.value, 0) + 1
        if outcome.ring_time is not None:
            ring_times.append(outcome.ring_time * 1000)
        if sum(result.outcomes.values()) == calls and not done.called:
            done.callback(None)

    probe = LagProbe()
    probe.start()
    cpu_start = cpu_time()
    start = time.monotonic()

    def submit_due() -> None:
        due = min(calls, int((time.monotonic() - start) * rate) + 1)
        while result.submitted < due:
            result.submitted += 1
            emitter.submit(BeepRequest(
                f"bench-{result.submitted}", "+84901234567",
                f"+849{result.submitted % 100_000_000:08d}", "on_net",
                reactor.seconds())).addCallback(record)
        if result.submitted >= calls:
            pacer.stop()

    pacer = task.LoopingCall(submit_due)
    yield pacer.start(0.002)
    result.achieved_rate = result.submitted / max(time.monotonic() - start, 1e-9)
    def give_up() -> None:  # some outcomes never came: judge() reports it
        if not done.called:
            done.callback(None)

    timeout = reactor.callLater(30, give_up)
    yield done
    if timeout.active():
        timeout.cancel()
    probe.stop()
    result.cpu_seconds = cpu_time() - cpu_start
    result.cpu_per_beep_us = result.cpu_seconds / max(result.submitted, 1) * 1e6
    result.max_loop_lag_ms = probe.worst * 1000
    yield emitter.stopService()
    result.sipp_exit = yield sipp.finish(timeout=15)
    sipp_ring = sipp.ring_times()
    result.sipp_calls = len(sipp_ring)
    result.sipp_ring_ms = percentiles(sipp_ring)
    result.emitter_ring_ms = percentiles(ring_times)
    judge(result, calls)
    return result


def judge(result: PhaseResult, calls: int) -> None:
    problems = []
    rang = result.outcomes.get("rang", 0)
    if rang != calls:
        problems.append(f"{calls - rang} of {calls} did not ring: {result.outcomes}")
    if result.sipp_exit != 0:
        problems.append(f"sipp exit status {result.sipp_exit}")
    if result.achieved_rate < 0.98 * result.rate:
        problems.append(f"offered only {result.achieved_rate:.0f}/s")
    ring = result.sipp_ring_ms
    if not ring:
        problems.append("no SIPp ring times")
    elif ring["p1"] < RING_RANGE_MS[0] or ring["p99"] > RING_RANGE_MS[1]:
        problems.append(f"SIPp ring time p1..p99 {ring['p1']:.0f}..{ring['p99']:.0f} ms")
    result.sustained = not problems
    result.why_not = "; ".join(problems)


def table(results: Sequence[PhaseResult], best: PhaseResult | None) -> str:
    head = ("rate/s", "beeps", "rang", "SIPp ring p1", "p50", "p99", "max", "emitter p99",
            "CPU µs/beep", "loop lag", "sustained")
    rows = []
    for r in results:
        ring = r.sipp_ring_ms
        mark = "yes" if r.sustained else "NO (see below)"
        if r is best:
            mark += "  <- max sustained"
        rows.append((f"{r.rate:.0f}", str(r.submitted), str(r.outcomes.get("rang", 0)),
                     f"{ring.get('p1', 0):.0f} ms", f"{ring.get('p50', 0):.0f} ms",
                     f"{ring.get('p99', 0):.0f} ms", f"{ring.get('max', 0):.0f} ms",
                     f"{r.emitter_ring_ms.get('p99', 0):.1f} ms", f"{r.cpu_per_beep_us:.0f}",
                     f"{r.max_loop_lag_ms:.0f} ms", mark))
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in rows]
    lines += [f"{r.rate:.0f}/s not sustained: {r.why_not}" for r in results if not r.sustained]
    return "\n".join(lines)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s phases, short ramp")
    parser.add_argument("--duration", type=float, help="seconds per phase (default 10)")
    parser.add_argument("--rates", default="50,200", help="fixed rates (default %(default)s)")
    parser.add_argument("--ramp", default="500,1000,1500,2000,2500,3000,4000,5000",
                        help="increasing rates tried until one fails (default %(default)s)")
    parser.add_argument("--emitter-cpu", default="0", help="CPU for this process")
    parser.add_argument("--sipp-cpu", default="1", help="taskset -c list for SIPp")
    parser.add_argument("--no-pin", action="store_true", help="do not pin anything")
    parser.add_argument("--no-gc-freeze", action="store_true",
                        help="do not gc.freeze() the start-up heap")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep-workdir", action="store_true")
    args = parser.parse_args(argv)
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.rate_list = [float(x) for x in args.rates.split(",") if x.strip()]
    args.ramp_list = [float(x) for x in args.ramp.split(",") if x.strip()]
    if args.quick and args.ramp == parser.get_default("ramp"):
        args.ramp_list = [500.0, 1000.0]
    return args


@defer.inlineCallbacks
def main(args: argparse.Namespace, workdir: Path) -> Any:
    results: list[PhaseResult] = []
    sipp_cpu = None if args.no_pin else args.sipp_cpu
    for rate in args.rate_list:
        results.append((yield run_phase(rate, args.duration, workdir, sipp_cpu)))
        print(f"  {rate:.0f}/s done", file=sys.stderr)
    best: PhaseResult | None = None
    for rate in args.ramp_list:
        result = yield run_phase(rate, args.duration, workdir, sipp_cpu)
        results.append(result)
        print(f"  {rate:.0f}/s {'sustained' if result.sustained else 'NOT sustained'}",
              file=sys.stderr)
        if not result.sustained:
            break
        best = result
    return results, best


def run(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    if not args.no_pin:
        os.sched_setaffinity(0, {int(cpu) for cpu in args.emitter_cpu.split(",")})
    if not args.no_gc_freeze:
        gc.collect()
        gc.freeze()  # start-up objects leave the collector's scans (as the service should)
    workdir = Path(tempfile.mkdtemp(prefix="beep-bench-"))
    outcome: dict[str, Any] = {}

    def go() -> None:
        d = main(args, workdir)

        def finished(value: Any) -> None:
            outcome["value"] = value
            reactor.stop()

        d.addBoth(finished)

    reactor.callWhenRunning(go)
    reactor.run()
    value = outcome.get("value")
    if not isinstance(value, tuple):
        print(value, file=sys.stderr)
        return 1
    results, best = value
    pin = "not pinned" if args.no_pin else \
        f"emitter on CPU {args.emitter_cpu}, SIPp on CPU {args.sipp_cpu}"
    print(f"Beep emitter benchmark: {platform.python_version()}, {os.cpu_count()} cores, "
          f"{pin}; {args.duration:g} s per phase; ring timer {RING_TIME_MS} ms; "
          f"UDP loopback; SIPp {SCENARIO.name}")
    print(table(results, best))
    if best is None:
        print("no ramp rate was sustained")
    else:
        print(f"maximum sustained: {best.rate:.0f} beeps/s (tried: "
              f"{', '.join(f'{r.rate:.0f}' for r in results[len(args.rate_list):])})")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    if args.keep_workdir:
        print(f"workdir: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if best is not None and best.rate >= 500 else 2


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
