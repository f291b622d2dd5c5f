"""The one place that knows how attempts relate to advertising campaigns.

Issue 6 adds ``attempts.sms_campaign_id`` and the ``ad_campaigns`` table; until both
exist in a database, every attempt is in no campaign and campaigns are labelled by id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Integer, cast, column, inspect, null, select, table

CAMPAIGN_COLUMN = "sms_campaign_id"


def campaign_expression(connection: Connection) -> Any:
    """``attempts.sms_campaign_id`` if the schema has it, else a NULL literal."""
    columns = {c["name"] for c in inspect(connection).get_columns("attempts")}
    if CAMPAIGN_COLUMN in columns:
        return column(CAMPAIGN_COLUMN)
    return cast(null(), Integer)


def campaign_labels(connection: Connection, ids: Iterable[Any]) -> dict[Any, str]:
    """Campaign id -> name (from ``ad_campaigns`` when it exists, else "campaign <id>")."""
    wanted = {campaign for campaign in ids if campaign is not None}
    labels: dict[Any, str] = {campaign: f"campaign {campaign}" for campaign in wanted}
    if wanted and inspect(connection).has_table("ad_campaigns"):
        ad_campaigns = table("ad_campaigns", column("id"), column("name"))
        for row in connection.execute(select(ad_campaigns.c.id, ad_campaigns.c.name)
                                      .where(ad_campaigns.c.id.in_(sorted(wanted)))):
            labels[row.id] = str(row.name)
    return labels


def campaign_label(labels: dict[Any, str], campaign: Any) -> str:
    return "none" if campaign is None else labels.get(campaign, f"campaign {campaign}")
