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
    """Holds a snapshot of the campaigns (reloaded from SQL) and counts what it hands out,
    so a daily cap holds across reloads: a campaign's count is the snapshot's plus the
    impressions handed out since, the unsaved ones counting again after a reload.
    (Several processes sharing a database may overshoot a cap by what each has in
    flight.)"""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.random = rng or random.Random()
        self.campaigns: list[Campaign] = []
        self._pending: dict[int, int] = {}  # handed out, not yet saved
        self._extra: dict[int, int] = {}  # handed out, not in the snapshot's counts

    def load(self, campaigns: list[Campaign]) -> None:
        """A fresh snapshot: its counts include every impression saved before the load
        (the owner never loads while a save is running)."""
        self.campaigns = campaigns
        self._extra = dict(self._pending)

    def count(self, campaign: Campaign) -> int:
        return campaign.today + self._extra.get(campaign.id, 0)

    def choose(self, callee_class: str, now: datetime) -> Campaign | None:
        eligible = [c for c in self.campaigns if c.eligible(callee_class, now)
                    and (c.daily_cap is None or self.count(c) < c.daily_cap)]
        if not eligible:
            return None
        [chosen] = self.random.choices(eligible, weights=[c.weight for c in eligible])
        return chosen

    def used(self, campaign_id: int) -> None:
        """One impression handed out."""
        _add(self._pending, campaign_id, 1)
        _add(self._extra, campaign_id, 1)

    def unused(self, campaign_id: int) -> None:
        """An impression handed out that did not happen after all (the SMS failed)."""
        _add(self._pending, campaign_id, -1)
        _add(self._extra, campaign_id, -1)

    def saved(self, campaign_id: int) -> None:
        """An impression handed out is now in the database (and in the next load)."""
        _add(self._pending, campaign_id, -1)


def _add(counts: dict[int, int], key: int, delta: int) -> None:
    counts[key] = max(0, counts.get(key, 0) + delta)
