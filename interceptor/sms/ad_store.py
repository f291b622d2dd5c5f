"""Ad campaigns for the admin CLI (``beepcall ads``): add, list, status, stats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from interceptor.core.vocabulary import CampaignStatus
from interceptor.storage.models import AdCampaign, AdCampaignDaily


class CampaignExistsError(ValueError):
    pass


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    text: str
    weight: int
    starts_at: datetime | None
    ends_at: datetime | None
    classes: str
    daily_cap: int | None
    status: str
    impressions: int
    delivered: int
    created_at: datetime


def add_campaign(engine: Engine, *, name: str, text: str, weight: int,
                 starts_at: datetime | None, ends_at: datetime | None, classes: str,
                 daily_cap: int | None) -> int:
    try:
        with engine.begin() as connection:
            result = connection.execute(insert(AdCampaign).values(
                name=name, text=text, weight=weight, starts_at=starts_at, ends_at=ends_at,
                classes=classes, daily_cap=daily_cap, status=CampaignStatus.ACTIVE, impressions=0,
                delivered=0))
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])
    except IntegrityError:
        raise CampaignExistsError(f"a campaign named {name!r} exists already") from None


def campaigns(engine: Engine, include_removed: bool = False) -> list[CampaignRow]:
    query = select(AdCampaign.__table__).order_by(AdCampaign.id)
    if not include_removed:
        query = query.where(AdCampaign.status != CampaignStatus.REMOVED)
    with engine.connect() as connection:
        return [CampaignRow(**row._mapping) for row in connection.execute(query)]


def set_status(engine: Engine, name: str, status: CampaignStatus) -> bool:
    """False if no campaign has that name (removed ones can be neither paused nor
    resumed)."""
    with engine.begin() as connection:
        query = update(AdCampaign).where(AdCampaign.name == name)
        if status != CampaignStatus.REMOVED:
            query = query.where(AdCampaign.status != CampaignStatus.REMOVED)
        return bool(connection.execute(query.values(status=status)).rowcount)


def daily_counts(engine: Engine, since: date) -> dict[int, tuple[int, int]]:
    """campaign id -> (impressions, delivered) from ``since`` on."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(AdCampaignDaily.campaign_id, func.sum(AdCampaignDaily.impressions),
                   func.sum(AdCampaignDaily.delivered))
            .where(AdCampaignDaily.day >= since)
            .group_by(AdCampaignDaily.campaign_id))
        return {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in rows}
