from __future__ import annotations

from pathlib import Path

import pytest

from interceptor.diameter.dictionary import (
    Dictionary,
    DictionaryError,
    PathError,
    default_dictionary_files,
    load_dictionary,
    register_with_python_diameter,
    shipped_dictionary_dir,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_VENDOR = REPO / "dictionaries" / "examples" / "example-vendor.xml"
TGPP = 10415


@pytest.fixture(scope="module")
def shipped() -> Dictionary:
    return load_dictionary()


def test_shipped_folder_is_found_and_examples_are_not_loaded_by_default() -> None:
    assert shipped_dictionary_dir() == REPO / "dictionaries"
    names = [path.name for path in default_dictionary_files()]
    assert names == ["rfc6733-base.xml", "rfc8506-dcca.xml", "tgpp-ts32299.xml"]


@pytest.mark.parametrize(("name", "code", "vendor_id", "kind"), [
    ("Session-Id", 263, 0, "UTF8String"),
    ("Origin-Host", 264, 0, "DiameterIdentity"),
    ("Origin-Realm", 296, 0, "DiameterIdentity"),
    ("Destination-Host", 293, 0, "DiameterIdentity"),
    ("Destination-Realm", 283, 0, "DiameterIdentity"),
    ("Result-Code", 268, 0, "Unsigned32"),
    ("Experimental-Result", 297, 0, "Grouped"),
    ("Experimental-Result-Code", 298, 0, "Unsigned32"),
    ("Route-Record", 282, 0, "DiameterIdentity"),
    ("Proxy-Info", 284, 0, "Grouped"),
    ("Auth-Application-Id", 258, 0, "Unsigned32"),
    ("Service-Context-Id", 461, 0, "UTF8String"),
    ("CC-Request-Type", 416, 0, "Enumerated"),
    ("CC-Request-Number", 415, 0, "Unsigned32"),
    ("Subscription-Id", 443, 0, "Grouped"),
    ("Subscription-Id-Type", 450, 0, "Enumerated"),
    ("Subscription-Id-Data", 444, 0, "UTF8String"),
    ("Multiple-Services-Credit-Control", 456, 0, "Grouped"),
    ("Requested-Service-Unit", 437, 0, "Grouped"),
    ("Granted-Service-Unit", 431, 0, "Grouped"),
    ("Used-Service-Unit", 446, 0, "Grouped"),
    ("CC-Time", 420, 0, "Unsigned32"),
    ("Rating-Group", 432, 0, "Unsigned32"),
    ("Service-Identifier", 439, 0, "Unsigned32"),
    ("User-Equipment-Info", 458, 0, "Grouped"),
    ("Service-Information", 873, TGPP, "Grouped"),
    ("IMS-Information", 876, TGPP, "Grouped"),
    ("Calling-Party-Address", 831, TGPP, "UTF8String"),
    ("Called-Party-Address", 832, TGPP, "UTF8String"),
    ("Requested-Party-Address", 1251, TGPP, "UTF8String"),
    ("Node-Functionality", 862, TGPP, "Enumerated"),
    ("Role-of-Node", 829, TGPP, "Enumerated"),
    ("MMTel-Information", 2030, TGPP, "Grouped"),
    ("Subscriber-Role", 2033, TGPP, "Enumerated"),
])
def test_shipped_definitions(shipped: Dictionary, name: str, code: int, vendor_id: int,
                             kind: str) -> None:
    definition = shipped.get(name)
    assert (definition.name, definition.code, definition.vendor_id, definition.kind) == \
        (name, code, vendor_id, kind)
    assert shipped.by_code(code, vendor_id) is definition


def test_shipped_definitions_agree_with_python_diameter(shipped: Dictionary) -> None:
    from diameter.message.avp.avp import get_avp_dictionary_entry

    disagreements = []
    for definition in shipped:
        entry = get_avp_dictionary_entry(definition.code, definition.vendor_id)
        if entry is not None and entry["name"].casefold() != definition.name.casefold():
            disagreements.append((definition.name, entry["name"]))
    # python-diameter prefixes these two with "3GPP-"; TS 32.299 does not
    assert dict(disagreements) == {"SIP-Method": "3GPP-SIP-Method",
                                   "Reporting-Reason": "3GPP-Reporting-Reason"}


def test_enums_and_children(shipped: Dictionary) -> None:
    kind = shipped.get("Subscription-Id-Type")
    assert kind.enum_value("END_USER_E164") == 0
    assert kind.enum_value("end_user_imsi") == 1
    assert kind.enum_value("NOPE") is None
    assert kind.enum_name(2) == "END_USER_SIP_URI"
    assert shipped.get("Subscription-Id").children == ("Subscription-Id-Type",
                                                       "Subscription-Id-Data")
    mscc = shipped.get("Multiple-Services-Credit-Control")
    assert mscc.has_child("Result-Code")
    assert mscc.has_child("Reporting-Reason")  # 3GPP extension merged in
    assert mscc.source.endswith("rfc8506-dcca.xml:" + mscc.source.rsplit(":", 1)[1])


@pytest.mark.parametrize(("path", "resolved"), [
    ("Service-Information/IMS-Information/Calling-Party-Address",
     ((873, TGPP), (876, TGPP), (831, TGPP))),
    ("service-information/ims-information/called-party-address",
     ((873, TGPP), (876, TGPP), (832, TGPP))),
    (" /Service-Information / IMS-Information / Requested-Party-Address ",
     ((873, TGPP), (876, TGPP), (1251, TGPP))),
    ("Subscription-Id/Subscription-Id-Data", ((443, 0), (444, 0))),
    ("Multiple-Services-Credit-Control/Result-Code", ((456, 0), (268, 0))),
    ("Session-Id", ((263, 0),)),
])
def test_resolve(shipped: Dictionary, path: str, resolved: tuple[tuple[int, int], ...]) -> None:
    assert shipped.resolve(path) == resolved


@pytest.mark.parametrize(("path", "message"), [
    ("Service-Information/Foo", "unknown AVP 'Foo' in dictionaries"),
    ("Service-Information/Calling-Party-Address",
     "'Calling-Party-Address' is not a child of 'Service-Information'"),
    ("Session-Id/Result-Code", "'Session-Id' is not a grouped AVP"),
    ("Service-Information//IMS-Information", "empty AVP name"),
    ("", "empty AVP name"),
])
def test_resolve_errors(shipped: Dictionary, path: str, message: str) -> None:
    with pytest.raises(PathError, match=message):
        shipped.resolve(path)


def test_example_vendor_extends_ims_information() -> None:
    dictionary = load_dictionary(extra=[EXAMPLE_VENDOR])
    assert dictionary.vendors[32473].startswith("Example Networks")
    assert dictionary.resolve(
        "Service-Information/IMS-Information/Example-Call-Info/Example-Dialled-Number") == \
        ((873, TGPP), (876, TGPP), (1001, 32473), (1002, 32473))
    ims = dictionary.get("IMS-Information")
    assert ims.has_child("Called-Party-Address") and ims.has_child("Example-Call-Info")
    assert ims.source.endswith("tgpp-ts32299.xml:" + ims.source.rsplit(":", 1)[1])
    # the same file twice is loaded once
    assert len(load_dictionary(extra=[EXAMPLE_VENDOR, EXAMPLE_VENDOR])) == len(dictionary)


def test_register_with_python_diameter() -> None:
    from diameter.message.avp import Avp

    from interceptor.diameter.traffic import text_avp

    dictionary = load_dictionary(extra=[EXAMPLE_VENDOR])
    registered = register_with_python_diameter(dictionary)
    assert "Example-Dialled-Number" in registered
    assert "Session-Id" not in registered  # python-diameter's own stay untouched
    decoded = Avp.from_bytes(text_avp(1002, 32473, "tel:+84911111111").as_bytes())
    assert decoded.name == "Example-Dialled-Number"
    assert decoded.value == "tel:+84911111111"
    assert register_with_python_diameter(dictionary) == []


# -- broken dictionaries ---------------------------------------------------------------

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<dictionary>\n'
TAIL = "</dictionary>\n"


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(HEAD + body + TAIL, encoding="utf-8")
    return path


@pytest.mark.parametrize(("body", "line", "message"), [
    ('  <avp name="A" code="1">\n    <type type-name="UTF8String">\n  </avp>\n', 5,
     "not well-formed XML: mismatched tag"),
    ('  <avp name="A">\n    <type type-name="UTF8String"/>\n  </avp>\n', 3,
     "<avp> is missing its 'code' attribute"),
    ('  <avp name="A" code="12x">\n    <type type-name="UTF8String"/>\n  </avp>\n', 3,
     "<avp> code='12x' is not a number"),
    ('  <avp name="A" code="4294967296">\n    <type type-name="UTF8String"/>\n  </avp>\n',
     3, "out of range"),
    ('  <avp name="A" code="-1">\n    <type type-name="UTF8String"/>\n  </avp>\n', 3,
     "out of range"),
    ('  <avp code="1">\n    <type type-name="UTF8String"/>\n  </avp>\n', 3,
     "missing its 'name' attribute"),
    ('  <avp name="A/B" code="1">\n    <type type-name="UTF8String"/>\n  </avp>\n', 3,
     "may not contain"),
    ('  <avp name="A" code="1">\n    <type type-name="String"/>\n  </avp>\n', 3,
     "unknown type 'String'"),
    ('  <avp name="A" code="1">\n  </avp>\n', 3, "neither <type> nor <grouped>"),
    ('  <avp name="A" code="1">\n    <type type-name="Grouped"/>\n  </avp>\n', 3,
     "write a grouped AVP as <grouped>"),
    ('  <avp name="A" code="1">\n    <type type-name="UTF8String"/>\n'
     '    <type type-name="UTF8String"/>\n  </avp>\n', 5, "has two types"),
    ('  <avp name="A" code="1">\n    <grouped>\n      <gavp name="Nope"/>\n'
     '    </grouped>\n  </avp>\n', 5, "grouped AVP 'A' lists 'Nope', which no dictionary"),
    ('  <avp name="A" code="1" vendor-id="ACME">\n    <type type-name="UTF8String"/>\n'
     '  </avp>\n', 3, "unknown vendor-id 'ACME'"),
    ('  <avp name="A" code="1">\n    <type type-name="UTF8String"/>\n'
     '    <enum name="X" code="1"/>\n  </avp>\n', 5, "<enum> needs an integer type"),
    ('  <avp name="A" code="1">\n    <type type-name="Enumerated"/>\n'
     '    <enum name="X" code="one"/>\n  </avp>\n', 5, "code='one' is not a number"),
    ('  <avp name="A" code="1" mandatory="always">\n    <type type-name="UTF8String"/>\n'
     '  </avp>\n', 3, "mandatory='always' must be one of"),
    ('  <avp name="A" code="1" vendor-bit="must">\n    <type type-name="UTF8String"/>\n'
     '  </avp>\n', 3, "vendor-bit=\"must\" but no vendor-id"),
    ('  <avp name="A" code="1" vendor-id="99" vendor-bit="mustnot">\n'
     '    <type type-name="UTF8String"/>\n  </avp>\n', 3, "vendor-bit must be \"must\""),
    ('  <avpx name="A" code="1"/>\n', 3, "unexpected element <avpx> in <dictionary>"),
    ('  <avp name="A" code="1">\n    <grouped>\n      <avp name="B"/>\n'
     '    </grouped>\n  </avp>\n', 5, "unexpected element <avp> in <grouped>"),
    ('  <vendor vendor-id="V" code="1"/>\n  <vendor vendor-id="V" code="2"/>\n', 4,
     "vendor 'V' is code 2 here but 1"),
    ('  <typedefn type-name="Loop" type-parent="Loop2"/>\n'
     '  <typedefn type-name="Loop2" type-parent="Loop"/>\n'
     '  <avp name="A" code="1">\n    <type type-name="Loop"/>\n  </avp>\n', 4,
     "type 'Loop' is defined in terms of itself"),
    ('  <avp name="A" code="1">\n    <type type-name="UTF8String"/>\n  </avp>\n'
     '  <avp name="A" code="2">\n    <type type-name="UTF8String"/>\n  </avp>\n', 6,
     "AVP 'A' (code 2, vendor 0, UTF8String) conflicts with its definition at"),
    ('  <avp name="A" code="1">\n    <type type-name="UTF8String"/>\n  </avp>\n'
     '  <avp name="a" code="1">\n    <type type-name="Unsigned32"/>\n  </avp>\n', 6,
     "conflicts with its definition"),
    ('  <avp name="A" code="1">\n    <type type-name="UTF8String"/>\n  </avp>\n'
     '  <avp name="B" code="1">\n    <type type-name="UTF8String"/>\n  </avp>\n', 6,
     "code 1 vendor 0 is already defined as 'A'"),
    ('  <avp name="A" code="1">\n    <type type-name="Enumerated"/>\n'
     '    <enum name="X" code="1"/>\n  </avp>\n'
     '  <avp name="A" code="1">\n    <type type-name="Enumerated"/>\n'
     '    <enum name="X" code="2"/>\n  </avp>\n', 9, "enum 'X' is 2 here but 1"),
])
def test_malformed_dictionary_names_file_and_line(tmp_path: Path, body: str, line: int,
                                                  message: str) -> None:
    path = write(tmp_path, "broken.xml", body)
    with pytest.raises(DictionaryError) as caught:
        load_dictionary([path])
    assert caught.value.file == str(path)
    assert caught.value.line == line
    assert message in caught.value.message
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_conflict_across_files_names_both(tmp_path: Path) -> None:
    path = write(tmp_path, "mine.xml",
                 '  <avp name="Called-Party-Address" code="832" vendor-id="10415">\n'
                 '    <type type-name="Unsigned32"/>\n  </avp>\n')
    with pytest.raises(DictionaryError) as caught:
        load_dictionary(extra=[path])
    assert str(caught.value).startswith(f"{path}:3: ")
    assert "tgpp-ts32299.xml:" in str(caught.value)


def test_entities_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "entity.xml"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE dictionary [\n'
                    '  <!ENTITY lol "lol">\n]>\n<dictionary/>\n', encoding="utf-8")
    with pytest.raises(DictionaryError, match="entity declarations are not supported"):
        load_dictionary([path])


def test_wrong_root_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "root.xml"
    path.write_text("<avps/>\n", encoding="utf-8")
    with pytest.raises(DictionaryError, match="root element must be <dictionary>"):
        load_dictionary([path])
    missing = tmp_path / "missing.xml"
    with pytest.raises(DictionaryError) as caught:
        load_dictionary(extra=[missing])
    assert caught.value.file == str(missing)
    assert "cannot read dictionary file" in str(caught.value)
    with pytest.raises(DictionaryError, match="no dictionary files"):
        load_dictionary([])


def test_compatible_redeclarations_merge(tmp_path: Path) -> None:
    first = write(tmp_path, "a.xml",
                  '  <vendor vendor-id="V" code="7" name="Vee"/>\n'
                  '  <typedefn type-name="MSISDN" type-parent="UTF8String"/>\n'
                  '  <avp name="Group" code="10" vendor-id="V">\n'
                  '    <grouped><gavp name="One"/></grouped>\n  </avp>\n'
                  '  <avp name="One" code="11" vendor-id="V">\n'
                  '    <type type-name="MSISDN"/>\n  </avp>\n'
                  '  <avp name="Kind" code="12" vendor-id="7">\n'
                  '    <type type-name="Enumerated"/><enum name="X" code="1"/>\n  </avp>\n')
    second = write(tmp_path, "b.xml",
                   '  <avp name="Group" code="10" vendor-id="7" vendor-bit="must">\n'
                   '    <grouped><gavp name="Two"/><gavp name="One"/></grouped>\n'
                   '  </avp>\n'
                   '  <avp name="Two" code="13" vendor-id="V">\n'
                   '    <type type-name="OctetString"/>\n  </avp>\n'
                   '  <avp name="Kind" code="12" vendor-id="V">\n'
                   '    <type type-name="Enumerated"/><enum name="Y" code="2"/>\n  </avp>\n'
                   '  <vendor vendor-id="V" code="7" name="Vee"/>\n')
    dictionary = load_dictionary([second, first])  # order does not matter
    assert dictionary.get("Group").children == ("Two", "One")
    assert dictionary.get("One").type_name == "MSISDN"
    assert dictionary.get("One").kind == "UTF8String"
    assert dict(dictionary.get("Kind").enums) == {"X": 1, "Y": 2}
    assert dictionary.resolve("Group/Two") == ((10, 7), (13, 7))
    assert dictionary.vendors == {7: "Vee"}


def test_wireshark_style_file_loads(tmp_path: Path) -> None:
    """Attributes and elements Wireshark files carry are accepted."""
    path = tmp_path / "ws.xml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<dictionary>\n'
        '  <base uri="https://www.rfc-editor.org/rfc/rfc6733">\n'
        '    <typedefn type-name="OctetString"/>\n'
        '    <typedefn type-name="UTF8String" type-parent="OctetString"/>\n'
        '    <command name="Device-Watchdog" code="280" vendor-id="None"/>\n'
        '  </base>\n'
        '  <vendor vendor-id="None" code="0" name="None"/>\n'
        '  <application id="16777238" name="3GPP Gx" uri="http://www.3gpp.org/">\n'
        '    <avp name="Vendor-Thing" code="5000" mandatory="mustnot" may-encrypt="no"\n'
        '         protected="may" vendor-bit="mustnot" vendor-id="None">\n'
        '      <type type-name="UTF8String"/>\n'
        '    </avp>\n'
        '  </application>\n'
        '</dictionary>\n', encoding="utf-8")
    assert load_dictionary([path]).get("Vendor-Thing").code == 5000
