"""Advertisement choice: among the eligible campaigns (active, within their dates,
targeting the callee's class, under their daily cap), one at random by weight."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    text: str
    weight: int
    classes: frozenset[str]  # empty: every class
    starts_at: datetime | None
    ends_at: datetime | None
    daily_cap: int | None
    today: int  # impressions so far today (operator's day)

    def eligible(self, callee_class: str, now: datetime) -> bool:
        return (self.weight > 0
                and (not self.classes or callee_class in self.classes)
                and (self.starts_at is None or self.starts_at <= now)
                and (self.ends_at is None or now < self.ends_at))


class AdSelector:
    """Holds a snapshot of the campaigns and counts the impressions it hands out, so a
    daily cap holds between two reloads (several processes may overshoot by a reload's
    worth)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.random = rng or random.Random()
        self.campaigns: list[Campaign] = []
        self._given: dict[int, int] = {}

    def load(self, campaigns: list[Campaign]) -> None:
        self.campaigns = campaigns
        self._given = {}

    def choose(self, callee_class: str, now: datetime) -> Campaign | None:
        eligible = [c for c in self.campaigns if c.eligible(callee_class, now)
                    and (c.daily_cap is None
                         or c.today + self._given.get(c.id, 0) < c.daily_cap)]
        if not eligible:
            return None
        [chosen] = self.random.choices(eligible, weights=[c.weight for c in eligible])
        return chosen

    def used(self, campaign_id: int) -> None:
        """One impression handed out (counted against the daily cap until the reload)."""
        self._given[campaign_id] = self._given.get(campaign_id, 0) + 1

    def unused(self, campaign_id: int) -> None:
        if self._given.get(campaign_id, 0) > 0:
            self._given[campaign_id] -= 1
