#!/usr/bin/env python3
"""Relay benchmark: direct vs the interceptor vs freeDiameter, one side-by-side table.

    python bench/relay_bench.py                 # full run (about 3 minutes)
    python bench/relay_bench.py --quick         # smoke test (well under 2 minutes)
    python bench/relay_bench.py --configs direct,freeDiameter --duration 5 --json out.json

See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this tree's interceptor

from relaybench import native, relays
from relaybench.report import build_rows, render_table, results_json
from relaybench.runner import ConfigResult, Phase, Plan, run_configuration
from relaybench.templates import Templates, write_templates

log = logging.getLogger("relay_bench")

DEFAULT_CONFIGS = ("direct", "interceptor", "interceptor+recording", "freeDiameter")
# haproxy: a yardstick for the load side, not a Diameter agent; interceptor+beeps: the
# relay's latency while the side work beeps a SIPp UAS (use --skip-saturation).
OPTIONAL_CONFIGS = ("interceptor+recording+watching", "haproxy", "interceptor+beeps")
FULL = {"duration": 10.0, "warmup": 2.0, "drain": 5.0}
QUICK = {"duration": 2.0, "warmup": 0.5, "drain": 2.0}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="short phases (smoke test, CI): %(prog)s finishes in < 2 min")
    parser.add_argument("--configs", default=",".join(DEFAULT_CONFIGS),
                        help="comma-separated, from: %(default)s "
                        f"(optional: {', '.join(OPTIONAL_CONFIGS)})")
    parser.add_argument("--duration", type=float,
                        help="measured seconds per phase (default 10, --quick 2)")
    parser.add_argument("--warmup", type=float,
                        help="unmeasured seconds before each phase (default 2, --quick 0.5)")
    parser.add_argument("--rates", default="2000,10000",
                        help="fixed offered rates in CCR/s (default %(default)s)")
    parser.add_argument("--skip-saturation", action="store_true",
                        help="only the fixed-rate phases (e.g. with interceptor+beeps)")
    parser.add_argument("--window", type=int, default=2048,
                        help="CCRs in flight for the saturation phase (default %(default)s)")
    parser.add_argument("--out-of-credit-ratio", type=float, default=0.2,
                        help="fraction of CCRs the stub answers with 4012 (default 0.2)")
    parser.add_argument("--relay-cpu", default="0", help="taskset -c list for the relay")
    parser.add_argument("--loadgen-cpu", default="1",
                        help="taskset -c list for the generator and the stub")
    parser.add_argument("--no-pin", action="store_true", help="do not use taskset")
    parser.add_argument("--ready-timeout", type=float, default=15.0,
                        help="seconds for a relay to answer the probe CCR (default 15)")
    parser.add_argument("--interceptor-log-level", default="warning",
                        choices=["debug", "info", "warning", "error"])
    parser.add_argument("--interceptor-extra", type=Path, metavar="YAML",
                        help="YAML mapping merged over the generated interceptor config "
                             "(e.g. detection: {enabled: true} plus numbering/database)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results here")
    parser.add_argument("--keep-workdir", action="store_true",
                        help="keep configs and logs of the children (path is printed)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    args.config_names = [name.strip() for name in args.configs.split(",") if name.strip()]
    known = (*DEFAULT_CONFIGS, *OPTIONAL_CONFIGS)
    unknown = set(args.config_names) - set(known)
    if unknown or not args.config_names:
        parser.error(f"--configs: unknown {sorted(unknown)}; choose from {known}")
    try:
        args.rate_list = [float(rate) for rate in args.rates.split(",") if rate.strip()]
    except ValueError:
        parser.error("--rates: comma-separated numbers")
    if not 0.0 <= args.out_of_credit_ratio <= 1.0:
        parser.error("--out-of-credit-ratio must be within [0, 1]")
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    mode = QUICK if args.quick else FULL
    duration = args.duration if args.duration is not None else mode["duration"]
    warmup = args.warmup if args.warmup is not None else mode["warmup"]
    phases = [] if args.skip_saturation else [
        Phase("saturation", None, warmup, duration, args.window)]
    phases += [Phase(f"rate_{rate:.0f}", rate, warmup, duration) for rate in args.rate_list]
    return Plan(
        phases=tuple(phases),
        relay_cpus=None if args.no_pin else args.relay_cpu,
        loadgen_cpus=None if args.no_pin else args.loadgen_cpu,
        ready_timeout=args.ready_timeout,
        drain_timeout=mode["drain"],
        out_of_credit_ratio=args.out_of_credit_ratio,
    )


def machine_description() -> dict[str, str]:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return {"cpu": model, "cores": str(os.cpu_count()), "kernel": platform.release(),
            "load_average_at_start": load}


def header(args: argparse.Namespace, plan: Plan, machine: dict[str, str],
           versions: dict[str, str], templates: Templates,
           results: Sequence[ConfigResult], gcc: str) -> str:
    relay_pin = f"taskset -c {plan.relay_cpus}" if plan.relay_cpus else "not pinned"
    load_pin = f"taskset -c {plan.loadgen_cpus}" if plan.loadgen_cpus else "not pinned"
    lines = [
        f"Relay benchmark ({'quick' if args.quick else 'full'}), "
        f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"machine: {machine['cpu']}, {machine['cores']} cores, Linux {machine['kernel']}, "
        f"load average at start {machine['load_average_at_start']}",
        f"pinning: relay {relay_pin}; C generator + C OCS stub {load_pin}",
        f"python: {platform.python_version()} ({sys.executable}); generator/stub: {gcc} -O2",
        *(f"{name}: {version}" for name, version in versions.items()),
        f"traffic: one client connection; CCR-Initial {templates.ccr_length} bytes; "
        f"stub answers {plan.out_of_credit_ratio:g} of CCRs with 4012; "
        f"warm-up {plan.phases[0].warmup:g} s before each phase",
    ]
    phases = " ".join(" ".join(phase.generator_args()) for phase in plan.phases)
    lines.append(f"generator: diam_gen {phases} (C, built from bench/diam_gen.c)")
    lines += [f"command ({r.name}): {r.relay_command}" for r in results if r.relay_command]
    return "\n".join(lines)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    plan = make_plan(args)
    available = relays.all_relays(args.interceptor_log_level,
                                  relays.load_extra(args.interceptor_extra))
    selected = [available[name] for name in args.config_names]
    machine = machine_description()
    versions = {relay.name: relay.version() for relay in selected if relay.name != "direct"}
    workdir = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    try:
        templates = write_templates(workdir / "templates", os.getpid())
        binaries = native.build(workdir / "bin")
        results = []
        recorded: list[str] = []
        for relay in selected:
            log.info("running %s", relay.name)
            results.append(run_configuration(relay, binaries, templates, plan, workdir))
            if isinstance(relay, relays.InterceptorBeeps):
                recorded.append(f"{relay.name}: {relay.beep_figures()}")
            elif isinstance(relay, relays.InterceptorRecording):
                recorded.append(f"{relay.name}: {relay.recorded()} attempts in SQLite after "
                                "all phases, warm-ups included (the 4012 counts above "
                                "cover the measured windows only)")
    finally:
        if args.keep_workdir:
            print(f"work directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    rows, notes = build_rows(results, plan.phases)
    print(header(args, plan, machine, versions, templates, results, native.compiler_version()))
    print()
    print(render_table(rows))
    for number, note in enumerate(notes, start=1):
        print(f"note {number}: {note}")
    for line in recorded:
        print(line)
    if args.json:
        document: dict[str, Any] = {
            "machine": machine, "versions": versions, "quick": args.quick,
            "plan": {"phases": [vars(p) for p in plan.phases], "relay_cpus": plan.relay_cpus,
                     "loadgen_cpus": plan.loadgen_cpus,
                     "out_of_credit_ratio": plan.out_of_credit_ratio,
                     "ccr_bytes": templates.ccr_length},
            "configs": results_json(results),
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0 if all(result.ok for result in results) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in background
    try:
        return run(args)
    except KeyboardInterrupt:
        log.error("interrupted: child processes stopped")
        return 130
    except (native.BuildError, relays.StartError, OSError) as error:
        log.error("%s", error)
        return 2


if __name__ == "__main__":
    sys.exit(main())
