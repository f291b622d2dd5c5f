"""Bucket counters without locks: a list of ints and a sum, updated on the reactor
thread only; the metrics collector reads them at scrape time."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

# Relay round trip through the agent (to the OCS and back), seconds.
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                   0.1, 0.25, 0.5, 1.0, 2.5)
# Beep ring time (first 180/183 to CANCEL), seconds.
RING_BUCKETS = (0.1, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.8, 1.0, 2.0)


class Buckets:
    """A histogram's raw counts: ``counts[i]`` observations <= ``bounds[i]`` (not
    cumulative; the last slot is +Inf)."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus buckets: (upper bound, cumulative count), +Inf last."""
        running = 0
        out = []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"bounds": list(self.bounds), "counts": list(self.counts), "sum": self.total}

    @classmethod
    def from_dict(cls, raw: Any, default_bounds: Sequence[float]) -> Buckets:
        bounds = raw.get("bounds", default_bounds) if isinstance(raw, dict) else default_bounds
        buckets = cls(bounds)
        if isinstance(raw, dict):
            counts = raw.get("counts")
            if isinstance(counts, list) and len(counts) == len(buckets.counts):
                buckets.counts = [int(count) for count in counts]
            buckets.total = float(raw.get("sum", 0.0))
        return buckets
