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
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interceptor.core.avps import CC_UPDATE, SUCCESS
from interceptor.detection.answer import OutOfCreditClassifier
from interceptor.detection.config import DEFAULT_VOICE_CONTEXTS, DetectionConfig
from interceptor.diameter.traffic import CallAttempt, cca, ccr, e164
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
    # the relay benchmark's lean CCR: one Subscription-Id, no S-CSCF descriptive AVPs
    call = CallAttempt("bench;1234567890", "bench-client.test", "bench.test", "ocs.test",
                       subscription_ids=e164("84912345678"),
                       calling_party_address="tel:+84912345678",
                       ims_charging_identifier=None, scscf_details=False)
    initial = ccr(call)
    update = ccr(replace(call, request_type=CC_UPDATE, request_number=1, used_seconds=30))
    initial_answer = cca(initial, "ocs", "ocs.test", SUCCESS)
    update_answer = cca(update, "ocs", "ocs.test", SUCCESS)
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
