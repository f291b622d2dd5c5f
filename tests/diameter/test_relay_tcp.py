"""The relay over real TCP: CTF -> interceptor -> OCS and back, byte for byte."""

from __future__ import annotations

import struct
from typing import Any

import pytest
import pytest_twisted
from diameter.message import Avp

from interceptor.core import avps
from interceptor.diameter import codec
from interceptor.diameter.traffic import CallAttempt, cca, ccr
from tests.diameter.harness import (
    AGENT_HOST,
    CLIENT_HOST,
    RecordingOcs,
    agent_config,
    connect_client,
    ocs_echo,
    start_agent,
    wait_until,
)

pytestmark = pytest.mark.integration


def _unknown_vendor_nested() -> Avp:
    """A grouped 3GPP AVP with a made-up vendor AVP inside: must survive untouched."""
    unknown = Avp(code=99001, vendor_id=4242, payload=b"opaque\x00\x01")
    unknown.is_mandatory = False
    return Avp.new(873, 10415, value=[Avp.new(874, 10415, value=[unknown])])


def _without_hop_by_hop_and_route_record(relayed: bytes, route_record: bytes) -> bytes:
    assert relayed.endswith(route_record)
    body = relayed[:-len(route_record)]
    length = len(body)
    return struct.pack("!I", (1 << 24) | length) + body[4:12] + b"\0\0\0\0" + body[16:]


@pytest_twisted.inlineCallbacks
def test_ccr_and_cca_relayed_byte_exact() -> Any:
    ocs = RecordingOcs("ocs1.test", ocs_echo("ocs1.test", 2001))
    port = ocs.listen()
    service = start_agent(agent_config([("ocs1.test", port)]))
    try:
        yield wait_until(lambda: service.agent.peers["ocs1.test"].usable)
        client = yield connect_client(service.listening_port)
        request = ccr(CallAttempt("sess;1", CLIENT_HOST, "client.test", "ocs.test",
                                  extra_avps=[_unknown_vendor_nested()]),
                      hop_by_hop=0x1234, end_to_end=0x5678)
        answer = yield client.request(request)

        assert len(ocs.received) == 1
        forwarded = ocs.received[0]
        route_record = codec.encode_avp(avps.AVP_ROUTE_RECORD, CLIENT_HOST.encode())
        # Everything but hop-by-hop and the appended Route-Record is the original.
        original_masked = request[:12] + b"\0\0\0\0" + request[16:]
        assert _without_hop_by_hop_and_route_record(forwarded, route_record) == \
            original_masked
        assert codec.parse_header(forwarded).hop_by_hop != 0x1234
        # The answer the client gets is the OCS's answer with the hop-by-hop restored.
        ocs_answer = cca(forwarded, "ocs1.test", "ocs.test", 2001)
        assert answer == ocs_answer[:12] + struct.pack("!I", 0x1234) + ocs_answer[16:]
        assert codec.parse_header(answer).end_to_end == 0x5678
    finally:
        yield service.stopService()
        yield ocs.port.stopListening()


@pytest_twisted.inlineCallbacks
def test_loop_detected_when_own_identity_in_route_record() -> Any:
    ocs = RecordingOcs("ocs1.test", ocs_echo("ocs1.test"))
    port = ocs.listen()
    service = start_agent(agent_config([("ocs1.test", port)]))
    try:
        yield wait_until(lambda: service.agent.peers["ocs1.test"].usable)
        client = yield connect_client(service.listening_port)
        looped = Avp.new(avps.AVP_ROUTE_RECORD, value=AGENT_HOST.upper().encode())
        request = ccr(CallAttempt("sess;loop", CLIENT_HOST, "client.test", "ocs.test",
                                  extra_avps=[looped]), hop_by_hop=77)
        answer = yield client.request(request)
        header = codec.parse_header(answer)
        assert codec.result_code(answer) == avps.LOOP_DETECTED
        assert header.is_error and header.hop_by_hop == 77
        assert codec.find_avp(answer, avps.AVP_ERROR_REPORTING_HOST).value(answer) == \
            AGENT_HOST.encode()
        # Session-Id comes first in the answer, as in the request.
        first = next(codec.iter_avps(answer, avps.HEADER_LENGTH, len(answer)))
        assert first.code == avps.AVP_SESSION_ID and first.value(answer) == b"sess;loop"
        assert ocs.received == []
    finally:
        yield service.stopService()
        yield ocs.port.stopListening()


@pytest_twisted.inlineCallbacks
def test_realm_not_served_without_default_route() -> Any:
    ocs = RecordingOcs("ocs1.test", ocs_echo("ocs1.test"))
    port = ocs.listen()
    service = start_agent(agent_config([("ocs1.test", port)], default_route=False))
    try:
        yield wait_until(lambda: service.agent.peers["ocs1.test"].usable)
        client = yield connect_client(service.listening_port)
        answer = yield client.request(ccr(CallAttempt("s", CLIENT_HOST, "client.test",
                                                      "elsewhere.test")))
        assert codec.result_code(answer) == avps.REALM_NOT_SERVED
        assert codec.parse_header(answer).is_error
    finally:
        yield service.stopService()
        yield ocs.port.stopListening()


@pytest_twisted.inlineCallbacks
def test_destination_host_wins_over_realm_route() -> Any:
    first = RecordingOcs("ocs1.test", ocs_echo("ocs1.test"))
    second = RecordingOcs("ocs2.test", ocs_echo("ocs2.test"))
    service = start_agent(agent_config([("ocs1.test", first.listen()),
                                        ("ocs2.test", second.listen())],
                                       secondary=["ocs2.test"]))
    try:
        yield wait_until(lambda: all(p.usable for p in service.agent.peers.values()
                                     if p.config.role == "ocs"))
        client = yield connect_client(service.listening_port)
        yield client.request(ccr(CallAttempt("a", CLIENT_HOST, "client.test", "ocs.test"),
                                 hop_by_hop=1))
        yield client.request(ccr(CallAttempt("b", CLIENT_HOST, "client.test", "ocs.test",
                                             destination_host="OCS2.test"), hop_by_hop=2))
        assert len(first.received) == 1 and len(second.received) == 1
        assert codec.find_avp(second.received[0], avps.AVP_SESSION_ID).value(
            second.received[0]) == b"b"
    finally:
        yield service.stopService()
        yield first.port.stopListening()
        yield second.port.stopListening()


@pytest_twisted.inlineCallbacks
def test_failover_resends_in_flight_with_t_flag() -> Any:
    silent = RecordingOcs("ocs1.test", lambda request: None)  # takes requests, never answers
    backup = RecordingOcs("ocs2.test", ocs_echo("ocs2.test"))
    service = start_agent(agent_config([("ocs1.test", silent.listen()),
                                        ("ocs2.test", backup.listen())],
                                       secondary=["ocs2.test"]))
    try:
        yield wait_until(lambda: all(p.usable for p in service.agent.peers.values()
                                     if p.config.role == "ocs"))
        client = yield connect_client(service.listening_port)
        answers = [client.request(ccr(CallAttempt(f"s{i}", CLIENT_HOST, "client.test",
                                                  "ocs.test"), hop_by_hop=100 + i))
                   for i in range(5)]
        yield wait_until(lambda: len(silent.received) == 5)
        assert backup.received == []
        # The primary dies with five requests in flight.
        yield silent.port.stopListening()
        for peer in silent.connections():
            peer.disconnect()
        results = yield _gather(answers)
        assert [codec.parse_header(a).hop_by_hop for a in results] == \
            [100 + i for i in range(5)]
        assert all(codec.result_code(a) == 2001 for a in results)
        assert len(backup.received) == 5
        for resent, first_try in zip(backup.received, silent.received, strict=True):
            assert resent[4] & avps.FLAG_RETRANSMIT
            assert not first_try[4] & avps.FLAG_RETRANSMIT
            # Apart from the T flag, the re-sent request is what the primary got.
            assert resent[:4] + resent[5:] == first_try[:4] + first_try[5:]
    finally:
        yield service.stopService()
        yield backup.port.stopListening()


@pytest_twisted.inlineCallbacks
def test_unanswered_request_gets_3002_after_tx() -> Any:
    silent = RecordingOcs("ocs1.test", lambda request: None)
    service = start_agent(agent_config([("ocs1.test", silent.listen())],
                                       timers={"request_timeout": 0.3}))
    try:
        yield wait_until(lambda: service.agent.peers["ocs1.test"].usable)
        client = yield connect_client(service.listening_port)
        answer = yield client.request(ccr(CallAttempt("tx", CLIENT_HOST, "client.test",
                                                      "ocs.test"), hop_by_hop=9))
        header = codec.parse_header(answer)
        assert codec.result_code(answer) == avps.UNABLE_TO_DELIVER
        assert header.is_error and header.hop_by_hop == 9
        assert service.agent.pending == {}
    finally:
        yield service.stopService()
        yield silent.port.stopListening()


@pytest_twisted.inlineCallbacks
def test_unknown_peer_gets_3010_and_is_disconnected() -> Any:
    ocs = RecordingOcs("ocs1.test", ocs_echo("ocs1.test"))
    service = start_agent(agent_config([("ocs1.test", ocs.listen())]))
    try:
        with pytest.raises(ConnectionError):
            yield connect_client(service.listening_port, origin_host="stranger.test")
    finally:
        yield service.stopService()
        yield ocs.port.stopListening()


@pytest_twisted.inlineCallbacks
def test_stop_sends_dpr_and_drains_in_flight_first() -> Any:
    held: list[bytes] = []
    ocs = RecordingOcs("ocs1.test", lambda request: held.append(request) and None)
    service = start_agent(agent_config([("ocs1.test", ocs.listen())]))
    client = None
    try:
        yield wait_until(lambda: service.agent.peers["ocs1.test"].usable)
        client = yield connect_client(service.listening_port)
        answer = client.request(ccr(CallAttempt("d", CLIENT_HOST, "client.test",
                                                "ocs.test"), hop_by_hop=5))
        yield wait_until(lambda: len(held) == 1)
        stopped = service.stopService()
        yield wait_until(lambda: any(codec.parse_header(m).command_code == 282
                                     for m in client.received))
        assert not stopped.called  # still draining: one request in flight
        ocs_peer = ocs.connections()[0]
        ocs_peer.send(cca(held[0], "ocs1.test", "ocs.test"))
        result = yield answer
        assert codec.result_code(result) == 2001
        yield stopped
        # The OCS got a DPR too, after the drain.
        assert any(codec.parse_header(m).command_code == 282 for m in ocs_peer.received)
    finally:
        if service.running:
            yield service.stopService()
        yield ocs.port.stopListening()


def _gather(deferreds: list[Any]) -> Any:
    from twisted.internet import defer

    return defer.gatherResults(deferreds, consumeErrors=True)
