"""``beepcall ads`` against SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import Engine, insert, update

from interceptor.sms import ad_store as store
from interceptor.storage.models import AdCampaign, AdCampaignDaily
from tests.cli.conftest import Beepcall


def test_add_list_pause_resume_remove(beepcall: Beepcall, admin_engine: Engine) -> None:
    added = beepcall("ads", "add", "topup", "--text", "Nạp thẻ: *100#", "--weight", "3",
                     "--classes", "on_net,off_net", "--daily-cap", "500",
                     "--starts", "2026-01-01", "--ends", "2027-12-31")
    assert added.exit_code == 0, added.output
    assert added.stdout == "added: topup (weight 3; UCS-2, 14 characters)\n"
    assert beepcall("ads", "add", "plain", "--text", "Call back free").stdout == \
        "added: plain (weight 1; GSM 7-bit, 14 characters)\n"
    duplicate = beepcall("ads", "add", "topup", "--text", "x")
    assert duplicate.exit_code == 1 and "exists already" in duplicate.output

    topup, _ = store.campaigns(admin_engine)
    assert (topup.weight, topup.classes, topup.daily_cap, topup.status) == \
        (3, "on_net,off_net", 500, "active")
    assert topup.starts_at is not None and topup.ends_at is not None

    listed = beepcall("ads", "list")
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "STATUS", "WEIGHT"]
    assert [row.split()[:2] for row in rows] == [["topup", "active"], ["plain", "active"]]

    assert beepcall("ads", "pause", "topup").stdout == "paused: topup\n"
    assert store.campaigns(admin_engine)[0].status == "paused"
    assert beepcall("ads", "resume", "topup").stdout == "resumed: topup\n"
    assert beepcall("ads", "remove", "plain").stdout == "removed: plain\n"
    assert [c.name for c in store.campaigns(admin_engine)] == ["topup"]
    assert beepcall("ads", "resume", "plain").exit_code == 1  # removed is for good
    assert beepcall("ads", "pause", "nope").exit_code == 1
    everything = json.loads(beepcall("ads", "list", "--all", "--json").stdout)
    assert [(c["name"], c["status"]) for c in everything] == \
        [("topup", "active"), ("plain", "removed")]


def test_bad_input_is_refused(beepcall: Beepcall) -> None:
    assert beepcall("ads", "add", "x", "--text", "y", "--classes", "mars").exit_code == 2
    assert beepcall("ads", "add", "x", "--text", "y", "--weight", "0").exit_code == 2
    late = beepcall("ads", "add", "x", "--text", "y", "--starts", "2027-01-01",
                    "--ends", "2026-01-01")
    assert late.exit_code == 2


def test_stats(beepcall: Beepcall, admin_engine: Engine) -> None:
    beepcall("ads", "add", "topup", "--text", "Top up")
    [campaign] = store.campaigns(admin_engine)
    with admin_engine.begin() as connection:
        connection.execute(update(AdCampaign).values(impressions=40, delivered=30))
        connection.execute(insert(AdCampaignDaily), [
            {"campaign_id": campaign.id, "day": date.today(), "impressions": 4,
             "delivered": 3},
            {"campaign_id": campaign.id, "day": date(2020, 1, 1), "impressions": 36,
             "delivered": 27}])
    [row] = json.loads(beepcall("ads", "stats", "--days", "7", "--json").stdout)
    assert (row["impressions"], row["delivered"], row["delivery_rate"]) == (40, 30, "75.0%")
    assert (row["impressions_7d"], row["delivered_7d"]) == (4, 3)
    table = beepcall("ads", "stats").stdout
    assert "topup" in table and "75.0%" in table
