#!/usr/bin/env python3
"""SMPP client benchmark: submit_sm per second with a window of 1 versus the default
window, against the test SMSC (tests/sms/smsc: npm ``smpp`` server), on one core.

    python bench/sms_bench.py                  # 3000 submit_sm per window size
    python bench/sms_bench.py --quick          # 300 (smoke test)
    python bench/sms_bench.py --windows 1,10,50 --count 5000 --cpu 0

The SMSC and this process (the ESME: SmppPool, one transceiver bind) are pinned to the
same core (``--cpu``; taskset / sched_setaffinity), so the figures compare the window's
effect with the CPU held constant. Every submit_sm is answered (no throttling, no
delivery receipts); the TPS cap is set out of the way. Figures are printed with the
window-1 baseline of the same run, never judged.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from twisted.internet import defer, protocol  # noqa: E402
from twisted.internet import reactor as _reactor  # noqa: E402
from twisted.internet.task import deferLater  # noqa: E402

from interceptor.smpp import BindConfig, PoolConfig, ShortMessage, SmppPool  # noqa: E402
from interceptor.smpp.messages import Address  # noqa: E402

reactor: Any = _reactor
SMSC = ROOT / "tests" / "sms" / "smsc" / "smsc.js"
DEFAULT_WINDOW = BindConfig.__dataclass_fields__["window"].default
PASSWORD = "bench"


class _Smsc(protocol.ProcessProtocol):
    def __init__(self) -> None:
        self.port: defer.Deferred[int] = defer.Deferred()
        self.ended: defer.Deferred[None] = defer.Deferred()
        self._partial = b""

    def outReceived(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            event = json.loads(line)
            if event["event"] == "listening" and not self.port.called:
                self.port.callback(event["port"])

    def processEnded(self, reason: Any) -> None:
        self.ended.callback(None)


@defer.inlineCallbacks
def run_window(window: int, count: int, cpu: str | None) -> Any:
    node = shutil.which("node")
    if node is None or not (SMSC.parent / "node_modules" / "smpp").is_dir():
        raise SystemExit("needs node and `npm ci --prefix tests/sms/smsc`")
    smsc = _Smsc()
    args = [node, str(SMSC), json.dumps({"port": 0, "system_id": "bench",
                                         "password": PASSWORD, "dlr": None, "quiet": True})]
    if cpu is not None:
        args = ["taskset", "-c", cpu, *args]
    process = reactor.spawnProcess(smsc, args[0] if cpu is None else shutil.which("taskset"),
                                   args, env=dict(os.environ))
    port = yield smsc.port
    bind = BindConfig(name="bench", host="127.0.0.1", port=port, system_id="bench",
                      password=PASSWORD, window=window, response_timeout=30)
    pool = SmppPool(PoolConfig(binds=(bind,), max_per_second=1e9, burst=1_000_000),
                    reactor, lambda receipt: None)
    pool.startService()
    while not pool.ready:
        yield deferLater(reactor, 0.01, lambda: None)
    message = ShortMessage(Address("84912000001"), Address("84987000002"), 0,
                           b"0912000001 called you at 10:32 - Top up: *100#")
    yield defer.gatherResults([pool.submit(message) for _ in range(min(200, count))])
    cpu_before = os.times()
    started = time.perf_counter()
    yield defer.gatherResults([pool.submit(message) for _ in range(count)])
    elapsed = time.perf_counter() - started
    cpu_after = os.times()
    yield pool.stopService()
    process.signalProcess("KILL")
    yield smsc.ended
    busy = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    return {"window": window, "count": count, "seconds": round(elapsed, 3),
            "submit_sm_per_s": round(count / elapsed, 1),
            "client_cpu_us_per_submit": round(busy / count * 1e6, 1)}


@defer.inlineCallbacks
def main_async(args: argparse.Namespace) -> Any:
    results = []
    for window in args.windows:
        result = yield run_window(window, args.count, args.cpu)
        results.append(result)
        print(f"window {window:>4}: {result['submit_sm_per_s']:>9.1f} submit_sm/s "
              f"({result['count']} in {result['seconds']} s; client CPU "
              f"{result['client_cpu_us_per_submit']} µs per submit_sm)", flush=True)
    base = results[0]["submit_sm_per_s"]
    for result in results[1:]:
        print(f"window {result['window']} / window {results[0]['window']}: "
              f"x{result['submit_sm_per_s'] / base:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", default=f"1,{DEFAULT_WINDOW}",
                        type=lambda text: [int(x) for x in text.split(",")],
                        help=f"window sizes; the first is the baseline (default 1,"
                             f"{DEFAULT_WINDOW}: the configured default)")
    parser.add_argument("--count", type=int, default=3000, help="submit_sm per window size")
    parser.add_argument("--quick", action="store_true", help="300 submit_sm per window")
    parser.add_argument("--cpu", default="0", help="the one core for both processes")
    parser.add_argument("--no-pin", action="store_true", help="do not pin")
    parser.add_argument("--json", default=None, help="write the figures here too")
    args = parser.parse_args()
    if args.quick:
        args.count = 300
    if args.no_pin:
        args.cpu = None
    else:
        os.sched_setaffinity(0, {int(cpu) for cpu in args.cpu.split(",")})
    print(f"SMPP submit_sm throughput against the test SMSC (npm smpp), "
          f"{'pinned to CPU ' + args.cpu if args.cpu else 'not pinned'}")
    failures: list[Any] = []

    def start() -> None:
        d = main_async(args)
        d.addErrback(failures.append)
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run()
    if failures:
        failures[0].printTraceback()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
