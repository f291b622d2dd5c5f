"""Encoding, parts, templates, the SMS rule, ad choice and the `sms` config (pure)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from interceptor.core.section import ConfigError
from interceptor.sms import gsm7
from interceptor.sms.ads import AdSelector, Campaign
from interceptor.sms.rules import SmsRule
from interceptor.sms.templates import MessageComposer
from tests.sms.harness import PASSWORD_ENV, parse, sms_section

WHEN = datetime(2026, 11, 25, 3, 32, tzinfo=UTC)  # 10:32 in Hanoi


# --- encoding -----------------------------------------------------------------------------
def test_gsm7_when_every_character_fits_else_ucs2() -> None:
    plain = gsm7.encode("Hello @ £ {x} €")
    assert plain.data_coding == 0
    assert plain.size == 18  # { } € are two septets each (ESC + code)
    assert gsm7.decode(0, b"".join(plain.units)) == "Hello @ £ {x} €"
    vietnamese = gsm7.encode("Bạn có cuộc gọi nhỡ")
    assert vietnamese.data_coding == 8 and vietnamese.size == 19
    assert gsm7.decode(8, b"".join(vietnamese.units)) == "Bạn có cuộc gọi nhỡ"
    assert gsm7.encode("a — b").data_coding == 8  # the em dash is not GSM


@pytest.mark.parametrize(("text", "parts"), [
    ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
    ("€" * 80, 1), ("€" * 81, 2), ("ạ" * 70, 1), ("ạ" * 71, 2), ("ạ" * 134, 2),
    ("ạ" * 135, 3)])
def test_part_budget(text: str, parts: int) -> None:
    assert gsm7.part_count(text) == parts


def test_an_escape_pair_or_a_surrogate_pair_never_straddles_parts() -> None:
    chunks = gsm7.encode("a" * 152 + "€" + "b" * 10).chunks()
    assert [len(chunk) for chunk in chunks] == [152, 12]
    assert chunks[1].startswith(b"\x1b\x65")
    emoji = gsm7.encode("ạ" * 66 + "😀" + "b" * 5).chunks()
    assert len(emoji[0]) == 132 and emoji[1].startswith("😀".encode("utf-16-be"))


def test_udh_and_sar_parts() -> None:
    chunks = gsm7.encode("x" * 200).chunks()
    udh = gsm7.concatenate(chunks, 0x1A7, "udh")
    assert [p.payload[:6] for p in udh] == [bytes([5, 0, 3, 0xA7, 2, 1]),
                                           bytes([5, 0, 3, 0xA7, 2, 2])]
    assert all(p.udhi and p.sar is None for p in udh)
    sar = gsm7.concatenate(chunks, 0x1A7, "sar")
    assert [(p.sar.reference, p.sar.total, p.sar.sequence) for p in sar if p.sar] == \
        [(0x1A7, 2, 1), (0x1A7, 2, 2)]
    assert not any(p.udhi for p in sar) and sar[0].payload == chunks[0]
    [single] = gsm7.concatenate([b"hi"], 1, "udh")
    assert (single.payload, single.udhi, single.sar) == (b"hi", False, None)


# --- templates ----------------------------------------------------------------------------
def composer(monkeypatch: pytest.MonkeyPatch, **changes: Any) -> MessageComposer:
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    return MessageComposer(parse(sms_section(2775, **changes)))


def test_placeholders_time_zone_and_number_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    template = "{caller}|{caller_national}|{caller_international}|{time}|{date}{ad}"
    rendered = composer(monkeypatch, caller_format="national_spaced").render(
        template, "84912345678", "84987000002", WHEN, "AD")
    assert rendered.text == "0912 345 678|0912345678|+84912345678|10:32|25/11 - AD"
    assert rendered.with_ad and rendered.parts == 1 and rendered.data_coding == 0
    foreign = composer(monkeypatch).render("{caller}", "33612345678", "84987000002", WHEN,
                                           None)
    assert foreign.text == "+33612345678"  # not national: international form


def test_the_ad_goes_only_if_the_whole_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    c = composer(monkeypatch, max_parts=1)
    fits = c.render("{caller} called.{ad}", "84912345678", "84987000002", WHEN, "x" * 100)
    assert fits.with_ad
    too_long = c.render("{caller} called.{ad}", "84912345678", "84987000002", WHEN,
                        "x" * 150)
    assert not too_long.with_ad and too_long.text == "0912345678 called."
    # a Vietnamese ad switches the whole text to UCS-2, so it fits less
    ucs2 = c.render("{caller} called." + "." * 40 + "{ad}", "84912345678", "84987000002",
                    WHEN, "Nạp thẻ ngay")
    assert not ucs2.with_ad and ucs2.data_coding == 0


# --- rule ---------------------------------------------------------------------------------
def test_default_rule_always_on_net_never_international(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    rule = SmsRule(parse(sms_section(2775)).send_after)
    assert rule.wanted("on_net", "rang") and rule.wanted("on_net", "busy")
    assert rule.wanted("on_net", None) and rule.wanted("off_net", "unavailable")
    assert not rule.wanted("international", "rang")
    assert not rule.wanted("international", None) and not rule.wanted("unknown", "rang")
    custom = SmsRule(parse(sms_section(2775, send_after={
        "on_net": ["busy", "unavailable", "not_beeped"], "international": "always"}))
        .send_after)
    assert custom.wanted("on_net", "busy") and not custom.wanted("on_net", "rang")
    assert custom.wanted("on_net", None) and custom.wanted("international", "rang")


# --- ads ----------------------------------------------------------------------------------
def campaign(id: int, weight: int = 1, **changes: Any) -> Campaign:
    base: dict[str, Any] = {"id": id, "name": f"c{id}", "text": f"ad{id}", "weight": weight,
                            "classes": frozenset(), "starts_at": None, "ends_at": None,
                            "daily_cap": None, "today": 0}
    base.update(changes)
    return Campaign(**base)


def test_ads_by_weight_dates_classes_and_caps() -> None:
    selector = AdSelector(random.Random(3))
    selector.load([
        campaign(1, 3), campaign(2, 1),
        campaign(3, 50, starts_at=WHEN + timedelta(days=1)),
        campaign(4, 50, ends_at=WHEN),
        campaign(5, 50, classes=frozenset({"international"})),
        campaign(6, 50, daily_cap=5, today=5),
    ])
    counts = Counter()
    for _ in range(4000):
        chosen = selector.choose("on_net", WHEN)
        assert chosen is not None
        counts[chosen.id] += 1
    assert set(counts) == {1, 2}
    assert 2.7 <= counts[1] / counts[2] <= 3.3
    assert selector.choose("international", WHEN).id == 5  # type: ignore[union-attr]


def test_daily_cap_counts_what_is_handed_out_across_reloads() -> None:
    selector = AdSelector(random.Random(1))
    capped = campaign(1, daily_cap=3)
    selector.load([capped])
    for _ in range(2):
        chosen = selector.choose("on_net", WHEN)
        assert chosen is not None
        selector.used(chosen.id)
    selector.saved(1)  # one saved...
    selector.load([campaign(1, daily_cap=3, today=1)])  # ...so the reload counts it
    assert selector.choose("on_net", WHEN) is not None
    selector.used(1)
    assert selector.choose("on_net", WHEN) is None  # 1 saved + 2 in flight = cap
    selector.unused(1)  # one SMS failed: its impression is given back
    assert selector.choose("on_net", WHEN) is not None


# --- config -------------------------------------------------------------------------------
def test_config_defaults_and_password_from_env_or_file(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "s3cr3t")
    config = parse(sms_section(2775))
    [bind] = config.pool.binds
    assert bind.password == "s3cr3t" and "s3cr3t" not in repr(config)
    assert (bind.mode, bind.window, config.max_parts, config.concatenation) == \
        ("transceiver", 10, 3, "udh")
    (tmp_path / "pw").write_text("fromfile\n")
    raw = sms_section(2775)
    del raw["smsc"]["binds"][0]["password_env"]
    raw["smsc"]["binds"][0]["password_file"] = str(tmp_path / "pw")
    assert parse(raw).pool.binds[0].password == "fromfile"


@pytest.mark.parametrize(("change", "path"), [
    (lambda r: r["smsc"]["binds"][0].update(password="x"), "sms.smsc.binds[0].password"),
    (lambda r: r["smsc"]["binds"][0].update(password_env="NOPE_NOT_SET"),
     "sms.smsc.binds[0].password_env"),
    (lambda r: r["smsc"]["binds"][0].update(mode="receiver"), "sms.smsc.binds[0].mode"),
    (lambda r: r["smsc"]["binds"][0].update(window=0), "sms.smsc.binds[0].window"),
    (lambda r: r["smsc"]["binds"][0].update(system_id="x" * 16),
     "sms.smsc.binds[0].system_id"),
    (lambda r: r["smsc"].update(binds=[]), "sms.smsc.binds"),
    (lambda r: r["smsc"].update(tps=5), "sms.smsc.tps"),
    (lambda r: r.update(templates={"vi": {"to_callee": "{nope}"}}),
     "sms.templates.vi.to_callee"),
    (lambda r: r.update(language="fr"), "sms.language"),
    (lambda r: r.update(time_zone="Mars/Olympus"), "sms.time_zone"),
    (lambda r: r.update(send_after={"on_net": ["rung"]}), "sms.send_after.on_net[0]"),
    (lambda r: r.update(sender={"off_net": {"type": "short_code", "value": "12a"}}),
     "sms.sender.off_net.value"),
    (lambda r: r.update(sender={"international": {"type": "alphanumeric"}}),
     "sms.sender.international.value"),
    (lambda r: r.update(to_caller=True), "sms.templates.vi.to_caller"),
    (lambda r: r.update(max_parts=0), "sms.max_parts"),
    (lambda r: r.update(concatenation="both"), "sms.concatenation"),
    (lambda r: r.update(colour="red"), "sms.colour"),
])
def test_config_errors_name_the_path(monkeypatch: pytest.MonkeyPatch, change: Any,
                                     path: str) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    raw = sms_section(2775)
    change(raw)
    with pytest.raises(ConfigError) as error:
        parse(raw)
    assert str(error.value).startswith(path + ":"), str(error.value)


def test_the_example_config_sms_section_parses(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    """examples/interceptor.yaml documents the section commented out: uncommented, it is
    a valid configuration."""
    import yaml

    from interceptor.config.loader import parse_config

    text = (Path(__file__).parents[2] / "examples" / "interceptor.yaml").read_text()
    block = text[text.index("# sms:"):]
    raw = yaml.safe_load(text)
    raw["sms"] = yaml.safe_load("\n".join(line[2:] for line in block.splitlines()))["sms"]
    monkeypatch.setenv("BEEPCALL_SMPP_PASSWORD", "pw")
    (tmp_path / "smpp-password").write_text("pw2\n")
    raw["sms"]["smsc"]["binds"][1]["password_file"] = str(tmp_path / "smpp-password")
    config = parse_config(raw)
    assert config.sms is not None
    assert [bind.password for bind in config.sms.pool.binds] == ["pw", "pw2"]
    assert config.sms.senders["off_net"].kind == "short_code"
