"""Bucket counters without locks: a list of ints and a sum, updated on the reactor
thread only; the metrics collector reads them at scrape time."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field

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

    def counts_snapshot(self) -> BucketCounts:
        return BucketCounts(list(self.bounds), list(self.counts), self.total)

    @classmethod
    def from_counts(cls, snapshot: BucketCounts | None,
                    default_bounds: Sequence[float]) -> Buckets:
        """The buckets a snapshot describes (empty ones on ``default_bounds`` if it does
        not fit)."""
        if snapshot is None or len(snapshot.counts) != len(snapshot.bounds) + 1:
            return cls(default_bounds)
        buckets = cls(snapshot.bounds)
        buckets.counts = list(snapshot.counts)
        buckets.total = snapshot.total
        return buckets


@dataclass
class BucketCounts:
    """A histogram's raw counts as plain data (what crosses the pipe)."""

    bounds: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
