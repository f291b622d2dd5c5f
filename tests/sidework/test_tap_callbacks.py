"""The tap's callback checks: nothing extra while nothing is watched; while watching,
only a watched subscriber's successful voice CCR-I and a linked session's CCR-U/T go to
the side work."""

from __future__ import annotations

from interceptor.core.avps import CC_TERMINATE, CONTEXT_GY_DATA, CREDIT_LIMIT_REACHED, SUCCESS
from interceptor.detection.answer import OutOfCreditClassifier
from interceptor.detection.config import DetectionConfig
from interceptor.diameter.avpwalk import subscriber_key, watched_subscriber
from interceptor.diameter.traffic import CallAttempt, cca, ccr, e164
from interceptor.sidework.frames import (
    KIND_CALLBACK_START,
    KIND_CALLBACK_USAGE,
    KIND_OUT_OF_CREDIT,
    FrameReader,
)
from interceptor.sidework.tap import SideWorkTap


class Sink:
    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    def send(self, frame: bytes) -> None:
        self.frames.append(frame)

    def kinds(self) -> list[int]:
        return [event.kind for event in FrameReader().feed(b"".join(self.frames))]


def _peer() -> object:
    class _P:
        name = "cscf.test"
    return _P()


def _call(caller: str, called: str, **kwargs: object) -> bytes:
    return ccr(CallAttempt(kwargs.pop("session", f"s;{caller}"), "cscf.test", "c.test",  # type: ignore[arg-type]
                           "ocs.test", subscription_ids=e164(caller),
                           calling_party_address=f"tel:+{caller}",
                           called_party_address=f"tel:+{called}", **kwargs))  # type: ignore[arg-type]


def _tap() -> tuple[SideWorkTap, Sink]:
    sink = Sink()
    tap = SideWorkTap(OutOfCreditClassifier(DetectionConfig()), sink, lambda: 5.0,
                         voice_contexts=("32260@3gpp.org",))
    return tap, sink


def _relay(tap: SideWorkTap, request: bytes, result: int = SUCCESS) -> None:
    answer = cca(request, "ocs1.test", "ocs.test", result)
    # What the agent does: its own substring test first, when the tap sets one.
    if tap.answer_filter is None or tap.answer_filter in answer:
        tap.answer_relayed(request, answer, _peer(), _peer())  # type: ignore[arg-type]


def test_keys_are_found_loosely_and_exactly() -> None:
    request = _call("84912000002", "84912000001")
    assert subscriber_key(request) == b"912000002"
    assert watched_subscriber(request, {b"912000002"})
    assert not watched_subscriber(request, {b"912000001"})  # the called party is not it


def test_nothing_extra_while_nothing_is_watched() -> None:
    tap, sink = _tap()
    assert tap.answer_filter is not None
    _relay(tap, _call("84912000002", "84912000001"))
    _relay(tap, _call("84912000003", "84912000001"), CREDIT_LIMIT_REACHED)
    assert sink.kinds() == [KIND_OUT_OF_CREDIT]


def test_only_matches_go_to_the_side_work_while_watching() -> None:
    tap, sink = _tap()
    tap.set_watches({"reset": True, "add_keys": ["912000002"], "add_sessions": ["linked;1"]})
    assert tap.answer_filter is None  # every answer comes to the tap now
    _relay(tap, _call("84912000009", "84912000001"))  # not watched
    _relay(tap, _call("84912000002", "84912000001"), CREDIT_LIMIT_REACHED)  # refused
    _relay(tap, _call("84912000002", "84912000001", service_context=CONTEXT_GY_DATA))  # data
    _relay(tap, _call("84912000002", "84912000001", session="other;1",
                      request_type=CC_TERMINATE, used_seconds=5))  # not linked
    assert sink.kinds() == [KIND_OUT_OF_CREDIT]
    _relay(tap, _call("84912000002", "84912000001"))
    _relay(tap, _call("84912000002", "84912000001", session="linked;1",
                      request_type=CC_TERMINATE, used_seconds=42))
    assert sink.kinds() == [KIND_OUT_OF_CREDIT, KIND_CALLBACK_START, KIND_CALLBACK_USAGE]
    assert (tap.counters.callback_starts, tap.counters.callback_usage) == (1, 1)


def test_watch_updates_add_remove_and_reset() -> None:
    tap, _ = _tap()
    tap.set_watches({"add_keys": ["1", "2"], "add_sessions": ["s"]})
    tap.set_watches({"remove_keys": ["1"], "remove_sessions": ["s"]})
    assert (tap.subscribers, tap.sessions) == ({b"2"}, set())
    tap.set_watches({"reset": True})
    assert not tap.subscribers and tap.answer_filter is not None


def test_a_candidates_session_is_followed_before_the_side_work_links_it() -> None:
    """The CCR-Update/Terminate of a callback may arrive before the worker's "add
    session" does: the tap follows the session from the start itself; the worker lets
    it go when the start was not a callback."""
    tap, sink = _tap()
    tap.set_watches({"add_keys": ["912000002"]})
    _relay(tap, _call("84912000002", "84912000001", session="early;1"))
    _relay(tap, _call("84912000002", "84912000001", session="early;1",
                      request_type=CC_TERMINATE, used_seconds=7))
    assert sink.kinds() == [KIND_CALLBACK_START, KIND_CALLBACK_USAGE]
    tap.set_watches({"remove_sessions": ["early;1"]})
    assert tap.sessions == set()
