"""AVP dictionaries: Wireshark-format XML files loaded into a typed, read-only Dictionary.

The interceptor names AVPs in its configuration (``Service-Information/IMS-Information/
Called-Party-Address``); the files in ``dictionaries/`` say what those names mean. The
format is the one Wireshark's Diameter dissector reads (documented in
``dictionaries/README.md``), so a vendor's Wireshark dictionary can be reused as it is.

A broken file is a startup error: :class:`DictionaryError` names the file and the line.
Nothing here is global: :func:`load_dictionary` returns a :class:`Dictionary` the caller
passes around. The one exception is the explicit, optional
:func:`register_with_python_diameter`, which teaches python-diameter's debug decoder the
names of vendor AVPs it does not know.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

logger = logging.getLogger(__name__)

GROUPED = "Grouped"

# Type name -> kind (the built-in type it is encoded as). Names as Wireshark spells them.
BUILTIN_TYPES: Mapping[str, str] = {
    "OctetString": "OctetString",
    "UTF8String": "UTF8String",
    "DiameterIdentity": "DiameterIdentity",
    "DiameterURI": "DiameterURI",
    "Address": "Address",
    "IPAddress": "Address",
    "Time": "Time",
    "IPFilterRule": "IPFilterRule",
    "QoSFilterRule": "QoSFilterRule",
    "MIPRegistrationRequest": "OctetString",
    "Integer32": "Integer32",
    "Integer64": "Integer64",
    "Unsigned32": "Unsigned32",
    "Unsigned64": "Unsigned64",
    "Float32": "Float32",
    "Float64": "Float64",
    "Enumerated": "Enumerated",
    "AppId": "Unsigned32",
    "VendorId": "Unsigned32",
    GROUPED: GROUPED,
}

TEXT_KINDS = frozenset({"OctetString", "UTF8String", "DiameterIdentity", "DiameterURI"})
"""Kinds whose value is a string of bytes that may hold a number or a URI."""

INTEGER_KINDS: Mapping[str, str] = {
    "Integer32": "!i", "Enumerated": "!i", "Unsigned32": "!I",
    "Integer64": "!q", "Unsigned64": "!Q",
}
"""Integer kinds and their struct format on the wire."""

FLAG_RULES = frozenset({"must", "may", "mustnot", "shouldnot"})
_NO_VENDOR = frozenset({"", "none", "0"})
_PATH_CHARACTERS = frozenset("/[]=")
_CONTAINERS = frozenset({"dictionary", "base", "application"})
_IGNORED = frozenset({"command"})


class DictionaryError(Exception):
    """A dictionary file is unreadable or wrong. ``str()`` reads ``file:line: message``."""

    def __init__(self, message: str, file: str | Path | None = None,
                 line: int | None = None) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "<dictionary>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


class PathError(ValueError):
    """An AVP path names an AVP no dictionary defines, or one its parent cannot contain."""


@dataclass(frozen=True, slots=True)
class AvpDefinition:
    """One AVP as the dictionaries define it."""

    name: str
    code: int
    vendor_id: int
    type_name: str
    kind: str
    children: tuple[str, ...] = ()
    enums: tuple[tuple[str, int], ...] = ()
    mandatory: str | None = None
    vendor_bit: str | None = None
    source: str = ""

    @property
    def is_grouped(self) -> bool:
        return self.kind == GROUPED

    @property
    def key(self) -> tuple[int, int]:
        return (self.code, self.vendor_id)

    def enum_value(self, name: str) -> int | None:
        """The code of an enumerated value by its name (case-insensitive), or None."""
        folded = name.casefold()
        for enum_name, value in self.enums:
            if enum_name.casefold() == folded:
                return value
        return None

    def enum_name(self, value: int) -> str | None:
        for enum_name, enum_value in self.enums:
            if enum_value == value:
                return enum_name
        return None

    def has_child(self, name: str) -> bool:
        folded = name.casefold()
        return any(child.casefold() == folded for child in self.children)


class Dictionary:
    """AVP definitions by name and by (code, vendor id). Read-only once built."""

    def __init__(self, definitions: Iterable[AvpDefinition],
                 vendors: Mapping[int, str] | None = None,
                 files: Sequence[Path] = ()) -> None:
        self._by_name: dict[str, AvpDefinition] = {}
        self._by_code: dict[tuple[int, int], AvpDefinition] = {}
        for definition in definitions:
            folded = definition.name.casefold()
            if folded in self._by_name or definition.key in self._by_code:
                raise DictionaryError(f"AVP {definition.name!r} is defined twice",
                                      definition.source or None)
            self._by_name[folded] = definition
            self._by_code[definition.key] = definition
        self.vendors: Mapping[int, str] = dict(vendors or {})
        self.files: tuple[Path, ...] = tuple(files)

    def __len__(self) -> int:
        return len(self._by_name)

    def __iter__(self) -> Iterator[AvpDefinition]:
        return iter(self._by_name.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.casefold() in self._by_name

    def find(self, name: str) -> AvpDefinition | None:
        return self._by_name.get(name.strip().casefold())

    def get(self, name: str) -> AvpDefinition:
        definition = self.find(name)
        if definition is None:
            raise PathError(f"unknown AVP {name.strip()!r} in dictionaries")
        return definition

    def by_code(self, code: int, vendor_id: int = 0) -> AvpDefinition | None:
        return self._by_code.get((code, vendor_id))

    def child(self, parent: AvpDefinition, name: str) -> AvpDefinition:
        """``name`` as a child of ``parent``: defined, and listed in the parent's group."""
        definition = self.get(name)
        if not parent.is_grouped:
            raise PathError(f"{parent.name!r} is not a grouped AVP, so it cannot contain "
                            f"{definition.name!r}")
        if not parent.has_child(definition.name):
            raise PathError(f"{definition.name!r} is not a child of {parent.name!r} in "
                            f"dictionaries (add <gavp name=\"{definition.name}\"/> to "
                            f"{parent.name!r} in a dictionary file)")
        return definition

    def walk(self, names: Sequence[str]) -> tuple[AvpDefinition, ...]:
        """The definitions along a path given as names, top-level AVP first."""
        if not names:
            raise PathError("empty AVP path")
        steps = [self.get(names[0])]
        for name in names[1:]:
            steps.append(self.child(steps[-1], name))
        return tuple(steps)

    def resolve(self, path: str) -> tuple[tuple[int, int], ...]:
        """``"Service-Information/IMS-Information/Calling-Party-Address"`` to
        ``((873, 10415), (876, 10415), (831, 10415))``."""
        return tuple(step.key for step in self.walk(split_path(path)))


def split_path(path: str) -> list[str]:
    """``"A/B/C"`` to ``["A", "B", "C"]``; a leading '/' and spaces are tolerated."""
    names = [name.strip() for name in path.strip().lstrip("/").split("/")]
    if any(not name for name in names):
        raise PathError(f"empty AVP name in path {path!r}")
    return names


# ---------------------------------------------------------------------------------------
# Loading


def shipped_dictionary_dir() -> Path:
    """The ``dictionaries/`` folder next to the package (a checkout or editable install),
    else ``<prefix>/share/beepcall/dictionaries`` (an installed wheel's data files)."""
    candidates = (Path(__file__).resolve().parents[2] / "dictionaries",
                  Path(sys.prefix) / "share" / "beepcall" / "dictionaries")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]


def default_dictionary_files(directory: Path | None = None) -> list[Path]:
    """Every ``*.xml`` directly in the shipped folder, in name order."""
    directory = directory or shipped_dictionary_dir()
    return sorted(directory.glob("*.xml"))


def load_dictionary(files: Sequence[str | Path] | None = None, *,
                    extra: Sequence[str | Path] = ()) -> Dictionary:
    """Load ``files`` (default: the shipped dictionaries) and then ``extra`` into one
    Dictionary. Order does not matter: vendors and AVPs may be referred to across files.

    Raises DictionaryError (naming file and line) on any problem.
    """
    paths = [Path(file) for file in (default_dictionary_files() if files is None else files)]
    paths += [Path(file) for file in extra]
    if not paths:
        raise DictionaryError(f"no dictionary files found in {shipped_dictionary_dir()}"
                              if files is None else "no dictionary files given")
    collector = _Collector()
    seen: set[Path] = set()
    for path in paths:
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        collector.read(path, _parse_file(path))
    dictionary = collector.build(paths)
    logger.debug("loaded %d AVP definitions from %s", len(dictionary),
                 ", ".join(str(path) for path in paths))
    return dictionary


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str]
    line: int
    children: list[_Element] = field(default_factory=list)


def _parse_file(path: Path) -> _Element:
    """Parse XML keeping each element's line number (expat reports it as it goes)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DictionaryError(f"cannot read dictionary file: {error.strerror}",
                              path) from None
    parser = expat.ParserCreate()
    stack: list[_Element] = []
    roots: list[_Element] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        element = _Element(tag, attrs, parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(element)
        stack.append(element)

    def end(tag: str) -> None:
        stack.pop()

    def refuse_entity(*args: Any) -> None:
        raise DictionaryError("entity declarations are not supported: one file per "
                              "dictionary, listed in the configuration", path,
                              parser.CurrentLineNumber)

    def refuse_external(*args: Any) -> int:
        raise DictionaryError("external entities are not supported", path,
                              parser.CurrentLineNumber)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_external
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise DictionaryError(f"not well-formed XML: {expat.ErrorString(error.code)} "
                              f"(column {error.offset + 1})", path, error.lineno) from None
    if not roots or roots[0].tag != "dictionary":
        raise DictionaryError("the root element must be <dictionary>", path,
                              roots[0].line if roots else None)
    return roots[0]


@dataclass
class _RawAvp:
    name: str
    code: int
    vendor: str | None
    type_name: str
    children: list[tuple[str, int]]
    enums: list[tuple[str, int, int]]
    mandatory: str | None
    vendor_bit: str | None
    file: Path
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


class _Collector:
    """Gathers vendors, type definitions and AVPs from every file, then checks them."""

    def __init__(self) -> None:
        self.vendor_codes: dict[str, tuple[int, Path, int]] = {}
        self.vendor_names: dict[int, str] = {}
        self.typedefs: dict[str, tuple[str | None, Path, int]] = {}
        self.avps: list[_RawAvp] = []

    # -- reading ------------------------------------------------------------------------

    def read(self, path: Path, root: _Element) -> None:
        self._read_container(path, root)

    def _read_container(self, path: Path, element: _Element) -> None:
        for child in element.children:
            if child.tag in _CONTAINERS:
                self._read_container(path, child)
            elif child.tag == "vendor":
                self._read_vendor(path, child)
            elif child.tag == "typedefn":
                self._read_typedef(path, child)
            elif child.tag == "avp":
                self.avps.append(_read_avp(path, child))
            elif child.tag not in _IGNORED:
                raise DictionaryError(f"unexpected element <{child.tag}> in "
                                      f"<{element.tag}>", path, child.line)

    def _read_vendor(self, path: Path, element: _Element) -> None:
        symbol = _attribute(path, element, "vendor-id")
        code = _number(path, element, "code", 0, 0xFFFFFFFF)
        name = element.attrs.get("name", symbol)
        previous = self.vendor_codes.get(symbol.casefold())
        if previous is not None and previous[0] != code:
            raise DictionaryError(f"vendor {symbol!r} is code {code} here but "
                                  f"{previous[0]} at {previous[1]}:{previous[2]}",
                                  path, element.line)
        self.vendor_codes[symbol.casefold()] = (code, path, element.line)
        self.vendor_names.setdefault(code, name)

    def _read_typedef(self, path: Path, element: _Element) -> None:
        name = _attribute(path, element, "type-name")
        parent = element.attrs.get("type-parent") or None
        if name in BUILTIN_TYPES:
            return  # Wireshark re-declares the built-in hierarchy; nothing to learn
        previous = self.typedefs.get(name)
        if previous is not None and previous[0] != parent:
            raise DictionaryError(f"type {name!r} has parent {parent!r} here but "
                                  f"{previous[0]!r} at {previous[1]}:{previous[2]}",
                                  path, element.line)
        self.typedefs[name] = (parent, path, element.line)

    # -- checking -----------------------------------------------------------------------

    def build(self, files: Sequence[Path]) -> Dictionary:
        merged: dict[str, _Merged] = {}
        by_key: dict[tuple[int, int], _Merged] = {}
        for raw in self.avps:
            vendor_id = self._vendor_id(raw)
            kind = self._kind(raw.type_name, raw.file, raw.line)
            if raw.enums and kind not in INTEGER_KINDS:
                raise DictionaryError(f"AVP {raw.name!r}: <enum> needs an integer type, "
                                      f"not {raw.type_name}", raw.file, raw.enums[0][2])
            if vendor_id and raw.vendor_bit not in (None, "must"):
                raise DictionaryError(f"AVP {raw.name!r} has a vendor-id, so its "
                                      f"vendor-bit must be \"must\"", raw.file, raw.line)
            if not vendor_id and raw.vendor_bit == "must":
                raise DictionaryError(f"AVP {raw.name!r} has vendor-bit=\"must\" but no "
                                      f"vendor-id", raw.file, raw.line)
            existing = merged.get(raw.name.casefold())
            if existing is None:
                clash = by_key.get((raw.code, vendor_id))
                if clash is not None:
                    raise DictionaryError(
                        f"AVP {raw.name!r}: code {raw.code} vendor {vendor_id} is already "
                        f"defined as {clash.first.name!r} at {clash.first.where}",
                        raw.file, raw.line)
                entry = _Merged(raw, vendor_id, kind)
                merged[raw.name.casefold()] = entry
                by_key[(raw.code, vendor_id)] = entry
            else:
                existing.merge(raw, vendor_id, kind)
        for entry in merged.values():
            for child, line in entry.children:
                if child.casefold() not in merged:
                    raise DictionaryError(f"grouped AVP {entry.first.name!r} lists "
                                          f"{child!r}, which no dictionary defines",
                                          entry.child_files[child.casefold()], line)
        return Dictionary((entry.definition(merged) for entry in merged.values()),
                          self.vendor_names, files)

    def _vendor_id(self, raw: _RawAvp) -> int:
        if raw.vendor is None or raw.vendor.casefold() in _NO_VENDOR:
            return 0
        if raw.vendor.isdigit():
            value = int(raw.vendor)
            if value > 0xFFFFFFFF:
                raise DictionaryError(f"AVP {raw.name!r}: vendor-id {raw.vendor} is out of "
                                      f"range", raw.file, raw.line)
            return value
        declared = self.vendor_codes.get(raw.vendor.casefold())
        if declared is None:
            raise DictionaryError(f"AVP {raw.name!r}: unknown vendor-id {raw.vendor!r} "
                                  f"(declare it with <vendor vendor-id=\"{raw.vendor}\" "
                                  f"code=\"...\" name=\"...\"/>)", raw.file, raw.line)
        return declared[0]

    def _kind(self, type_name: str, file: Path, line: int,
              seen: frozenset[str] = frozenset()) -> str:
        kind = BUILTIN_TYPES.get(type_name)
        if kind is not None:
            return kind
        typedef = self.typedefs.get(type_name)
        if typedef is None or typedef[0] is None:
            raise DictionaryError(f"unknown type {type_name!r}", file, line)
        if type_name in seen:
            raise DictionaryError(f"type {type_name!r} is defined in terms of itself",
                                  file, line)
        return self._kind(typedef[0], typedef[1], typedef[2], seen | {type_name})


class _Merged:
    """One AVP name across files: the first definition plus compatible re-declarations."""

    def __init__(self, raw: _RawAvp, vendor_id: int, kind: str) -> None:
        self.first = raw
        self.vendor_id = vendor_id
        self.kind = kind
        self.children: list[tuple[str, int]] = []
        self.child_files: dict[str, Path] = {}
        self.enums: dict[str, int] = {}
        self._add(raw)

    def merge(self, raw: _RawAvp, vendor_id: int, kind: str) -> None:
        if (raw.code, vendor_id, kind) != (self.first.code, self.vendor_id, self.kind):
            raise DictionaryError(
                f"AVP {raw.name!r} (code {raw.code}, vendor {vendor_id}, {raw.type_name}) "
                f"conflicts with its definition at {self.first.where} (code "
                f"{self.first.code}, vendor {self.vendor_id}, {self.first.type_name})",
                raw.file, raw.line)
        self._add(raw)

    def _add(self, raw: _RawAvp) -> None:
        for child, line in raw.children:
            if child.casefold() not in self.child_files:
                self.children.append((child, line))
                self.child_files[child.casefold()] = raw.file
        for name, value, line in raw.enums:
            previous = self.enums.get(name)
            if previous is not None and previous != value:
                raise DictionaryError(f"AVP {raw.name!r}: enum {name!r} is {value} here "
                                      f"but {previous} elsewhere", raw.file, line)
            self.enums[name] = value

    def definition(self, merged: Mapping[str, _Merged]) -> AvpDefinition:
        raw = self.first
        return AvpDefinition(
            name=raw.name,
            code=raw.code,
            vendor_id=self.vendor_id,
            type_name=raw.type_name,
            kind=self.kind,
            children=tuple(merged[child.casefold()].first.name
                           for child, _ in self.children),
            enums=tuple(self.enums.items()),
            mandatory=raw.mandatory,
            vendor_bit=raw.vendor_bit,
            source=raw.where,
        )


def _read_avp(path: Path, element: _Element) -> _RawAvp:
    name = _attribute(path, element, "name")
    if _PATH_CHARACTERS & set(name) or name != name.strip():
        raise DictionaryError(f"AVP name {name!r} may not contain spaces around it or any "
                              f"of / [ ] =", path, element.line)
    code = _number(path, element, "code", 0, 0xFFFFFFFF)
    type_name: str | None = None
    children: list[tuple[str, int]] = []
    enums: list[tuple[str, int, int]] = []
    for child in element.children:
        if child.tag == "type":
            if type_name is not None:
                raise DictionaryError(f"AVP {name!r} has two types", path, child.line)
            type_name = _attribute(path, child, "type-name")
        elif child.tag == "grouped":
            if type_name is not None:
                raise DictionaryError(f"AVP {name!r} has two types", path, child.line)
            type_name = GROUPED
            for gavp in child.children:
                if gavp.tag != "gavp":
                    raise DictionaryError(f"unexpected element <{gavp.tag}> in <grouped>",
                                          path, gavp.line)
                children.append((_attribute(path, gavp, "name"), gavp.line))
        elif child.tag == "enum":
            enums.append((_attribute(path, child, "name"),
                          _number(path, child, "code", -0x8000000000000000,
                                  0xFFFFFFFFFFFFFFFF), child.line))
        else:
            raise DictionaryError(f"unexpected element <{child.tag}> in <avp>", path,
                                  child.line)
    if type_name is None:
        raise DictionaryError(f"AVP {name!r} has neither <type> nor <grouped>", path,
                              element.line)
    if type_name == GROUPED and not any(child.tag == "grouped" for child in element.children):
        raise DictionaryError(f"AVP {name!r}: write a grouped AVP as <grouped>...</grouped>",
                              path, element.line)
    return _RawAvp(
        name=name,
        code=code,
        vendor=element.attrs.get("vendor-id"),
        type_name=type_name,
        children=children,
        enums=enums,
        mandatory=_flag_rule(path, element, "mandatory"),
        vendor_bit=_flag_rule(path, element, "vendor-bit"),
        file=path,
        line=element.line,
    )


def _attribute(path: Path, element: _Element, name: str) -> str:
    value = element.attrs.get(name)
    if value is None or not value.strip():
        raise DictionaryError(f"<{element.tag}> is missing its {name!r} attribute", path,
                              element.line)
    return value.strip()


def _number(path: Path, element: _Element, name: str, low: int, high: int) -> int:
    text = _attribute(path, element, name)
    try:
        value = int(text, 10)
    except ValueError:
        raise DictionaryError(f"<{element.tag}> {name}={text!r} is not a number", path,
                              element.line) from None
    if not low <= value <= high:
        raise DictionaryError(f"<{element.tag}> {name}={text!r} is out of range", path,
                              element.line)
    return value


def _flag_rule(path: Path, element: _Element, name: str) -> str | None:
    value = element.attrs.get(name)
    if value is None:
        return None
    if value not in FLAG_RULES:
        raise DictionaryError(f"<avp> {name}={value!r} must be one of "
                              f"{', '.join(sorted(FLAG_RULES))}", path, element.line)
    return value


# ---------------------------------------------------------------------------------------
# Optional: python-diameter's own (global) dictionary, for debug decoding


def register_with_python_diameter(dictionary: Dictionary) -> list[str]:
    """Teach python-diameter the AVPs it does not know yet, so ``Avp.from_bytes`` and
    message dumps name them. Built-in python-diameter definitions are left alone.

    This mutates python-diameter's module-level dictionary: call it once at startup, and
    only if you want the names in debug output. Returns the names registered.
    """
    from diameter.message.avp import avp as pd_avp

    classes: Mapping[str, Any] = {
        "OctetString": pd_avp.AvpOctetString, "UTF8String": pd_avp.AvpUtf8String,
        "DiameterIdentity": pd_avp.AvpOctetString, "DiameterURI": pd_avp.AvpUtf8String,
        "Address": pd_avp.AvpAddress, "Time": pd_avp.AvpTime,
        "IPFilterRule": pd_avp.AvpOctetString, "QoSFilterRule": pd_avp.AvpOctetString,
        "Integer32": pd_avp.AvpInteger32, "Integer64": pd_avp.AvpInteger64,
        "Unsigned32": pd_avp.AvpUnsigned32, "Unsigned64": pd_avp.AvpUnsigned64,
        "Float32": pd_avp.AvpFloat32, "Float64": pd_avp.AvpFloat64,
        "Enumerated": pd_avp.AvpEnumerated, GROUPED: pd_avp.AvpGrouped,
    }
    registered = []
    for definition in dictionary:
        if pd_avp.get_avp_dictionary_entry(definition.code, definition.vendor_id):
            continue
        pd_avp.register(avp=definition.code, name=definition.name,
                        type_cls=classes[definition.kind],
                        vendor=definition.vendor_id or None,
                        mandatory=definition.mandatory == "must")
        registered.append(definition.name)
    return registered
