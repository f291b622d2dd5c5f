"""Callback attribution in SQL (plain synchronous functions for the DB thread).

``callback_watches`` holds what is watched, so a restart loses nothing and expiry keeps
it small: per notified attempt a ``callee`` watch (B may call A back) and a ``caller``
watch (A may call B once topped up), both until the window ends; per linked callback a
``session`` watch (its CCR-Update/Terminate carry the charged time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, or_, select, update

from interceptor.callbacks.config import CallbacksConfig
from interceptor.core.vocabulary import (
    RANG_OUTCOMES,
    SMS_SENT_STATUSES,
    CallbackKind,
    WatchKind,
)
from interceptor.numbers import watch_key
from interceptor.storage.models import Attempt, CallbackWatch


@dataclass(frozen=True)
class Watch:
    attempt_id: str
    kind: str  # a WatchKind
    watch_key: str
    expires_at: datetime


@dataclass(frozen=True)
class Notice:
    """B was notified for this attempt (beep sent, or SMS submitted) at ``at``."""

    attempt_id: str
    at: datetime


@dataclass(frozen=True)
class CallStart:
    """A watched subscriber's voice call that the OCS accepted."""

    at: datetime
    session_id: str
    calling_e164: str
    called_e164: str


@dataclass(frozen=True)
class Link:
    attempt_id: str
    kind: CallbackKind
    delay_ms: int
    session: Watch
    resolved: tuple[Watch, ...]  # the watches this link ended


@dataclass(frozen=True)
class Usage:
    attempt_id: str
    charged_seconds: int
    revenue: Decimal
    final: bool
    session: Watch | None  # the session watch removed (on CCR-Terminate)


def _watch(row: Any) -> Watch:
    return Watch(row.attempt_id, row.kind, row.watch_key, row.expires_at)


def create_watches(engine: Engine, notices: Sequence[Notice], window: float) -> list[Watch]:
    """Watches for notified attempts not linked yet (idempotent per attempt and kind)."""
    if not notices:
        return []
    at = {notice.attempt_id: notice.at for notice in notices}
    created: list[Watch] = []
    with engine.begin() as connection:
        rows = connection.execute(
            select(Attempt.attempt_id, Attempt.caller_e164, Attempt.callee_e164)
            .where(Attempt.attempt_id.in_(list(at)), Attempt.callback_kind.is_(None),
                   Attempt.caller_e164.is_not(None), Attempt.callee_e164.is_not(None)))
        attempts = list(rows)
        existing = {(r.attempt_id, r.kind) for r in connection.execute(
            select(CallbackWatch.attempt_id, CallbackWatch.kind)
            .where(CallbackWatch.attempt_id.in_(list(at))))}
        values = []
        for row in attempts:
            notified = at[row.attempt_id]
            expires = notified + timedelta(seconds=window)
            for kind, party, other in ((WatchKind.CALLEE, row.callee_e164, row.caller_e164),
                                       (WatchKind.CALLER, row.caller_e164, row.callee_e164)):
                if (row.attempt_id, kind) in existing:
                    continue
                key = watch_key(party).decode()
                values.append({"attempt_id": row.attempt_id, "kind": kind, "watch_key": key,
                               "party_e164": party, "other_e164": other,
                               "notified_at": notified, "expires_at": expires})
                created.append(Watch(row.attempt_id, kind, key, expires))
        if values:
            connection.execute(insert(CallbackWatch), values)
    return created


def active_watches(engine: Engine, now: datetime) -> list[Watch]:
    """Drop what has expired; the rest (what a restart must watch again)."""
    with engine.begin() as connection:
        connection.execute(delete(CallbackWatch).where(CallbackWatch.expires_at <= now))
        return [_watch(row) for row in connection.execute(select(CallbackWatch))]


def expire_watches(engine: Engine, now: datetime) -> int:
    with engine.begin() as connection:
        result = connection.execute(delete(CallbackWatch)
                                    .where(CallbackWatch.expires_at <= now))
        return int(result.rowcount or 0)


def link_call(engine: Engine, start: CallStart, config: CallbacksConfig) -> Link | None:
    """Link a successful call to the most recently notified attempt it answers: B calling
    A (callback / after_sms) or A calling B (topped_up), inside the window."""
    calling_key = watch_key(start.calling_e164).decode()
    called_key = watch_key(start.called_e164)
    with engine.begin() as connection:
        candidates = connection.execute(
            select(CallbackWatch)
            .where(CallbackWatch.watch_key == calling_key,
                   CallbackWatch.kind.in_((WatchKind.CALLEE, WatchKind.CALLER)),
                   CallbackWatch.notified_at <= start.at,
                   CallbackWatch.expires_at > start.at)
            .order_by(CallbackWatch.notified_at.desc(),
                      CallbackWatch.kind.asc())).all()  # "callee" (callback) first
        watch = next((w for w in candidates
                      if w.other_e164 is not None and watch_key(w.other_e164) == called_key),
                     None)
        if watch is None:
            return None
        attempt = connection.execute(
            select(Attempt.beep_outcome, Attempt.sms_status, Attempt.callback_kind)
            .where(Attempt.attempt_id == watch.attempt_id)).first()
        if attempt is None or attempt.callback_kind is not None:
            connection.execute(delete(CallbackWatch).where(CallbackWatch.id == watch.id))
            return None
        if watch.kind == WatchKind.CALLER:
            kind = CallbackKind.TOPPED_UP
        elif attempt.beep_outcome not in RANG_OUTCOMES and attempt.sms_status in SMS_SENT_STATUSES:
            kind = CallbackKind.AFTER_SMS
        else:
            kind = CallbackKind.CALLBACK
        delay_ms = max(0, round((start.at - watch.notified_at).total_seconds() * 1000))
        connection.execute(
            update(Attempt).where(Attempt.attempt_id == watch.attempt_id)
            .values(callback_at=start.at, callback_session_id=start.session_id,
                    callback_delay_ms=delay_ms, callback_kind=kind,
                    callback_charged_seconds=0, callback_revenue=Decimal(0)))
        # The pair's other watches end here: one outcome per notification.
        pair = or_(and_(CallbackWatch.party_e164 == watch.party_e164,
                        CallbackWatch.other_e164 == watch.other_e164),
                   and_(CallbackWatch.party_e164 == watch.other_e164,
                        CallbackWatch.other_e164 == watch.party_e164))
        ended_filter = and_(CallbackWatch.kind.in_((WatchKind.CALLEE, WatchKind.CALLER)), pair,
                            CallbackWatch.notified_at <= start.at)
        ended = [_watch(row) for row in connection.execute(
            select(CallbackWatch).where(ended_filter))]
        connection.execute(delete(CallbackWatch).where(ended_filter))
        session = Watch(watch.attempt_id, WatchKind.SESSION, start.session_id,
                        start.at + timedelta(seconds=config.session_max))
        connection.execute(insert(CallbackWatch).values(
            attempt_id=watch.attempt_id, kind=WatchKind.SESSION, watch_key=start.session_id,
            party_e164=watch.party_e164, other_e164=watch.other_e164,
            notified_at=start.at, expires_at=session.expires_at))
        return Link(watch.attempt_id, kind, delay_ms, session, tuple(ended))


def add_usage(engine: Engine, session_id: str, seconds: int, final: bool,
              config: CallbacksConfig) -> Usage | None:
    """Add a CCR-Update/Terminate's used seconds to the linked attempt; its revenue
    follows (tariff of the attempt's callee class). Terminate ends the session watch."""
    with engine.begin() as connection:
        watch = connection.execute(
            select(CallbackWatch).where(CallbackWatch.kind == WatchKind.SESSION,
                                        CallbackWatch.watch_key == session_id)
            .order_by(CallbackWatch.notified_at.desc())).first()
        if watch is None:
            return None
        attempt = connection.execute(
            select(Attempt.callee_class, Attempt.callback_charged_seconds)
            .where(Attempt.attempt_id == watch.attempt_id)).first()
        if attempt is None:
            return None
        charged = (attempt.callback_charged_seconds or 0) + seconds
        revenue = config.revenue(attempt.callee_class, charged)
        connection.execute(
            update(Attempt).where(Attempt.attempt_id == watch.attempt_id)
            .values(callback_charged_seconds=charged, callback_revenue=revenue))
        ended = None
        if final:
            ended = _watch(watch)
            connection.execute(delete(CallbackWatch).where(CallbackWatch.id == watch.id))
        return Usage(watch.attempt_id, charged, revenue, final, ended)
