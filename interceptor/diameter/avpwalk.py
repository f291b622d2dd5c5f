"""Tight AVP walks for the detection hot path.

Same wire rules as :func:`interceptor.diameter.codec.iter_avps` (and the same
:class:`AvpLengthError`), but without an object per AVP: an AVP is identified by one int,
``code | vendor_id << 32``, and located by its data offsets. On a realistic CCR this is
about 6x cheaper per AVP than building ``AvpSpan`` objects.

Several configured paths usually share prefixes (``Service-Information/IMS-Information``):
they are merged into a :class:`PathTrie` so that each grouped AVP of a message is walked
at most once per message, collecting only the children some path needs.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

from interceptor.diameter import codec
from interceptor.diameter.codec import AVP_FLAG_VENDOR, AvpLengthError
from interceptor.diameter.paths import AvpPath, Step

_CODE_FLAGS_LENGTH = struct.Struct("!II").unpack_from
_U32 = struct.Struct("!I").unpack_from
_VENDOR_BIT = AVP_FLAG_VENDOR << 24
_LENGTH_MASK = 0xFFFFFF

Span = tuple[int, int]
"""Data of one AVP: [start, end) in the buffer, padding excluded."""
Collected = dict[int, list[Span]]
"""AVP key -> the spans of its occurrences, in message order."""


def collect(data: bytes, start: int, end: int, wanted: frozenset[int],
            wanted_codes: frozenset[int]) -> Collected:
    """The AVPs directly in ``data[start:end]`` whose key is wanted. ``wanted_codes`` (the
    codes of the wanted keys) lets most AVPs be skipped without reading their vendor."""
    found: Collected = {}
    offset = start
    try:
        while offset < end:
            code, flags_length = _CODE_FLAGS_LENGTH(data, offset)
            length = flags_length & _LENGTH_MASK
            data_end = offset + length
            if length < 8 or data_end > end:
                raise AvpLengthError(offset, _bad_length(code, length, offset, end))
            if code in wanted_codes:
                if flags_length & _VENDOR_BIT:
                    if length < 12:
                        raise AvpLengthError(offset, f"AVP {code} length {length} below 12")
                    key = code | (_U32(data, offset + 8)[0] << 32)
                    data_start = offset + 12
                else:
                    key = code
                    data_start = offset + 8
                if key in wanted:
                    spans = found.get(key)
                    if spans is None:
                        found[key] = [(data_start, data_end)]
                    else:
                        spans.append((data_start, data_end))
            offset = (data_end + 3) & -4
    except struct.error:
        raise AvpLengthError(offset, "truncated AVP header") from None
    return found


def first(data: bytes, start: int, end: int, key: int) -> Span | None:
    """The first AVP ``key`` directly in ``data[start:end]`` (AVPs after it unchecked)."""
    wanted_code = key & 0xFFFFFFFF
    offset = start
    try:
        while offset < end:
            code, flags_length = _CODE_FLAGS_LENGTH(data, offset)
            length = flags_length & _LENGTH_MASK
            data_end = offset + length
            if length < 8 or data_end > end:
                raise AvpLengthError(offset, _bad_length(code, length, offset, end))
            if code == wanted_code:
                if flags_length & _VENDOR_BIT:
                    if length < 12:
                        raise AvpLengthError(offset, f"AVP {code} length {length} below 12")
                    if code | (_U32(data, offset + 8)[0] << 32) == key:
                        return offset + 12, data_end
                elif code == key:
                    return offset + 8, data_end
            offset = (data_end + 3) & -4
    except struct.error:
        raise AvpLengthError(offset, "truncated AVP header") from None
    return None


def _bad_length(code: int, length: int, offset: int, end: int) -> str:
    if end - offset < 8:
        return "truncated AVP header"
    if length < 8:
        return f"AVP {code} length {length} below 8"
    return f"AVP {code} length {length} overruns its container"


class PathTrie:
    """The configured paths merged by prefix: at each level, which keys to collect."""

    __slots__ = ("children", "wanted", "wanted_codes")

    def __init__(self, paths: Iterable[AvpPath] = ()) -> None:
        self.children: dict[int, PathTrie] = {}
        self.wanted: frozenset[int] = frozenset()
        self.wanted_codes: frozenset[int] = frozenset()
        for path in paths:
            self._add(path.steps)
        self._index()

    def _index(self) -> None:
        self.wanted_codes = frozenset(key & 0xFFFFFFFF for key in self.wanted)
        for child in self.children.values():
            child._index()

    def _add(self, steps: Sequence[Step]) -> None:
        node = self
        for step in steps:
            node.wanted |= {step.key}
            child = node.children.setdefault(step.key, PathTrie())
            if step.filter_key is not None:
                child.wanted |= {step.filter_key}
            node = child


def resolve(data: bytes, collected: Collected, trie: PathTrie, steps: Sequence[Step],
            index: int, skip_empty: bool, groups: dict[int, Collected]) -> Span | None:
    """Follow ``steps[index:]`` from ``collected`` (what ``trie`` wanted at this level),
    trying every occurrence in order; the first leaf reached wins.

    ``groups`` caches the collected children of grouped AVPs by their data offset, for
    the other paths of the same message. Raises AvpLengthError on a malformed group.
    """
    step = steps[index]
    spans = collected.get(step.key)
    if not spans:
        return None
    node = trie.children[step.key]
    last = index == len(steps) - 1
    filter_key = step.filter_key
    for span in spans:
        inner: Collected | None = None
        if filter_key is not None or not last:
            inner = groups.get(span[0])
            if inner is None:
                inner = collect(data, span[0], span[1], node.wanted, node.wanted_codes)
                groups[span[0]] = inner
            if filter_key is not None:
                matches = inner.get(filter_key)
                if not matches or data[matches[0][0]:matches[0][1]] != step.filter_value:
                    continue
        if last:
            if skip_empty and span[0] == span[1]:
                continue
            return span
        assert inner is not None
        found = resolve(data, inner, node, steps, index + 1, skip_empty, groups)
        if found is not None:
            return found
    return None


_IMS_CHARGING_IDENTIFIER_PATH = ((873, 10415), (876, 10415), (841, 10415))


def ims_charging_identifier(request: bytes) -> bytes | None:
    """Service-Information/IMS-Information/IMS-Charging-Identifier, if present."""
    start, end = codec.HEADER_LENGTH, len(request)
    try:
        for code, vendor in _IMS_CHARGING_IDENTIFIER_PATH:
            span = codec.find_avp(request, code, vendor, start, end)
            if span is None:
                return None
            start, end = span.data_start, span.data_end
    except codec.AvpLengthError:
        return None
    return request[start:end]
