"""A stand-alone deciding process for the concurrency test: says "ready" once loaded,
waits for "go" on stdin (the test sends it to both at once), then decides due attempts
in small batches (as the side-work process does) until none is left, and prints what it
claimed and suppressed as JSON.

    python -m tests.policy.decider URL BATCH
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from interceptor.policy.rules import plan
from interceptor.policy.service import decide_due
from interceptor.policy.store import Candidate
from interceptor.policy.threshold_store import load
from interceptor.policy.thresholds import SPECS, Thresholds
from interceptor.storage.engine import make_engine


def main() -> None:
    url, batch = sys.argv[1], int(sys.argv[2])
    engine = make_engine(url)
    values = {key: SPECS[key].parse(text) for key, text in load(engine).items()}
    thresholds, zone = Thresholds(values), ZoneInfo("UTC")

    def planner(candidate: Candidate, now: datetime) -> object:
        return plan(thresholds, zone, caller=candidate.caller_e164,
                    callee=candidate.callee_e164, callee_class=candidate.callee_class,
                    now=now)

    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit("no go")
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
