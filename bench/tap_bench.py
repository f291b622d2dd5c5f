"""Per-answer cost of the relay's tap (µs), idle and while watching for callbacks.

    python bench/tap_bench.py

Idle: only the agent's own substring test runs (the baseline, same run). Watching: the
tap sees every answer and makes its callback check (100,000 watched keys and 1,000
linked sessions, none matching). Figures are printed, never judged.
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interceptor.demo.traffic import UPDATE, CallAttempt, cca, ccr
from interceptor.detection.answer import OutOfCreditClassifier
from interceptor.detection.config import DEFAULT_VOICE_CONTEXTS, DetectionConfig
from interceptor.sidework.tap import SideWorkTap


class _Sink:
    def next_sequence(self) -> int:
        return 1

    def send(self, frame: bytes) -> None:
        pass


class _Peer:
    name = "bench-client.test"


def per_call(fn: Callable[[], object], number: int = 200_000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main() -> None:
    initial = ccr(CallAttempt("bench;1234567890", "bench-client.test", "bench.test",
                              "ocs.test"))
    update = ccr(CallAttempt("bench;1234567890", "bench-client.test", "bench.test",
                             "ocs.test", request_type=UPDATE, used_seconds=30))
    initial_answer = cca(initial, "ocs", "ocs.test", 2001)
    update_answer = cca(update, "ocs", "ocs.test", 2001)
    tap = SideWorkTap(OutOfCreditClassifier(DetectionConfig()), _Sink(), lambda: 0.0,
                      DEFAULT_VOICE_CONTEXTS)
    peer: object = _Peer()
    needle = tap.answer_filter
    assert needle is not None
    empty = per_call(lambda: None)
    idle = per_call(lambda: needle in initial_answer) - empty
    tap.set_watches({"add_keys": [f"{n:09d}" for n in range(100_000)],
                     "add_sessions": [f"s;{n}" for n in range(1_000)]})
    watching_i = per_call(lambda: tap.answer_relayed(initial, initial_answer, peer,  # type: ignore[arg-type]
                                                     peer)) - empty  # type: ignore[arg-type]
    watching_u = per_call(lambda: tap.answer_relayed(update, update_answer, peer,  # type: ignore[arg-type]
                                                     peer)) - empty  # type: ignore[arg-type]
    print(f"idle: the agent's substring test per answer   {idle:6.3f} us")
    print(f"watching, CCR-Initial answered 2001 (no match) {watching_i:6.3f} us")
    print(f"watching, CCR-Update answered 2001 (no match)  {watching_u:6.3f} us")


if __name__ == "__main__":
    main()
