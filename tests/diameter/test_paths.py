from __future__ import annotations

import struct

import pytest

from interceptor.diameter.dictionary import Dictionary, PathError, load_dictionary
from interceptor.diameter.paths import (
    avp_key,
    compile_condition,
    compile_path,
    compile_value_path,
)


@pytest.fixture(scope="module")
def dictionary() -> Dictionary:
    return load_dictionary()


def test_plain_path(dictionary: Dictionary) -> None:
    path = compile_value_path(dictionary,
                              "Service-Information/IMS-Information/Called-Party-Address")
    assert [step.key for step in path.steps] == [
        avp_key(873, 10415), avp_key(876, 10415), avp_key(832, 10415)]
    assert all(step.filter_key is None for step in path.steps)
    assert path.leaf.name == "Called-Party-Address"
    assert path.top_key == 873 | 10415 << 32


@pytest.mark.parametrize(("text", "value"), [
    ("Subscription-Id[Subscription-Id-Type=END_USER_E164]/Subscription-Id-Data", 0),
    ("Subscription-Id[ subscription-id-type = end_user_sip_uri ]/Subscription-Id-Data", 2),
    ("Subscription-Id[Subscription-Id-Type=4]/Subscription-Id-Data", 4),
])
def test_filters(dictionary: Dictionary, text: str, value: int) -> None:
    path = compile_value_path(dictionary, text)
    assert path.steps[0].filter_key == 450
    assert path.steps[0].filter_value == struct.pack("!i", value)
    assert path.steps[1].filter_key is None


def test_text_filter_and_conditions(dictionary: Dictionary) -> None:
    path = compile_path(dictionary, "Subscription-Id[Subscription-Id-Data=84912345678]"
                                    "/Subscription-Id-Type")
    assert path.steps[0].filter_value == b"84912345678"
    condition = compile_condition(
        dictionary, "Service-Information/IMS-Information/Role-of-Node = TERMINATING_ROLE")
    assert condition.value == struct.pack("!i", 1)
    condition = compile_condition(dictionary, "CC-Request-Number=4294967295")
    assert condition.value == b"\xff\xff\xff\xff"
    condition = compile_condition(
        dictionary, "Subscription-Id[Subscription-Id-Type=0]/Subscription-Id-Data=8491")
    assert condition.value == b"8491"


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty AVP name"),
    ("Service-Information//IMS-Information", "empty AVP name"),
    ("Subscription-Id[Subscription-Id-Type]/Subscription-Id-Data", "bad filter"),
    ("Subscription-Id[=0]/Subscription-Id-Data", "bad filter"),
    ("Subscription-Id[Subscription-Id-Type=0][x=1]/Subscription-Id-Data", "bad filter"),
    ("Subscription-Id]/Subscription-Id-Data", "unbalanced ']'"),
    ("Subscription-Id=1/Subscription-Id-Data", "bad step"),
    ("Subscription-Id[Session-Id=1]/Subscription-Id-Data",
     "'Session-Id' is not a child of 'Subscription-Id'"),
    ("Subscription-Id[Subscription-Id-Type=-1]/Subscription-Id-Data", None),
    ("Session-Id[Result-Code=1]", "'Session-Id' is not a grouped AVP"),
    ("CC-Request-Number", "must end at a text AVP"),
    ("Subscription-Id/Subscription-Id-Type", "must end at a text AVP"),
])
def test_value_path_errors(dictionary: Dictionary, text: str, message: str | None) -> None:
    if message is None:  # negative enum codes are valid Integer32 values
        compile_value_path(dictionary, text)
        return
    with pytest.raises(PathError, match=message.replace("[", r"\[").replace("]", r"\]")):
        compile_value_path(dictionary, text)


@pytest.mark.parametrize(("text", "message"), [
    ("Service-Information/IMS-Information/Role-of-Node", "must read path=value"),
    ("Service-Information/IMS-Information/Called-Party-Address=", "empty value"),
    ("Service-Information/IMS-Information/Role-of-Node=2147483648", "out of range"),
    ("Service-Information=1", "cannot compare values of 'Service-Information'"),
])
def test_condition_errors(dictionary: Dictionary, text: str, message: str) -> None:
    with pytest.raises(PathError, match=message):
        compile_condition(dictionary, text)
