from __future__ import annotations

import pytest

from interceptor.core.section import ConfigError, Section
from interceptor.core.vocabulary import CalleeClass
from interceptor.numbers import (
    MappingPortability,
    NormalisedNumber,
    NumberingConfig,
    classify,
    international_format,
    national_format,
    normalise,
    parse_numbering,
)

VN = NumberingConfig(on_net_prefixes=("8491", "8494", "8488"))


@pytest.mark.parametrize(("raw", "expected"), [
    # bare numbers, every home format
    ("+84912345678", "84912345678"),
    ("84912345678", "84912345678"),
    ("0912345678", "84912345678"),
    ("912345678", "84912345678"),
    ("0084912345678", "84912345678"),
    ("+84 912 345 678", "84912345678"),
    ("+84-912-345-678", "84912345678"),
    ("(+84) 912.345.678", "84912345678"),
    ("091-234-5678", "84912345678"),
    ("  0912345678\t", "84912345678"),
    ("+84 (0) 912 345 678", "84912345678"),
    ("840912345678", "84912345678"),
    # fixed line: 10-digit national significant number
    ("02437654321", "842437654321"),
    ("+842437654321", "842437654321"),
    ("(024) 3765 4321", "842437654321"),
    # a national number that itself starts with 84 (VinaPhone 084x)
    ("0845123456", "84845123456"),
    ("845123456", "84845123456"),
    ("84845123456", "84845123456"),
    # foreign numbers
    ("+14155552671", "14155552671"),
    ("0014155552671", "14155552671"),
    ("+44 20 7946 0958", "442079460958"),
    ("+8613800138000", "8613800138000"),
    # tel: URIs
    ("tel:+84912345678", "84912345678"),
    ("tel:+84-912-345-678", "84912345678"),
    ("TEL:+84912345678", "84912345678"),
    ("tel:+84-912-345-678;phone-context=ims.example.net", "84912345678"),
    ("tel:0912345678;phone-context=ims.mnc004.mcc452.3gppnetwork.org", "84912345678"),
    ("tel:912345678;phone-context=+84", "84912345678"),
    ("tel:0912345678;phone-context=+84", "84912345678"),
    ("tel:4155552671;phone-context=+1", "14155552671"),
    ("tel:+84912345678;npdi;rn=+84910000000", "84912345678"),
    ("tel:+84912345678;ext=22", "84912345678"),
    # sip:/sips: URIs
    ("sip:+84912345678@ims.example.net;user=phone", "84912345678"),
    ("sip:+84912345678@ims.example.net:5060;user=phone", "84912345678"),
    ("sips:+84912345678@ims.example.net;user=phone", "84912345678"),
    ("SIP:0912345678@ims.example.net;user=phone", "84912345678"),
    ("sip:0912345678;phone-context=+84@ims.example.net;user=phone", "84912345678"),
    ("sip:0912345678;phone-context=ims.example.net@ims.example.net;user=phone",
     "84912345678"),
    ("sip:%2B84912345678@ims.example.net", "84912345678"),
    ("sip:+84-912-345-678@ims.example.net", "84912345678"),
    ("sip:84912345678@10.0.0.1", "84912345678"),
    ("sip:+84912345678:secret@ims.example.net", "84912345678"),
    ("sip:+84912345678@ims.example.net?Subject=hi", "84912345678"),
    ("<sip:+84912345678@ims.example.net;user=phone>", "84912345678"),
    ('"Alice" <sip:+84912345678@ims.example.net>;tag=1', "84912345678"),
    ("<tel:+84912345678>", "84912345678"),
])
def test_normalise_accepts(raw: str, expected: str) -> None:
    assert normalise(raw, VN) == NormalisedNumber(expected, None)


@pytest.mark.parametrize(("raw", "reason"), [
    (None, "empty"),
    ("", "empty"),
    ("   ", "empty"),
    ("<>", "empty"),
    ("tel:", "no digits"),
    ("+", "not a telephone number"),
    ("abc", "not a telephone number"),
    ("09123x5678", "not a telephone number"),
    ("*100#", "not a telephone number"),
    ("\uff10\uff19\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",
     "not a telephone number"),  # full-width digits: str.isdigit() says yes
    ("sip:alice@example.com", "not a telephone number"),
    ("sip:anonymous@anonymous.invalid", "not a telephone number"),
    ("sip:ims.example.net", "without a user part"),
    ("mailto:someone@example.com", "unsupported URI scheme 'mailto'"),
    ("urn:service:sos", "unsupported URI scheme 'urn'"),
    ("<sip:+84912345678@ims.example.net", "unbalanced"),
    ("113", "too short"),
    ("1900", "too short"),
    ("091234567", "too short"),
    ("+8491234567", "too short"),
    ("091234567890", "too long"),
    ("+84912345678901", "too long"),
    ("+1234", "too short for an international number"),
    ("+1234567890123456", "too long for an E.164 number"),
    ("+0912345678", "country code cannot start with 0"),
    ("00", "no digits after the international prefix"),
    ("0", "no digits after the national prefix"),
    ("tel:12345;phone-context=+x1", "bad phone-context"),
])
def test_normalise_refuses_with_a_reason(raw: str | None, reason: str) -> None:
    result = normalise(raw, VN)
    assert result.e164 is None
    assert not result.ok
    assert result.reason is not None and reason in result.reason


def test_normalise_never_raises_on_garbage() -> None:
    samples = ["tel:;;;", "sip:@", "sip:;@", "<", ">", "<<>>", "tel:+;phone-context=",
               "sip:%ZZ@x", "\x00\x01", "+" * 50, "0" * 50, "9" * 50, "tel:%2B%2B",
               "sip:+84912345678@", ";user=phone", "::::", "tel:+84 912 345 678 ;x=;"]
    for raw in samples:
        result = normalise(raw, VN)
        assert (result.e164 is None) != (result.reason is None)


def test_bare_national_numbers_can_be_refused() -> None:
    strict = NumberingConfig(accept_bare_national=False)
    assert normalise("912345678", strict).e164 is None
    assert normalise("84912345678", strict).e164 == "84912345678"
    assert normalise("0912345678", strict).e164 == "84912345678"


def test_another_numbering_plan() -> None:
    france = NumberingConfig(country_code="33", national_prefix="0",
                             international_prefix="00", national_number_lengths=(9,))
    assert normalise("01 23 45 67 89", france).e164 == "33123456789"
    assert normalise("+33 1 23 45 67 89", france).e164 == "33123456789"
    assert normalise("0084912345678", france).e164 == "84912345678"
    nanp = NumberingConfig(country_code="1", national_prefix="1",
                           international_prefix="011", national_number_lengths=(10,))
    assert normalise("1 (415) 555-2671", nanp).e164 == "14155552671"
    assert normalise("415-555-2671", nanp).e164 == "14155552671"
    assert normalise("011 84 912 345 678", nanp).e164 == "84912345678"


def test_no_trunk_prefix_plan() -> None:
    plan = NumberingConfig(country_code="45", national_prefix="", international_prefix="00",
                           national_number_lengths=(8,))
    assert normalise("12345678", plan).e164 == "4512345678"
    assert normalise("+45 12 34 56 78", plan).e164 == "4512345678"


@pytest.mark.parametrize(("e164", "number_class", "basis"), [
    ("84912345678", CalleeClass.ON_NET, "prefix 8491"),
    ("84942345678", CalleeClass.ON_NET, "prefix 8494"),
    ("84882345678", CalleeClass.ON_NET, "prefix 8488"),
    ("84982345678", CalleeClass.OFF_NET, "no on-net prefix"),
    ("84372345678", CalleeClass.OFF_NET, "no on-net prefix"),
    ("842437654321", CalleeClass.OFF_NET, "no on-net prefix"),
    ("14155552671", CalleeClass.INTERNATIONAL, "country code"),
    ("8613800138000", CalleeClass.INTERNATIONAL, "country code"),
    ("8562012345678", CalleeClass.INTERNATIONAL, "country code"),  # Laos, not 84
])
def test_classify_by_prefix(e164: str, number_class: CalleeClass, basis: str) -> None:
    result = classify(e164, VN)
    assert result.number_class is number_class
    assert result.basis == basis


PORTED = MappingPortability({
    "84982345678": "ported_in",    # a Viettel range number that moved to us
    "84912222222": "ported_out",   # one of our numbers that left
    "14155552671": "ported_in",    # nonsense for a foreign number: ignored
})


@pytest.mark.parametrize(("e164", "number_class", "basis"), [
    ("84982345678", CalleeClass.ON_NET, "ported_in"),
    ("84912222222", CalleeClass.OFF_NET, "ported_out"),
    ("84912345678", CalleeClass.ON_NET, "prefix 8491"),
    ("84982222222", CalleeClass.OFF_NET, "no on-net prefix"),
    ("14155552671", CalleeClass.INTERNATIONAL, "country code"),
])
def test_portability_wins_over_prefixes(e164: str, number_class: CalleeClass,
                                        basis: str) -> None:
    assert classify(e164, VN, PORTED) == (number_class, basis)


def test_portability_lookup_protocol_is_structural() -> None:
    class Table:
        def __init__(self) -> None:
            self.asked: list[str] = []

        def status(self, e164: str) -> None:
            self.asked.append(e164)
            return None

    table = Table()
    assert classify("84912345678", VN, table).number_class is CalleeClass.ON_NET
    assert classify("14155552671", VN, table).number_class is CalleeClass.INTERNATIONAL
    assert table.asked == ["84912345678"]


def test_normalise_then_classify() -> None:
    raw = "sip:0987654321@ims.example.net;user=phone"
    e164 = normalise(raw, VN).e164
    assert e164 == "84987654321"
    assert classify(e164, VN).number_class is CalleeClass.OFF_NET


def test_display_formats() -> None:
    assert international_format("84912345678") == "+84912345678"
    assert national_format("84912345678", VN) == "0912345678"
    assert national_format("14155552671", VN) == "+14155552671"


# -- configuration -----------------------------------------------------------------------


def test_parse_numbering_defaults_and_prefix_forms() -> None:
    config = parse_numbering(Section({"on_net_prefixes": ["8491", "+8494", "088", "0 81"]},
                                     ("numbering",)))
    assert config.country_code == "84"
    assert config.national_prefix == "0"
    assert config.international_prefix == "00"
    assert config.national_number_lengths == (9, 10)
    assert config.on_net_prefixes == ("8491", "8494", "8488", "8481")
    assert config.accept_bare_national is True


def test_parse_numbering_full() -> None:
    config = parse_numbering(Section({
        "country_code": 1, "national_prefix": "1", "international_prefix": "011",
        "national_number_lengths": [10], "on_net_prefixes": ["1415"],
        "accept_bare_national": False,
    }, ("numbering",)))
    assert config == NumberingConfig("1", "1", "011", (10,), ("1415",), False)


@pytest.mark.parametrize(("raw", "message"), [
    ({}, "numbering.on_net_prefixes: is required"),
    ({"on_net_prefixes": ["91"]}, "numbering.on_net_prefixes[0]: '91' is not a prefix"),
    ({"on_net_prefixes": ["+1415"]}, "numbering.on_net_prefixes[0]:"),
    ({"on_net_prefixes": ["84a"]}, "numbering.on_net_prefixes[0]:"),
    ({"on_net_prefixes": [8491]}, "numbering.on_net_prefixes[0]: must be a non-empty"),
    ({"on_net_prefixes": ["8491"], "country_code": "084"}, "numbering.country_code:"),
    ({"on_net_prefixes": ["8491"], "country_code": "8484"}, "numbering.country_code:"),
    ({"on_net_prefixes": ["8491"], "international_prefix": 0},
     "numbering.international_prefix: must be a quoted string"),
    ({"on_net_prefixes": ["8491"], "international_prefix": ""},
     "numbering.international_prefix: must not be empty"),
    ({"on_net_prefixes": ["8491"], "international_prefix": "0"},
     "numbering.international_prefix: must differ"),
    ({"on_net_prefixes": ["8491"], "national_prefix": "x"},
     "numbering.national_prefix: must be digits"),
    ({"on_net_prefixes": ["8491"], "national_number_lengths": []},
     "numbering.national_number_lengths: must name"),
    ({"on_net_prefixes": ["8491"], "national_number_lengths": [9, 20]},
     "numbering.national_number_lengths[1]: must be 4..13"),
    ({"on_net_prefixes": ["8491"], "colour": "blue"}, "numbering.colour: unknown setting"),
])
def test_parse_numbering_errors_name_the_path(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_numbering(Section(raw, ("numbering",)))
    assert str(caught.value).startswith(message)
