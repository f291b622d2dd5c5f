"""A stand-alone deciding process for the concurrency test: waits for a common start
instant, then decides due attempts in small batches (as the side-work process does)
until none is left, and prints what it claimed and suppressed as JSON.

    python -m tests.policy.decider URL START_EPOCH BATCH
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from interceptor.policy.rules import plan
from interceptor.policy.service import decide_due
from interceptor.policy.thresholds import SPECS, Thresholds
from interceptor.storage.engine import make_engine
from interceptor.storage.policy import Candidate
from interceptor.storage.thresholds import load


def main() -> None:
    url, start, batch = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    engine = make_engine(url)
    values = {key: SPECS[key].parse(text) for key, text in load(engine).items()}
    thresholds, zone = Thresholds(values), ZoneInfo("UTC")

    def planner(candidate: Candidate, now: datetime) -> object:
        return plan(thresholds, zone, caller=candidate.caller_e164,
                    callee=candidate.callee_e164, callee_class=candidate.callee_class,
                    now=now)

    time.sleep(max(0.0, start - time.time()))  # a separate process, not a test's timer
    claimed: list[str] = []
    suppressed: dict[str, int] = {}
    lost = 0
    while True:
        now = datetime.now(UTC)
        result = decide_due(engine, planner, now - timedelta(hours=1), now,  # type: ignore[arg-type]
                            batch)
        claimed += [decision.candidate.attempt_id for decision in result.claimed]
        for reason, count in result.suppressed.items():
            suppressed[reason] = suppressed.get(reason, 0) + count
        lost += result.lost
        if not result.claimed and not result.suppressed and not result.lost:
            break
    print(json.dumps({"claimed": claimed, "suppressed": suppressed, "lost": lost}))


if __name__ == "__main__":
    main()
