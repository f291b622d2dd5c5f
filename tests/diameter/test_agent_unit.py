"""Agent behaviour on StringTransports and task.Clock: framing, bad input, capabilities
exchange, watchdog, election, failover, Tx and DPR. No sockets, no sleeps.
"""

from __future__ import annotations

import struct

import pytest
from diameter.message import Avp

from interceptor.core import avps
from interceptor.diameter import codec, messages
from interceptor.diameter.connection import State, Watchdog
from interceptor.diameter.traffic import CallAttempt, cca, ccr
from tests.diameter.fakes import Wire, make_agent, open_client, open_ocs, peer_factory

CLIENT = "cscf.test"


def _ccr(session: str = "s1", hop_by_hop: int = 1, **kwargs: object) -> bytes:
    return ccr(CallAttempt(session, CLIENT, "client.test", "ocs.test", **kwargs),  # type: ignore[arg-type]
               hop_by_hop=hop_by_hop, end_to_end=hop_by_hop)


# -- framing ---------------------------------------------------------------------------

def test_two_requests_in_one_segment_and_one_split_bytewise_are_relayed_exactly() -> None:
    agent, _ = make_agent()
    ocs = open_ocs(agent, "ocs1.test")
    client = open_client(agent)
    first, second, third = _ccr("a", 1), _ccr("b", 2), _ccr("c", 3)
    client.feed(first + second)
    for index in range(len(third)):
        client.feed(third[index:index + 1])
    relayed = ocs.sent()
    assert [codec.find_avp(m, avps.AVP_SESSION_ID).value(m) for m in relayed] == \
        [b"a", b"b", b"c"]
    for original, out in zip((first, second, third), relayed, strict=True):
        assert out[20:len(original)] == original[20:]


def test_garbage_closes_the_connection_without_an_answer() -> None:
    agent, _ = make_agent()
    client = open_client(agent)
    client.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert client.sent() == []
    assert client.closed


def test_length_below_header_size_closes() -> None:
    agent, _ = make_agent()
    client = open_client(agent)
    client.feed(struct.pack("!I", (1 << 24) | 12) + b"\x80\x00\x01\x10" + b"\0" * 12)
    assert client.sent() == [] and client.closed


def test_length_above_maximum_answers_5015_then_closes() -> None:
    agent, _ = make_agent()
    client = open_client(agent)
    request = _ccr(hop_by_hop=42)
    oversized = struct.pack("!I", (1 << 24) | 0x200000) + request[4:20]
    client.feed(oversized)
    [answer] = client.sent()
    assert codec.result_code(answer) == avps.INVALID_MESSAGE_LENGTH
    assert codec.parse_header(answer).hop_by_hop == 42 and client.closed


def test_wrong_version_answers_5011_then_closes() -> None:
    agent, _ = make_agent()
    client = open_client(agent)
    request = _ccr(hop_by_hop=43)
    client.feed(b"\x02" + request[1:])
    [answer] = client.sent()
    assert codec.result_code(answer) == avps.UNSUPPORTED_VERSION
    assert client.closed


def test_avp_length_overrun_answers_5014_with_failed_avp_and_keeps_the_connection() -> None:
    agent, _ = make_agent()
    ocs = open_ocs(agent, "ocs1.test")
    client = open_client(agent)
    request = bytearray(_ccr(hop_by_hop=44))
    # Make the Service-Context-Id AVP claim 2000 bytes.
    span = codec.find_avp(bytes(request), 461)
    struct.pack_into("!I", request, span.start + 4, (0x40 << 24) | 2000)
    client.feed(bytes(request))
    [answer] = client.sent()
    assert codec.result_code(answer) == avps.INVALID_AVP_LENGTH
    assert not codec.parse_header(answer).is_error  # 5xxx: permanent failure, no E bit
    failed = codec.find_avp(answer, avps.AVP_FAILED_AVP)
    inner = next(codec.iter_avps(answer, failed.data_start, failed.data_end))
    assert inner.code == 461
    assert ocs.sent() == [] and not client.closed
    client.feed(_ccr("next", 45))
    assert len(ocs.sent()) == 1


def test_request_with_error_bit_answers_3008() -> None:
    agent, _ = make_agent()
    open_ocs(agent, "ocs1.test")
    client = open_client(agent)
    request = bytearray(_ccr(hop_by_hop=46))
    request[4] |= avps.FLAG_ERROR
    client.feed(bytes(request))
    [answer] = client.sent()
    assert codec.result_code(answer) == avps.INVALID_HDR_BITS


def test_missing_destination_realm_answers_5005() -> None:
    agent, _ = make_agent()
    open_ocs(agent, "ocs1.test")
    client = open_client(agent)
    request = _ccr(hop_by_hop=47)
    span = codec.find_avp(request, avps.AVP_DESTINATION_REALM)
    stripped = request[:span.start] + request[span.end:]
    stripped = struct.pack("!I", (1 << 24) | len(stripped)) + stripped[4:]
    client.feed(stripped)
    [answer] = client.sent()
    assert codec.result_code(answer) == avps.MISSING_AVP


def test_unsupported_application_answers_3007() -> None:
    agent, _ = make_agent()
    open_ocs(agent, "ocs1.test")
    client = open_client(agent)
    request = bytearray(_ccr(hop_by_hop=48))
    struct.pack_into("!I", request, 8, 16777238)  # Gx
    client.feed(bytes(request))
    [answer] = client.sent()
    assert codec.result_code(answer) == avps.APPLICATION_UNSUPPORTED


def test_messages_before_cer_are_not_relayed() -> None:
    agent, _ = make_agent()
    ocs = open_ocs(agent, "ocs1.test")
    stranger = Wire(agent, "127.0.0.1")
    stranger.feed(_ccr())
    assert ocs.sent() == [] and stranger.closed


def test_bad_input_on_one_connection_does_not_disturb_another() -> None:
    agent, _ = make_agent()
    ocs = open_ocs(agent, "ocs1.test")
    good = open_client(agent)
    bad = Wire(agent, "127.0.0.1")
    bad.feed(b"\xff" * 64)
    assert bad.closed
    good.feed(_ccr("fine", 50))
    [relayed] = ocs.sent()
    ocs.feed(cca(relayed, "ocs1.test", "ocs.test"))
    [answer] = good.sent()
    assert codec.parse_header(answer).hop_by_hop == 50


# -- capabilities exchange ----------------------------------------------------------------

def test_unknown_origin_host_gets_3010_and_is_closed() -> None:
    agent, _ = make_agent()
    wire = Wire(agent, "127.0.0.1")
    wire.feed(peer_factory("nobody.test").cer())
    [cea] = wire.sent()
    assert codec.result_code(cea) == avps.UNKNOWN_PEER and wire.closed


def test_known_origin_host_from_a_foreign_address_gets_3010() -> None:
    agent, _ = make_agent()
    wire = Wire(agent, "10.9.9.9")
    wire.feed(peer_factory(CLIENT).cer())
    [cea] = wire.sent()
    assert codec.result_code(cea) == avps.UNKNOWN_PEER and wire.closed


def test_cer_without_common_application_gets_5010() -> None:
    agent, _ = make_agent()
    factory = peer_factory(CLIENT)
    cer = factory.cer()
    # Rewrite Auth-Application-Id 4 into 16777238 (Gx): no application in common.
    span = codec.find_avp(cer, avps.AVP_AUTH_APPLICATION_ID)
    cer = cer[:span.data_start] + struct.pack("!I", 16777238) + cer[span.data_end:]
    wire = Wire(agent, "127.0.0.1")
    wire.feed(cer)
    [cea] = wire.sent()
    assert codec.result_code(cea) == avps.NO_COMMON_APPLICATION and wire.closed


def test_cea_advertises_identity_and_credit_control() -> None:
    agent, _ = make_agent()
    wire = Wire(agent, "127.0.0.1")
    wire.feed(peer_factory(CLIENT).cer())
    [cea] = wire.sent()
    capabilities = messages.parse_capabilities(cea)
    assert capabilities.origin_host == "interceptor.test"
    assert capabilities.host_ip_addresses == ("127.0.0.1",)
    assert capabilities.auth_application_ids == frozenset({4})
    assert capabilities.product_name == "beepcall-interceptor"
    assert codec.find_avp(cea, 267) is not None  # Firmware-Revision


def test_no_cer_within_timeout_closes() -> None:
    agent, clock = make_agent()
    wire = Wire(agent, "127.0.0.1")
    clock.advance(agent.config.timers.connect_timeout + 0.1)
    assert wire.closed


# -- watchdog ----------------------------------------------------------------------------

def test_dwr_is_answered_with_dwa() -> None:
    agent, _ = make_agent()
    client = open_client(agent)
    client.feed(peer_factory(CLIENT).dwr())
    [dwa] = client.sent()
    assert codec.parse_header(dwa).command_code == 280
    assert codec.result_code(dwa) == 2001


def test_silent_peer_gets_dwr_then_is_suspect_then_down() -> None:
    agent, clock = make_agent(timers={"watchdog": 10, "watchdog_jitter": 0,
                                      "request_timeout": 60}, secondary=["ocs2.test"])
    ocs = open_ocs(agent, "ocs1.test")
    backup = open_ocs(agent, "ocs2.test")
    client = open_client(agent)
    client.feed(_ccr("in-flight", 60))
    [relayed] = ocs.sent()
    clock.advance(10)
    assert [codec.parse_header(m).command_code for m in ocs.sent()] == [280]
    backup.feed(peer_factory("ocs2.test").dwr())  # the backup keeps talking
    clock.advance(10)
    assert ocs.connection.watchdog is Watchdog.SUSPECT
    assert not agent.peers["ocs1.test"].usable
    # Its in-flight request went to the other OCS with the T flag.
    resent = [m for m in backup.sent() if codec.parse_header(m).command_code == 272]
    assert len(resent) == 1 and resent[0][4] & avps.FLAG_RETRANSMIT
    assert resent[0][:4] + resent[0][5:] == relayed[:4] + relayed[5:]
    clock.advance(10)
    assert ocs.closed


def test_traffic_resets_the_watchdog() -> None:
    agent, clock = make_agent(timers={"watchdog": 10, "watchdog_jitter": 0})
    ocs = open_ocs(agent, "ocs1.test")
    for _ in range(5):
        clock.advance(9)
        ocs.feed(peer_factory("ocs1.test").dwr())
    sent = [codec.parse_header(m) for m in ocs.sent()]
    assert all(not h.is_request for h in sent)  # only DWAs, never our own DWR
    assert ocs.connection.watchdog is Watchdog.OKAY


def test_suspect_peer_recovers_when_it_answers() -> None:
    agent, clock = make_agent(timers={"watchdog": 10, "watchdog_jitter": 0})
    ocs = open_ocs(agent, "ocs1.test")
    clock.pump([10, 10])
    assert ocs.connection.watchdog is Watchdog.SUSPECT
    [dwr] = [m for m in ocs.sent() if codec.parse_header(m).command_code == 280]
    ocs.feed(peer_factory("ocs1.test").dwa(codec.parse_header(dwr)))
    assert ocs.connection.watchdog is Watchdog.OKAY
    assert agent.peers["ocs1.test"].usable


# -- routing, failover, Tx ---------------------------------------------------------------

def test_failover_on_connection_loss_sets_t_flag_on_the_resend() -> None:
    agent, _ = make_agent()
    first = open_ocs(agent, "ocs1.test")
    second = open_ocs(agent, "ocs2.test")
    client = open_client(agent)
    for i in range(4):
        client.feed(_ccr(f"s{i}", 70 + i))
    to_first = first.sent()
    to_second = second.sent()
    assert to_first and to_second  # round-robin across the two primaries
    first.lose()
    resent = second.sent()
    assert len(resent) == len(to_first)
    assert all(m[4] & avps.FLAG_RETRANSMIT for m in resent)
    for m in resent:
        second.feed(cca(m, "ocs2.test", "ocs.test"))
    answered = {codec.parse_header(m).hop_by_hop for m in client.sent()}
    expected = {codec.parse_header(m).hop_by_hop for m in to_first}
    assert len(answered) == len(expected)


def test_no_alternate_after_loss_answers_3002() -> None:
    agent, _ = make_agent(ocs=("ocs1.test",))
    first = open_ocs(agent, "ocs1.test")
    client = open_client(agent)
    client.feed(_ccr("lonely", 80))
    first.sent()
    first.lose()
    [answer] = client.sent()
    assert codec.result_code(answer) == avps.UNABLE_TO_DELIVER
    assert codec.parse_header(answer).hop_by_hop == 80


def test_tx_expiry_answers_3002_and_discards_the_late_answer() -> None:
    agent, clock = make_agent(timers={"request_timeout": 1.0})
    ocs = open_ocs(agent, "ocs1.test")
    client = open_client(agent)
    client.feed(_ccr("slow", 81))
    [relayed] = ocs.sent()
    clock.advance(1.2)
    [answer] = client.sent()
    assert codec.result_code(answer) == avps.UNABLE_TO_DELIVER
    ocs.feed(cca(relayed, "ocs1.test", "ocs.test"))
    assert client.sent() == []
    assert agent.counters.answers_unmatched == 1


def test_no_usable_peer_in_realm_answers_3002() -> None:
    agent, _ = make_agent()
    client = open_client(agent)
    client.feed(_ccr("nowhere", 82))
    [answer] = client.sent()
    assert codec.result_code(answer) == avps.UNABLE_TO_DELIVER
    assert codec.parse_header(answer).is_error


def test_requests_from_ocs_are_routed_to_the_client_by_destination_host() -> None:
    agent, _ = make_agent()
    ocs = open_ocs(agent, "ocs1.test")
    client = open_client(agent)
    # An OCS-initiated Re-Auth-Request (258) towards the CSCF.
    rar = ccr(CallAttempt("rar", "ocs1.test", "ocs.test", "client.test",
                          destination_host=CLIENT), hop_by_hop=90)
    rar = rar[:5] + b"\x00\x01\x02" + rar[8:]
    ocs.feed(rar)
    [relayed] = client.sent()
    assert codec.parse_header(relayed).command_code == 258
    assert relayed.endswith(codec.encode_avp(avps.AVP_ROUTE_RECORD, b"ocs1.test"))


# -- election (RFC 6733 §5.6.4) ----------------------------------------------------------

@pytest.mark.parametrize(("remote", "we_win"), [("aaa.test", True), ("zzz.test", False)])
def test_election_between_simultaneous_connections(remote: str, we_win: bool) -> None:
    agent, _ = make_agent(ocs=(remote,))
    dialled = Wire(agent, "127.0.0.1", initiator=True, expected=remote)
    dialled.sent()  # our CER
    incoming = Wire(agent, "127.0.0.1")
    incoming.feed(peer_factory(remote, "ocs.test").cer())
    [cea] = incoming.sent()
    if we_win:  # "interceptor.test" > "aaa.test": keep theirs, drop ours
        assert codec.result_code(cea) == 2001
        assert dialled.closed and agent.peers[remote].connection is incoming.connection
    else:
        assert codec.result_code(cea) == avps.ELECTION_LOST and incoming.closed
        dialled.feed(peer_factory(remote, "ocs.test").cea(codec.parse_header(
            peer_factory(remote).cer())))
        assert agent.peers[remote].connection is dialled.connection


# -- disconnect ------------------------------------------------------------------------

def test_dpr_from_peer_is_answered_and_no_new_requests_go_there() -> None:
    agent, clock = make_agent()
    first = open_ocs(agent, "ocs1.test")
    second = open_ocs(agent, "ocs2.test")
    client = open_client(agent)
    first.feed(peer_factory("ocs1.test").dpr(avps.DISCONNECT_BUSY))
    [dpa] = first.sent()
    assert codec.parse_header(dpa).command_code == 282 and codec.result_code(dpa) == 2001
    assert first.connection.state is State.CLOSING
    for i in range(3):
        client.feed(_ccr(f"after-dpr-{i}", 100 + i))
    assert first.sent() == [] and len(second.sent()) == 3
    clock.advance(agent.config.timers.disconnect_timeout + 0.1)
    assert first.closed


def test_stop_drains_then_disconnects_everyone() -> None:
    agent, clock = make_agent(ocs=("ocs1.test",))
    ocs = open_ocs(agent, "ocs1.test")
    client = open_client(agent)
    client.feed(_ccr("drain", 110))
    [relayed] = ocs.sent()
    stopped = agent.stop()
    [dpr_to_client] = client.sent()
    assert codec.parse_header(dpr_to_client).command_code == 282
    assert ocs.sent() == []  # the OCS is told only after the drain
    client.feed(peer_factory(CLIENT).dpa(codec.parse_header(dpr_to_client)))
    ocs.feed(cca(relayed, "ocs1.test", "ocs.test"))
    [answer] = client.sent()
    assert codec.parse_header(answer).hop_by_hop == 110
    clock.advance(0.2)
    [dpr_to_ocs] = ocs.sent()
    assert codec.parse_header(dpr_to_ocs).command_code == 282
    assert client.closed
    ocs.feed(peer_factory("ocs1.test").dpa(codec.parse_header(dpr_to_ocs)))
    assert ocs.closed
    client.lose()
    ocs.lose()
    assert stopped.called


def test_unknown_vendor_avp_nested_in_grouped_travels_unchanged() -> None:
    agent, _ = make_agent()
    ocs = open_ocs(agent, "ocs1.test")
    client = open_client(agent)
    unknown = Avp(code=99001, vendor_id=4242, payload=b"\x01\x02\x03")
    request = _ccr("v", 120, extra_avps=[Avp.new(873, 10415, value=[unknown])])
    client.feed(request)
    [relayed] = ocs.sent()
    assert relayed[20:len(request)] == request[20:]


def test_cea_advertises_the_relay_application_when_configured() -> None:
    agent, _ = make_agent(extra={"agent": {"origin_host": "interceptor.test",
                                           "origin_realm": "test", "advertise_relay": True}})
    wire = Wire(agent, "127.0.0.1")
    wire.feed(peer_factory(CLIENT).cer())
    [cea] = wire.sent()
    assert messages.parse_capabilities(cea).auth_application_ids == \
        frozenset({4, 0xFFFFFFFF})
