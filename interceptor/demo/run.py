"""``beepcall demo``: the interceptor on embedded defaults between built-in peers.

A simulated CSCF/PGW sends voice and data CCRs through the interceptor to a simulated
OCS, on loopback. Some subscribers have no credit, so the OCS answers 4012. Every
exchange is printed as it passes. The out-of-credit calls are beeped at a simulated SIP
network; then some callees call back (a CCR-Initial from B to A, then CC-Time in CCR-
Update/Terminate) and one caller tops up and calls again. A summary table shows the
figures; at the end the HTML report is written beside the demo database.

The SMS to the beeped callees goes to the demo's own SMSC (SMPP 3.4 on loopback,
:mod:`interceptor.demo.smsc`), with an ad campaign added to the demo database; the SMS it
received are printed once they are delivered.
"""

from __future__ import annotations

import itertools
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from twisted.internet import defer, task

from interceptor.app.relay import Interceptor
from interceptor.config.loader import parse_config
from interceptor.core import avps
from interceptor.core.avps import CC_TERMINATE, CONTEXT_GY_DATA, CREDIT_LIMIT_REACHED, SUCCESS
from interceptor.core.vocabulary import (
    KNOWN_CALLEE_CLASSES,
    RANG_OUTCOMES,
    AttemptStatus,
    SmsStatus,
)
from interceptor.demo.peers import PeerClientFactory, PeerServerFactory, SimplePeer
from interceptor.demo.sip_network import DemoSipNetwork
from interceptor.demo.smsc import DemoSmsc, ReceivedSms
from interceptor.demo.summary import print_summary
from interceptor.diameter import codec
from interceptor.diameter.traffic import CallAttempt, cca, ccr, e164
from interceptor.reports.html import html_report
from interceptor.smpp.messages import DATA_CODING_UCS2
from interceptor.sms.ad_store import add_campaign
from interceptor.storage.engine import make_engine
from interceptor.storage.migrate import upgrade
from interceptor.storage.models import Attempt

DEMO_CLIENT = "cscf.demo.beepcall"
DEMO_OCS = "ocs.demo.beepcall"

# MSISDNs of the demo network: the first three have a zero balance.
SUBSCRIBERS = ["84912000001", "84912000002", "84912000003", "84987000004",
               "84987000005", "84903000006", "84903000007", "84933000008"]
BROKE = frozenset(SUBSCRIBERS[:3])
BUSY = frozenset({SUBSCRIBERS[6]})  # this callee's phone is busy: the beep fails
SMPP_SYSTEM_ID = "beepcall"
AD_NAME = "topup-50"
AD_TEXT = "Nạp thẻ hôm nay, nhận thêm 50% giá trị: *100#"
_SMS_OPEN = (SmsStatus.QUEUED, SmsStatus.SENDING, SmsStatus.SUBMITTED)  # not yet final


def demo_sms_section(smsc_port: int, password_file: str) -> dict[str, Any]:
    """The SMS to B through the demo SMSC: Vietnamese (UCS-2), the ad appended."""
    return {
        "smsc": {"binds": [{"name": "demo-smsc", "host": "127.0.0.1", "port": smsc_port,
                            "system_id": SMPP_SYSTEM_ID, "password_file": password_file,
                            "reconnect_initial_s": 0.1, "reconnect_max_s": 1,
                            "response_timeout_s": 2, "enquire_link_s": 5}]},
        "templates": {"vi": {"to_callee": "{caller} đã gọi cho bạn lúc {time}.{ad}"},
                      "en": {"to_callee": "{caller} called you at {time}.{ad}"}},
        "language": {"default": "vi", "international": "en"},
        "caller_format": "national_spaced",
        "pickup_interval_s": 0.1,
        "ads": {"refresh_s": 1},
    }


def demo_config(ocs_port: int, database_url: str, spool_dir: str, sip_port: int,
                listen_port: int = 0, sms: dict[str, Any] | None = None) -> dict[str, Any]:
    """Embedded defaults: everything on loopback, the built-in peers configured,
    attempts recorded in a SQLite file; ``sms``: the SMS section (demo_sms_section)."""
    config: dict[str, Any] = {
        "agent": {"origin_host": "interceptor.demo.beepcall", "origin_realm": "demo.beepcall",
                  "host_ip_addresses": ["127.0.0.1"]},
        "listen": {"address": "127.0.0.1", "port": listen_port},
        "peers": {
            "clients": [{"origin_host": DEMO_CLIENT, "addresses": ["127.0.0.1"]}],
            "ocs": [{"origin_host": DEMO_OCS, "realm": "ocs.demo.beepcall",
                     "address": "127.0.0.1", "port": ocs_port}],
        },
        "routing": {"realms": [{"realm": "ocs.demo.beepcall", "primary": [DEMO_OCS]}]},
        "timers": {"reconnect_initial": 0.2, "reconnect_max": 2.0},
        "detection": {"enabled": True},
        "numbering": {"country_code": 84, "on_net_prefixes": ["8491", "8494"]},
        "database": {"url": database_url, "spool_dir": spool_dir, "flush_interval": 0.1},
        "sip": {"routes": {klass: {"host": "127.0.0.1", "port": sip_port,
                                   "domain": "ims.demo.beepcall"}
                           for klass in KNOWN_CALLEE_CLASSES}},
        # The operator's defaults, except quiet hours: the demo should ring at any hour.
        "policy": {"timezone": "Asia/Ho_Chi_Minh",
                   "thresholds": {"quiet_hours": {"window": "off"}}},
        "callbacks": {"window": 1800, "currency": CURRENCY, "tariffs": dict(TARIFFS)},
        "metrics": {"listen": "127.0.0.1:0", "stats_interval": 0.5},
    }
    if sms is not None:
        config["sms"] = sms
    return config


CURRENCY = "VND"
TARIFFS = {"on_net": 1200, "off_net": 1500, "international": 6000}  # per minute


def _subscriber(request: bytes) -> str:
    subscription = codec.find_avp(request, 443)
    if subscription is None:
        return ""
    data = codec.find_avp(request, 444, start=subscription.data_start,
                          end=subscription.data_end)
    return data.value(request).decode() if data else ""


def demo_ocs_policy(request: bytes, broke: frozenset[str] | set[str] = BROKE) -> bytes:
    """Zero-balance callers get 4012 for voice, inside MSCC half of the time."""
    caller = _subscriber(request)
    if caller in broke:
        in_mscc = int(caller[-1]) % 2 == 0
        if in_mscc:
            return cca(request, DEMO_OCS, "ocs.demo.beepcall", SUCCESS,
                       mscc_result_codes=[CREDIT_LIMIT_REACHED])
        return cca(request, DEMO_OCS, "ocs.demo.beepcall", CREDIT_LIMIT_REACHED)
    return cca(request, DEMO_OCS, "ocs.demo.beepcall", SUCCESS)


@dataclass
class DemoStats:
    sent: int = 0
    answered: int = 0
    results: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    attempts: int = 0
    voice_refusals: int = 0  # the data ones never become attempts
    callbacks: int = 0
    topped_up: int = 0
    sms_received: int = 0  # whole SMS at the demo SMSC


def _result_label(answer: bytes) -> str:
    top = codec.result_code(answer)
    mscc = codec.find_avp(answer, 456)
    inner = None
    if mscc is not None:
        span = codec.find_avp(answer, avps.AVP_RESULT_CODE, start=mscc.data_start,
                              end=mscc.data_end)
        inner = codec.unsigned32(answer, span) if span else None
    if CREDIT_LIMIT_REACHED in (top, inner):
        where = "in MSCC" if inner == CREDIT_LIMIT_REACHED else "top level"
        return f"4012 CREDIT_LIMIT_REACHED ({where})"
    return str(top)


@defer.inlineCallbacks
def run_demo(reactor: Any, calls: int, interval: float, echo: Callable[[str], None],
             workdir: Path, seed: int = 1, log_level: str = "warning") -> Any:
    rng = random.Random(seed)
    database_url = f"sqlite:///{workdir / 'beepcall-demo.db'}"
    upgrade(database_url)  # what `beepcall db upgrade` does
    campaign_id = _add_ad(database_url)  # what `beepcall ads add` does
    broke = set(BROKE)  # a caller who tops up leaves it
    ocs_factory = PeerServerFactory(DEMO_OCS, "ocs.demo.beepcall",
                                    lambda request: demo_ocs_policy(request, broke))
    ocs_port = reactor.listenTCP(0, ocs_factory, interface="127.0.0.1")
    b_network = DemoSipNetwork(busy=BUSY)
    sip_port = reactor.listenUDP(0, b_network, interface="127.0.0.1")
    password = secrets.token_hex(4)  # this run's; the side work reads it from the file
    password_file = workdir / "smpp-password"
    password_file.write_text(password + "\n", encoding="utf-8")
    password_file.chmod(0o600)
    smsc = DemoSmsc(reactor, SMPP_SYSTEM_ID, password)
    smsc_port = smsc.listen(reactor)
    config = parse_config(demo_config(ocs_port.getHost().port, database_url,
                                      str(workdir / "spool"), sip_port.getHost().port,
                                      sms=demo_sms_section(smsc_port, str(password_file))))
    interceptor = Interceptor(config, reactor, seed=seed, log_level=log_level)
    interceptor.startService()
    service = interceptor.agent_service
    tap = interceptor.tap
    assert tap is not None
    echo(f"interceptor {config.relay.identity.origin_host} listening on 127.0.0.1:"
         f"{service.listening_port}; OCS simulator on 127.0.0.1:{ocs_port.getHost().port}")
    echo(f"attempts are recorded in {database_url}; B's SIP network (simulated) on "
         f"udp 127.0.0.1:{sip_port.getHost().port}")
    echo(f"SMS to B go to the demo SMSC (SMPP 3.4) on 127.0.0.1:{smsc_port}, with the ad "
         f"campaign {AD_NAME!r} (id {campaign_id})")
    if interceptor.metrics is not None:
        port = interceptor.metrics.listening_port
        echo(f"metrics on http://127.0.0.1:{port}/metrics, status on "
             f"http://127.0.0.1:{port}/status")
    stats = DemoStats()
    started_at = datetime.now(UTC) - timedelta(seconds=1)
    try:
        yield ocs_factory.connected
        client_factory = PeerClientFactory(DEMO_CLIENT, "cscf.demo.beepcall")
        reactor.connectTCP("127.0.0.1", service.listening_port, client_factory)
        client: SimplePeer = yield client_factory.peer.ready
        echo(f"CSCF simulator connected (CER/CEA done); sending {calls} calls\n")
        echo(f"{'time':8}  {'caller':>12} -> {'callee':<12} {'service':<11} result")
        ids = itertools.count(1)
        for _ in range(calls):
            number = next(ids)
            caller = rng.choice(SUBSCRIBERS)
            callee = rng.choice([s for s in SUBSCRIBERS if s != caller])
            data = rng.random() < 0.2
            attempt = CallAttempt(
                session_id=f"{DEMO_CLIENT};{int(time.time())};{number}",
                origin_host=DEMO_CLIENT, origin_realm="cscf.demo.beepcall",
                destination_realm="ocs.demo.beepcall", subscription_ids=e164(caller),
                calling_party_address=f"tel:+{caller}", called_party_address=f"tel:+{callee}")
            if data:  # as the PGW sends it on Gy: no IMS-Information
                attempt = replace(attempt, service_context=CONTEXT_GY_DATA,
                                  service_information=False)
            started = time.perf_counter()
            stats.sent += 1
            answer = yield client.request(ccr(attempt, hop_by_hop=number, end_to_end=number))
            elapsed = (time.perf_counter() - started) * 1000
            stats.answered += 1
            stats.latencies_ms.append(elapsed)
            label = _result_label(answer)
            stats.results[label] += 1
            handed = tap.counters.candidates
            note = "  -> out of credit: to side work" if handed > stats.attempts else ""
            stats.attempts = handed
            if note and not data:
                stats.voice_refusals += 1
            echo(f"{time.strftime('%H:%M:%S')}  {caller:>12} -> "
                 f"{'(data)' if data else callee:<12} "
                 f"{'Gy data' if data else 'IMS voice':<11} {label}  [{elapsed:.1f} ms]"
                 f"{note}")
            yield task.deferLater(reactor, interval, lambda: None)
            if number % 20 == 0 and number < calls:
                _summary(database_url, started_at, echo, f"So far ({number} calls)")
        yield _beeps_settled(reactor, database_url, stats.voice_refusals)
        yield _sms_settled(reactor, database_url)
        stats.sms_received = len(smsc.messages)
        _print_sms(smsc, smsc_port, echo)
        _summary(database_url, started_at, echo, "After the calls, their beeps and SMS")
        yield _callbacks(reactor, client, tap, database_url, broke, rng, echo, stats)
        yield client.disconnect()
    finally:
        yield interceptor.stopService()  # the side work unbinds from the SMSC first
        yield smsc.stop()
        yield ocs_port.stopListening()
        yield sip_port.stopListening()
    echo("")
    echo(f"{stats.answered}/{stats.sent} requests answered through the interceptor; "
         f"relay counters: {service.agent.counters.requests_relayed} requests, "
         f"{service.agent.counters.answers_relayed} answers")
    for label, count in sorted(stats.results.items()):
        echo(f"  {count:4d}  {label}")
    echo(f"{stats.sms_received} SMS received by the demo SMSC "
         f"({smsc.counters.submits} submit_sm, {smsc.counters.receipts} delivery receipts)")
    echo("")
    _print_attempts(database_url, echo)
    echo("")
    _summary(database_url, started_at, echo, "Beep Call: what the service did and earned")
    report = workdir / "beepcall-report.html"
    engine = make_engine(database_url)
    try:
        report.write_text(html_report(engine, started_at, datetime.now(UTC)
                                      + timedelta(seconds=1), CURRENCY), encoding="utf-8")
    finally:
        engine.dispose()
    echo(f"HTML report: {report} (open it in a browser; "
         f"or: beepcall report --database-url {database_url} --html FILE)")
    return stats


def _add_ad(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        return add_campaign(engine, name=AD_NAME, text=AD_TEXT, weight=1, starts_at=None,
                            ends_at=None, classes="", daily_cap=None)
    finally:
        engine.dispose()


def _print_sms(smsc: DemoSmsc, port: int, echo: Callable[[str], None]) -> None:
    echo("")
    echo(f"SMS the demo SMSC received on 127.0.0.1:{port} ({len(smsc.messages)}; "
         f"{smsc.counters.receipts} delivery receipts sent back):")
    for message in smsc.messages:
        echo(f"  to {message.destination:>12}  from {message.source:>12}  "
             f"{_coding(message)}: {message.text}")
    echo("")


def _coding(message: ReceivedSms) -> str:
    coding = "UCS-2" if message.data_coding == DATA_CODING_UCS2 else "GSM 7-bit"
    if message.parts == 1:
        return f"{coding}, 1 part"
    return f"{coding}, {message.parts} parts ({message.concat})"


def _summary(database_url: str, since: datetime, echo: Callable[[str], None],
             title: str) -> None:
    engine = make_engine(database_url)
    try:
        print_summary(engine, since, echo, CURRENCY, title)
    finally:
        engine.dispose()


def _linked_rows(database_url: str) -> list[Any]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(select(Attempt).order_by(Attempt.id)))
    finally:
        engine.dispose()


@defer.inlineCallbacks
def _callbacks(reactor: Any, client: SimplePeer, tap: Any, database_url: str,
               broke: set[str], rng: random.Random, echo: Callable[[str], None],
               stats: DemoStats) -> Any:
    """Some beeped callees call back; one caller whose beep failed tops up and calls
    again. Each call is a CCR-Initial the OCS accepts, then CC-Time in CCR-Terminate."""
    rows = _linked_rows(database_url)
    pairs: dict[tuple[str, str], Any] = {}
    for row in rows:
        if row.caller_e164 and row.callee_e164 and row.beep_outcome \
                and row.callback_kind is None:
            pairs[(row.caller_e164, row.callee_e164)] = row
    if not pairs:
        return
    echo("")
    echo("Some callees saw the missed call and call back; one caller tops up:")
    ids = itertools.count(10_000)
    calls: list[tuple[str, str, str]] = []
    rang = [(a, b) for (a, b), row in sorted(pairs.items())
            if row.beep_outcome in RANG_OUTCOMES and b not in broke]
    for index, (a, b) in enumerate(rang):
        if index % 3 != 2:  # two callees in three call back
            calls.append((b, a, "callback"))
    failed = [(a, b) for (a, b), row in sorted(pairs.items())
              if row.beep_outcome not in RANG_OUTCOMES]
    if failed:
        calls.append((failed[0][0], failed[0][1], "topped up"))
    for caller, callee, why in calls:
        key = caller[-9:].encode()
        waited = 0
        while key not in tap.subscribers and waited < 50:  # watches reach the relay
            yield task.deferLater(reactor, 0.1, lambda: None)
            waited += 1
        if why == "topped up":
            broke.discard(caller)
        number = next(ids)
        session = f"{DEMO_CLIENT};{int(time.time())};{number}"
        call = CallAttempt(session_id=session, origin_host=DEMO_CLIENT,
                           origin_realm="cscf.demo.beepcall",
                           destination_realm="ocs.demo.beepcall",
                           subscription_ids=e164(caller),
                           calling_party_address=f"tel:+{caller}",
                           called_party_address=f"tel:+{callee}")
        answer = yield client.request(ccr(call, hop_by_hop=number, end_to_end=number))
        seconds = rng.randint(15, 240)
        echo(f"{time.strftime('%H:%M:%S')}  {caller:>12} -> {callee:<12} IMS voice   "
             f"{_result_label(answer)}  ({why}; talks {seconds} s)")
        yield task.deferLater(reactor, 0.3, lambda: None)
        call = replace(call, request_type=CC_TERMINATE, request_number=1,
                       used_seconds=seconds)
        yield client.request(ccr(call, hop_by_hop=number + 50_000,
                                 end_to_end=number + 50_000))
        if why == "callback":
            stats.callbacks += 1
        else:
            stats.topped_up += 1
    expected = len(calls)
    for _ in range(100):  # the side work links them and adds the CC-Time
        rows = _linked_rows(database_url)
        charged = [r for r in rows if r.callback_kind and r.callback_charged_seconds]
        if len(charged) >= expected:
            break
        yield task.deferLater(reactor, 0.1, lambda: None)


def _print_attempts(database_url: str, echo: Callable[[str], None]) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = list(connection.execute(select(Attempt).order_by(Attempt.id)))
    finally:
        engine.dispose()
    echo(f"{len(rows)} out-of-credit voice attempts in the attempts table "
         "(Gy data never counts):")
    echo(f"  {'caller (A)':>12}  {'callee (B)':>12}  {'class':<9} {'code':>4} {'found':<9}"
         f" {'status':<9} beep")
    for row in rows:
        beep = row.beep_outcome or ""
        if row.ring_time_ms is not None:
            beep = f"rang {row.ring_time_ms} ms, then cancelled: B sees a missed call"
        elif row.beep_sip_code:
            beep += f" ({row.beep_sip_code})"
        if row.sms_status:
            beep += f"; SMS {row.sms_status}"
            if row.sms_campaign_id is not None:
                beep += " with the ad"
        if row.callback_kind:
            beep += (f"; {row.callback_kind.replace('_', ' ')} "
                     f"{(row.callback_delay_ms or 0) / 1000:.1f} s later, "
                     f"{row.callback_charged_seconds or 0} s charged")
        echo(f"  {row.caller_e164 or '?':>12}  {row.callee_e164 or '?':>12}  "
             f"{row.callee_class:<9} {row.result_code:>4} {row.result_code_source:<9} "
             f"{row.status:<9} {beep}")


@defer.inlineCallbacks
def _sms_settled(reactor: Any, database_url: str) -> Any:
    """Give the SMS of the beeped attempts time to go out and be delivered (at most
    10 s)."""
    engine = make_engine(database_url)
    try:
        for _ in range(100):
            with engine.connect() as connection:
                open_ = connection.execute(select(func.count()).select_from(Attempt).where(
                    Attempt.sms_status.in_(_SMS_OPEN))).scalar_one()
            if open_ == 0:
                return
            yield task.deferLater(reactor, 0.1, lambda: None)
    finally:
        engine.dispose()


@defer.inlineCallbacks
def _beeps_settled(reactor: Any, database_url: str, expected: int) -> Any:
    """Give the beeps of the last calls time to ring and be cancelled (at most 10 s)."""
    engine = make_engine(database_url)
    try:
        for _ in range(100):
            with engine.connect() as connection:
                open_ = connection.execute(select(func.count()).select_from(Attempt).where(
                    Attempt.status.in_((AttemptStatus.RECORDED, AttemptStatus.BEEPING)),
                    Attempt.caller_e164.is_not(None),
                    Attempt.callee_e164.is_not(None))).scalar_one()
                total = connection.execute(select(func.count()).select_from(Attempt)) \
                    .scalar_one()
            if open_ == 0 and total >= expected:
                return
            yield task.deferLater(reactor, 0.1, lambda: None)
    finally:
        engine.dispose()
