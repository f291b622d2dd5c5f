"""The ESME against a real SMSC (npm ``smpp`` server) over loopback TCP."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import defer, reactor

from interceptor.smpp import BindConfig, DeliveryReceipt, PoolConfig, ShortMessage, SmppPool
from interceptor.smpp.messages import Address
from interceptor.smpp.pool import SubmitFailedError
from tests.sms.smsc import PASSWORD, SYSTEM_ID, Smsc, free_tcp_port

pytestmark = pytest.mark.integration


def bind_config(port: int, **changes: Any) -> BindConfig:
    base = BindConfig(name="smsc1", host="127.0.0.1", port=port, system_id=SYSTEM_ID,
                      password=PASSWORD, reconnect_initial=0.05, reconnect_max=0.2,
                      reconnect_after_loss=0.05, response_timeout=2.0)
    return replace(base, **changes)


def message(text: str = "hello", to: str = "84987000002") -> ShortMessage:
    return ShortMessage(source=Address("84912000001"), destination=Address(to),
                        data_coding=0, payload=text.encode("ascii"))


def make_pool(*binds: BindConfig, receipts: list[DeliveryReceipt] | None = None,
              **changes: Any) -> SmppPool:
    sink = receipts if receipts is not None else []
    config = replace(PoolConfig(binds=binds, max_per_second=2000, burst=100,
                                throttle_delay=0.02, throttle_delay_max=0.2), **changes)
    pool = SmppPool(config, reactor, sink.append, seed=1)
    pool.startService()
    return pool


@pytest_twisted.inlineCallbacks
def test_bind_submit_and_delivery_receipt() -> Any:
    smsc = yield Smsc().start()
    receipts: list[DeliveryReceipt] = []
    pool = make_pool(bind_config(smsc.port), receipts=receipts)
    try:
        yield smsc.wait(lambda: pool.ready, what="bound")
        message_id = yield pool.submit(message("Hello B"))
        yield smsc.wait(lambda: len(receipts) == 1, what="receipt")
    finally:
        yield pool.stopService()
        yield smsc.wait(lambda: smsc.of("unbind"), what="unbind on stop")
        yield smsc.stop()
    [bind] = smsc.of("bind")
    assert (bind["command"], bind["system_id"]) == ("bind_transceiver", SYSTEM_ID)
    [submit] = smsc.of("submit")
    assert submit["message_id"] == message_id
    assert (submit["text"], submit["destination"], submit["source"]) == \
        ("Hello B", "84987000002", "84912000001")
    assert submit["registered_delivery"] & 1
    assert receipts == [DeliveryReceipt(message_id, "DELIVRD", "000")]


@pytest_twisted.inlineCallbacks
def test_wrong_password_is_refused_clearly_then_retried(caplog: Any) -> Any:
    caplog.set_level(logging.ERROR)
    smsc = yield Smsc().start()
    pool = make_pool(bind_config(smsc.port, password="wrong"))
    try:
        yield smsc.wait(lambda: len(smsc.of("bind_refused")) >= 3, what="retried binds")
        assert not pool.ready
        assert pool.counters.bind_refusals >= 3
    finally:
        yield pool.stopService()
        yield smsc.stop()
    assert "refused" in caplog.text and "ESME_RINVPASWD" in caplog.text
    assert "wrong" not in caplog.text  # the password never reaches the log


@pytest_twisted.inlineCallbacks
def test_throttling_slows_down_and_loses_nothing() -> Any:
    smsc = yield Smsc(throttle_every=4, queue_full_every=7, dlr=None).start()
    pool = make_pool(bind_config(smsc.port, window=5))
    try:
        yield smsc.wait(lambda: pool.ready, what="bound")
        ids = yield defer.gatherResults([pool.submit(message(f"n{i}")) for i in range(40)])
    finally:
        yield pool.stopService()
        yield smsc.stop()
    texts = sorted(event["text"] for event in smsc.of("submit"))
    assert texts == sorted(f"n{i}" for i in range(40))  # each once, none lost
    assert len(set(ids)) == 40
    throttled = smsc.of("throttled")
    assert {event["status"] for event in throttled} == {"ESME_RTHROTTLED", "ESME_RMSGQFUL"}
    assert pool.counters.throttled == len(throttled) >= 10


@pytest_twisted.inlineCallbacks
def test_smsc_down_then_up_parts_wait_then_go_once() -> Any:
    port = free_tcp_port()
    pool = make_pool(bind_config(port))
    sent = [pool.submit(message(f"w{i}")) for i in range(5)]
    smsc = Smsc(port=port, dlr=None)
    try:
        yield smsc.wait(lambda: pool.binds[0].failures >= 2, what="failed connects")
        assert not pool.ready and pool.queued == 5
        yield smsc.start()
        yield defer.gatherResults(sent)
        # The bind is lost (SMSC killed) and comes back: parts wait for it again.
        yield smsc.stop()
        yield smsc.wait(lambda: not pool.ready, what="bind lost")
        later = pool.submit(message("after-restart"))
        yield smsc.start()
        yield later
    finally:
        yield pool.stopService()
        yield smsc.stop()
    texts = [event["text"] for event in smsc.of("submit")]
    assert sorted(texts) == sorted([f"w{i}" for i in range(5)] + ["after-restart"])


@pytest_twisted.inlineCallbacks
def test_failover_to_the_secondary_smsc_and_back() -> Any:
    primary = yield Smsc(dlr=None).start()
    secondary = yield Smsc(dlr=None).start()
    pool = make_pool(bind_config(primary.port, name="primary", priority=0),
                     bind_config(secondary.port, name="secondary", priority=1))
    try:
        yield primary.wait(lambda: pool.binds_up == 2, what="both bound")
        yield pool.submit(message("one"))
        yield primary.stop()
        yield primary.wait(lambda: pool.binds_up == 1, what="primary lost")
        yield pool.submit(message("two"))
        yield primary.start()
        yield primary.wait(lambda: pool.binds_up == 2, what="primary back")
        yield pool.submit(message("three"))
    finally:
        yield pool.stopService()
        yield primary.stop()
        yield secondary.stop()
    assert [e["text"] for e in primary.of("submit")] == ["one", "three"]
    assert [e["text"] for e in secondary.of("submit")] == ["two"]


@pytest_twisted.inlineCallbacks
def test_rejected_submit_fails_permanently() -> Any:
    smsc = yield Smsc(reject_every=1, dlr=None).start()
    pool = make_pool(bind_config(smsc.port))
    try:
        yield smsc.wait(lambda: pool.ready, what="bound")
        with pytest.raises(SubmitFailedError) as failed:
            yield pool.submit(message("x"))
    finally:
        yield pool.stopService()
        yield smsc.stop()
    assert not failed.value.transient and failed.value.code == 0x45
