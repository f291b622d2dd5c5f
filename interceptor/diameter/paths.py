"""AVP paths written in the configuration, compiled against a Dictionary.

Syntax (names are AVP names from the dictionaries, case-insensitive)::

    Service-Information/IMS-Information/Called-Party-Address
    Subscription-Id[Subscription-Id-Type=END_USER_E164]/Subscription-Id-Data
    Service-Information/IMS-Information/Role-of-Node=TERMINATING_ROLE      (a condition)

A step may carry one ``[Child=value]`` filter: only occurrences of that grouped AVP whose
first ``Child`` equals ``value`` are followed. A condition is a path plus ``=value``.
Values are integers or enumerated names for integer AVPs, and plain text for text AVPs.

The first step is a top-level AVP of the message; each further step must be listed as a
child of the previous one in the dictionaries, so typos fail at startup, not in traffic.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from interceptor.diameter.dictionary import (
    INTEGER_KINDS,
    TEXT_KINDS,
    AvpDefinition,
    Dictionary,
    PathError,
)


def avp_key(code: int, vendor_id: int) -> int:
    """One int per (code, vendor id), as the scanners compute it from the wire."""
    return code | (vendor_id << 32)


@dataclass(frozen=True, slots=True)
class Step:
    key: int
    name: str
    filter_key: int | None = None
    filter_value: bytes = b""


@dataclass(frozen=True, slots=True)
class AvpPath:
    text: str
    steps: tuple[Step, ...]
    leaf: AvpDefinition

    @property
    def top_key(self) -> int:
        return self.steps[0].key


@dataclass(frozen=True, slots=True)
class Condition:
    text: str
    path: AvpPath
    value: bytes


def compile_path(dictionary: Dictionary, text: str) -> AvpPath:
    """A path to a value; raises PathError with a message fit for a ConfigError."""
    segments = _split(text)
    names: list[str] = []
    filters: list[tuple[str, str] | None] = []
    for segment in segments:
        name, filter_ = _parse_segment(segment, text)
        names.append(name)
        filters.append(filter_)
    definitions = dictionary.walk(names)
    steps = []
    for definition, filter_ in zip(definitions, filters, strict=True):
        if filter_ is None:
            steps.append(Step(avp_key(definition.code, definition.vendor_id),
                              definition.name))
            continue
        child = dictionary.child(definition, filter_[0])
        steps.append(Step(avp_key(definition.code, definition.vendor_id), definition.name,
                          avp_key(child.code, child.vendor_id),
                          encode_value(child, filter_[1])))
    return AvpPath(text, tuple(steps), definitions[-1])


def compile_value_path(dictionary: Dictionary, text: str) -> AvpPath:
    """A path whose value is a number or URI: it must end at a text AVP."""
    path = compile_path(dictionary, text)
    if path.leaf.kind not in TEXT_KINDS:
        raise PathError(f"{path.leaf.name!r} is a {path.leaf.type_name} AVP; a number "
                        f"path must end at a text AVP (UTF8String, OctetString, ...)")
    return path


def compile_condition(dictionary: Dictionary, text: str) -> Condition:
    """``path=value``: holds when the first AVP the path reaches has that value."""
    depth = 0
    split_at = -1
    for index, character in enumerate(text):
        if character == "[":
            depth += 1
        elif character == "]":
            depth -= 1
        elif character == "=" and depth == 0:
            split_at = index
    if split_at < 0:
        raise PathError(f"condition {text!r} must read path=value")
    path = compile_path(dictionary, text[:split_at])
    return Condition(text, path, encode_value(path.leaf, text[split_at + 1:].strip()))


def encode_value(definition: AvpDefinition, text: str) -> bytes:
    """The wire bytes of ``text`` as a value of ``definition``."""
    if definition.kind in INTEGER_KINDS:
        value = definition.enum_value(text)
        if value is None:
            try:
                value = int(text, 10)
            except ValueError:
                known = ", ".join(name for name, _ in definition.enums)
                hint = f" (known: {known})" if known else ""
                raise PathError(f"{text!r} is not a value of {definition.name!r}"
                                f"{hint}") from None
        try:
            return struct.pack(INTEGER_KINDS[definition.kind], value)
        except struct.error:
            raise PathError(f"{value} is out of range for {definition.name!r} "
                            f"({definition.type_name})") from None
    if definition.kind in TEXT_KINDS:
        if not text:
            raise PathError(f"empty value for {definition.name!r}")
        return text.encode("utf-8")
    raise PathError(f"cannot compare values of {definition.name!r} "
                    f"({definition.type_name})")


def _split(text: str) -> list[str]:
    """Split on '/' outside brackets."""
    segments: list[str] = []
    current = ""
    depth = 0
    for character in text.strip().lstrip("/"):
        if character == "[":
            depth += 1
        elif character == "]":
            depth -= 1
            if depth < 0:
                raise PathError(f"unbalanced ']' in {text!r}")
        if character == "/" and depth == 0:
            segments.append(current)
            current = ""
        else:
            current += character
    if depth:
        raise PathError(f"unbalanced '[' in {text!r}")
    segments.append(current)
    if any(not segment.strip() for segment in segments):
        raise PathError(f"empty AVP name in path {text!r}")
    return [segment.strip() for segment in segments]


def _parse_segment(segment: str, text: str) -> tuple[str, tuple[str, str] | None]:
    if "[" not in segment:
        if "]" in segment or "=" in segment:
            raise PathError(f"bad step {segment!r} in {text!r}")
        return segment, None
    name, _, rest = segment.partition("[")
    if not rest.endswith("]") or "[" in rest:
        raise PathError(f"bad filter in step {segment!r} of {text!r} (write "
                        f"Name[Child=value])")
    child, equals, value = rest[:-1].partition("=")
    if not equals or not child.strip() or not value.strip() or not name.strip():
        raise PathError(f"bad filter in step {segment!r} of {text!r} (write "
                        f"Name[Child=value])")
    return name.strip(), (child.strip(), value.strip())
