from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from interceptor.core.section import ConfigError, Section
from interceptor.detection import (
    DEFAULT_CALLEE_PATHS,
    DEFAULT_CALLER_PATHS,
    DEFAULT_EXCLUDE_WHEN,
    DetectionConfig,
    build_detection,
    parse_detection,
)
from interceptor.diameter.traffic import CallAttempt, ccr, grouped_avp, text_avp

REPO = Path(__file__).resolve().parents[2]


def parse(raw: Any, base_dir: Path | None = None) -> DetectionConfig:
    return parse_detection(Section(raw, ("detection",)), base_dir=base_dir)


def test_defaults() -> None:
    config = parse(None)
    assert config == DetectionConfig()
    assert config.voice_contexts == ("32260@3gpp.org", "32275@3gpp.org")
    assert config.out_of_credit_codes == frozenset({4012})
    assert config.caller_paths == DEFAULT_CALLER_PATHS
    assert config.callee_paths == DEFAULT_CALLEE_PATHS
    assert config.exclude_when == DEFAULT_EXCLUDE_WHEN
    assert config.experimental_out_of_credit == ()
    assert config.dictionary_files == ()


def test_everything_configured() -> None:
    config = parse({
        "voice_contexts": ["32260@3gpp.org"],
        "out_of_credit_codes": [4012, 4010],
        "experimental_out_of_credit": [{"vendor_id": 32473, "code": 4012}],
        "dictionary_files": ["dictionaries/examples/example-vendor.xml"],
        "caller_paths": ["Service-Information/IMS-Information/Calling-Party-Address"],
        "callee_paths": [
            "Service-Information/IMS-Information/Example-Call-Info/Example-Dialled-Number",
            "service-information/ims-information/called-party-address",
        ],
        "exclude_when": [],
    }, base_dir=REPO)
    assert config.out_of_credit_codes == frozenset({4010, 4012})
    assert config.experimental_out_of_credit == ((32473, 4012),)
    assert config.dictionary_files == (str(REPO / "dictionaries/examples/example-vendor.xml"),)
    assert config.exclude_when == ()
    detection = build_detection(config)
    message = ccr(CallAttempt(role_of_node=1, ims_extra_avps=[grouped_avp(1001, 32473, [
        text_avp(1002, 32473, "0966666666")])]))
    context = detection.extractor.call_context(message)
    assert context is not None
    assert (context.caller_raw, context.callee_raw) == \
        ("sip:+84912345678@ims.example.net", "0966666666")


@pytest.mark.parametrize(("raw", "message"), [
    ({"callee_paths": ["Service-Information/IMS-Information/Called-Party-Address",
                       "Foo"]},
     "detection.callee_paths[1]: unknown AVP 'Foo' in dictionaries"),
    ({"caller_paths": ["Service-Information/Calling-Party-Address"]},
     "detection.caller_paths[0]: 'Calling-Party-Address' is not a child of "
     "'Service-Information'"),
    ({"caller_paths": ["Subscription-Id[Subscription-Id-Type=E164]/Subscription-Id-Data"]},
     "detection.caller_paths[0]: 'E164' is not a value of 'Subscription-Id-Type' (known: "
     "END_USER_E164"),
    ({"caller_paths": ["Subscription-Id[Subscription-Id-Type=END_USER_E164"]},
     "detection.caller_paths[0]: unbalanced '['"),
    ({"caller_paths": ["Subscription-Id"]},
     "detection.caller_paths[0]: 'Subscription-Id' is a Grouped AVP; a number path"),
    ({"callee_paths": []}, "detection.callee_paths: must name at least one AVP path"),
    ({"callee_paths": "Service-Information/IMS-Information/Nope"},
     "detection.callee_paths[0]: unknown AVP 'Nope'"),
    ({"exclude_when": ["Service-Information/IMS-Information/Role-of-Node"]},
     "detection.exclude_when[0]: condition"),
    ({"exclude_when": ["Service-Information/IMS-Information/Role-of-Node=SIDEWAYS"]},
     "detection.exclude_when[0]: 'SIDEWAYS' is not a value of 'Role-of-Node'"),
    ({"exclude_when": ["Service-Information/IMS-Information/Role-of-Node=99999999999"]},
     "detection.exclude_when[0]: 99999999999 is out of range"),
    ({"exclude_when": ["Event-Timestamp=1"]},
     "detection.exclude_when[0]: cannot compare values of 'Event-Timestamp'"),
    ({"voice_contexts": []}, "detection.voice_contexts: must name at least one"),
    ({"voice_contexts": [""]}, "detection.voice_contexts[0]: must be a non-empty string"),
    ({"out_of_credit_codes": [4012, 4011]},
     "detection.out_of_credit_codes[1]: 4011 DIAMETER_CREDIT_CONTROL_NOT_APPLICABLE"),
    ({"out_of_credit_codes": [2001]},
     "detection.out_of_credit_codes[0]: 2001 is not a failure Result-Code"),
    ({"out_of_credit_codes": []}, "detection.out_of_credit_codes: must name at least one"),
    ({"out_of_credit_codes": ["4012"]}, "detection.out_of_credit_codes[0]: must be an int"),
    ({"experimental_out_of_credit": [{"vendor_id": 10415}]},
     "detection.experimental_out_of_credit[0].code: is required"),
    ({"experimental_out_of_credit": [{"vendor_id": 0, "code": 1}]},
     "detection.experimental_out_of_credit[0].vendor_id: must be 1..4294967295"),
    ({"dictionary_files": ["/nonexistent/x.xml"]},
     "detection.dictionary_files[0]: /nonexistent/x.xml: cannot read dictionary file"),
    ({"colour": "blue"}, "detection.colour: unknown setting"),
])
def test_errors_name_the_config_path(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    assert str(caught.value).startswith(message), str(caught.value)


def test_broken_extra_dictionary_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "vendor.xml").write_text(
        '<dictionary>\n  <avp name="X" code="oops">\n    <type type-name="UTF8String"/>\n'
        '  </avp>\n</dictionary>\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        parse({"dictionary_files": ["vendor.xml"]}, base_dir=tmp_path)
    assert str(caught.value) == (f"detection.dictionary_files[0]: {tmp_path / 'vendor.xml'}"
                                 f":2: <avp> code='oops' is not a number")
