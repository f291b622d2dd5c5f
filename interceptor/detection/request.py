"""Which relayed CCRs are voice call attempts, and who calls whom.

Runs on the relay hot path for every request: raw bytes in, no I/O, no exception out.
A CCR is a candidate when it is a Credit-Control *request*, CC-Request-Type is INITIAL
or EVENT, its Service-Context-Id is a configured voice context, and no ``exclude_when``
condition holds. For data (Gy) traffic the walk stops at the Service-Context-Id.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import NamedTuple

from interceptor.core.avps import (
    AVP_CC_REQUEST_TYPE,
    AVP_FLAG_VENDOR,
    AVP_SERVICE_CONTEXT_ID,
    AVP_SESSION_ID,
    CC_EVENT,
    CC_INITIAL,
    CMD_CREDIT_CONTROL,
    FLAG_REQUEST,
    HEADER_LENGTH,
)
from interceptor.detection.config import DetectionConfig
from interceptor.diameter.avpwalk import Collected, PathTrie, Span, resolve
from interceptor.diameter.codec import AvpLengthError
from interceptor.diameter.dictionary import Dictionary
from interceptor.diameter.paths import (
    AvpPath,
    Condition,
    compile_condition,
    compile_value_path,
)

_CREDIT_CONTROL_COMMAND = CMD_CREDIT_CONTROL.to_bytes(3, "big")  # the header's 3 bytes
_INITIAL = struct.pack("!I", CC_INITIAL)
_EVENT = struct.pack("!I", CC_EVENT)

_CODE_FLAGS_LENGTH = struct.Struct("!II").unpack_from
_U32 = struct.Struct("!I").unpack_from
_VENDOR_BIT = AVP_FLAG_VENDOR << 24


class CallContext(NamedTuple):
    """What a candidate CCR says about the call. Values are raw (URIs as sent):
    normalise them with :mod:`interceptor.numbers` off the hot path.

    ``caller_raw``/``callee_raw`` are None when no configured path had a value;
    ``problem`` says why when a malformed grouped AVP got in the way.
    """

    session_id: str | None
    caller_raw: str | None
    callee_raw: str | None
    service_context: str
    request_type: int
    problem: str | None = None

    @property
    def complete(self) -> bool:
        return self.caller_raw is not None and self.callee_raw is not None


class CallContextExtractor:
    """Compiled once from the config and dictionary; ``call_context`` per request."""

    def __init__(self, config: DetectionConfig, dictionary: Dictionary) -> None:
        self._contexts = {context.encode("utf-8"): context
                          for context in config.voice_contexts}
        # TS 32.299 7.1.12 allows "<ext>.<MNC>.<MCC>.<release>.32260@3gpp.org" too.
        self._context_suffixes = tuple(b"." + context for context in self._contexts)
        self._caller = tuple(compile_value_path(dictionary, text)
                             for text in config.caller_paths)
        self._callee = tuple(compile_value_path(dictionary, text)
                             for text in config.callee_paths)
        self._exclude = tuple(compile_condition(dictionary, text)
                              for text in config.exclude_when)
        self._trie = PathTrie((*self._caller, *self._callee,
                               *(condition.path for condition in self._exclude)))
        self._interesting_codes = self._trie.wanted_codes | {
            AVP_CC_REQUEST_TYPE, AVP_SERVICE_CONTEXT_ID, AVP_SESSION_ID}

    def call_context(self, message: bytes | bytearray | memoryview) -> CallContext | None:
        """The call this CCR is an attempt of, or None if it is not a candidate."""
        if not isinstance(message, bytes):  # their slices would be unhashable
            message = bytes(message)
        size = len(message)
        if (size < HEADER_LENGTH or not message[4] & FLAG_REQUEST
                or message[5:8] != _CREDIT_CONTROL_COMMAND):
            return None
        end = (message[1] << 16) | (message[2] << 8) | message[3]
        if end < HEADER_LENGTH or end > size:
            return None
        trie = self._trie
        top_keys = trie.wanted
        interesting = self._interesting_codes
        spans: Collected = {}
        session: Span | None = None
        request_type = 0
        context: str | None = None
        offset = HEADER_LENGTH
        try:
            while offset < end:
                code, flags_length = _CODE_FLAGS_LENGTH(message, offset)
                length = flags_length & 0xFFFFFF
                data_end = offset + length
                if length < 8 or data_end > end:
                    return None
                if code in interesting:
                    if flags_length & _VENDOR_BIT:
                        if length < 12:
                            return None
                        data_start = offset + 12
                        key = code | (_U32(message, offset + 8)[0] << 32)
                    else:
                        data_start = offset + 8
                        key = code
                        if code == AVP_CC_REQUEST_TYPE:
                            value = message[data_start:data_end]
                            if value == _INITIAL:
                                request_type = CC_INITIAL
                            elif value == _EVENT:
                                request_type = CC_EVENT
                            else:
                                return None
                        elif code == AVP_SERVICE_CONTEXT_ID:
                            context = self._voice_context(message[data_start:data_end])
                            if context is None:
                                return None
                        elif code == AVP_SESSION_ID and session is None:
                            session = (data_start, data_end)
                    if key in top_keys:
                        found = spans.get(key)
                        if found is None:
                            spans[key] = [(data_start, data_end)]
                        else:
                            found.append((data_start, data_end))
                offset = (data_end + 3) & -4
        except struct.error:  # an AVP header cut by the end of the buffer
            return None
        if not request_type or context is None:
            return None
        groups: dict[int, Collected] = {}
        for condition in self._exclude:
            if _holds(message, spans, trie, condition, groups):
                return None
        caller, caller_problem = _first_value(message, spans, trie, self._caller, groups)
        callee, callee_problem = _first_value(message, spans, trie, self._callee, groups)
        return CallContext(
            session_id=_text(message, session) if session is not None else None,
            caller_raw=caller,
            callee_raw=callee,
            service_context=context,
            request_type=request_type,
            problem=caller_problem or callee_problem,
        )

    def _voice_context(self, value: bytes) -> str | None:
        context = self._contexts.get(value)
        if context is None and value.endswith(self._context_suffixes):
            context = value.decode("utf-8", "replace")
        return context


def _text(message: bytes, span: Span) -> str:
    return message[span[0]:span[1]].decode("utf-8", "replace")


def _first_value(message: bytes, spans: Collected, trie: PathTrie,
                 paths: Sequence[AvpPath],
                 groups: dict[int, Collected]) -> tuple[str | None, str | None]:
    problem = None
    for path in paths:
        try:
            found = resolve(message, spans, trie, path.steps, 0, True, groups)
        except AvpLengthError as error:
            problem = problem or f"{path.steps[0].name}: {error.reason}"
            continue
        if found is not None:
            return _text(message, found), problem
    return None, problem


def _holds(message: bytes, spans: Collected, trie: PathTrie, condition: Condition,
           groups: dict[int, Collected]) -> bool:
    try:
        found = resolve(message, spans, trie, condition.path.steps, 0, False, groups)
    except AvpLengthError:
        return False
    return found is not None and message[found[0]:found[1]] == condition.value
