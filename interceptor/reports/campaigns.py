"""The one place that knows how attempts relate to advertising campaigns: an attempt's
SMS carried campaign ``attempts.sms_campaign_id``; campaigns are named in
``ad_campaigns`` (one removed since is labelled by its id)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, select

from interceptor.storage.models import AdCampaign, Attempt


def campaign_expression(connection: Connection) -> Any:
    """The column attempts are grouped by for ``--by campaign``."""
    return Attempt.sms_campaign_id


def campaign_labels(connection: Connection, ids: Iterable[Any]) -> dict[Any, str]:
    """Campaign id -> name ("campaign <id>" for one no longer in the table)."""
    wanted = {campaign for campaign in ids if campaign is not None}
    labels: dict[Any, str] = {campaign: f"campaign {campaign}" for campaign in wanted}
    if wanted:
        for row in connection.execute(select(AdCampaign.id, AdCampaign.name)
                                      .where(AdCampaign.id.in_(sorted(wanted)))):
            labels[row.id] = str(row.name)
    return labels


def campaign_label(labels: dict[Any, str], campaign: Any) -> str:
    return "none" if campaign is None else labels.get(campaign, f"campaign {campaign}")
