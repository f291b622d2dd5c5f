"""Callback attribution in the side-work process.

Notified attempts (a beep left, an SMS was submitted) become watches in SQL; the watched
subscriber keys and linked Session-Ids are published to the relay, whose tap hands over
only what matches. Here each match is checked exactly (a voice CCR-Initial the OCS
accepted, from B to A or from A to B) and linked, and each linked session's CCR-Update/
Terminate adds its used CC-Time. SQL jobs run one at a time, in arrival order, so a
session's usage never overtakes its link.
"""

from __future__ import annotations

import copy
import heapq
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from twisted.internet import defer, task

from interceptor.callbacks.config import CallbacksConfig
from interceptor.callbacks.store import (
    CallStart,
    Link,
    Notice,
    Usage,
    Watch,
    active_watches,
    add_usage,
    create_watches,
    expire_watches,
    link_call,
)
from interceptor.core import avps
from interceptor.core.reactor import Clock
from interceptor.core.runner import Runner
from interceptor.core.vocabulary import WatchKind
from interceptor.detection.answer import OutOfCreditClassifier
from interceptor.detection.request import CallContextExtractor
from interceptor.diameter import codec
from interceptor.diameter.avpwalk import request_type, used_seconds
from interceptor.numbers import NumberingConfig, normalise

logger = logging.getLogger(__name__)

Publisher = Callable[[dict[str, Any]], None]


@dataclass
class CallbackCounters:
    watches_created: int = 0
    watches_expired: int = 0
    starts_seen: int = 0  # candidate CCR-Initials from the relay
    not_linked: int = 0  # ... that matched no watch (other callee, outside the window)
    linked: dict[str, int] = field(default_factory=dict)  # by kind
    usage_events: int = 0
    charged_seconds: int = 0
    failures: int = 0


@dataclass
class CallbackFigures:
    """The counters and what is watched right now (for metrics and status)."""

    counters: CallbackCounters = field(default_factory=CallbackCounters)
    watches: int = 0
    watched_keys: int = 0
    watched_sessions: int = 0


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class CallbackAttribution:
    def __init__(self, config: CallbacksConfig, engine: Any, runner: Runner, clock: Clock,
                 extractor: CallContextExtractor, classifier: OutOfCreditClassifier,
                 numbering: NumberingConfig) -> None:
        self.config = config
        self.engine = engine
        self.runner = runner
        self.clock = clock
        self.extractor = extractor
        self.classifier = classifier
        self.numbering = numbering
        self.counters = CallbackCounters()
        self.publish: Publisher = lambda update: None
        self._watches: dict[tuple[str, str], Watch] = {}
        self._keys: Counter[str] = Counter()
        self._sessions: Counter[str] = Counter()
        self._expiry: list[tuple[datetime, str, str]] = []
        self._tail: defer.Deferred[Any] = defer.succeed(None)
        self._sweeper = task.LoopingCall(self.sweep)
        self._sweeper.clock = clock

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> defer.Deferred[None]:
        """Load the watches a previous run left (expired ones are dropped)."""
        job = self._serial(active_watches, self.engine, _at(self.clock.seconds()))

        def loaded(watches: list[Watch]) -> None:
            for watch in watches:
                self._add(watch)
            logger.info("callbacks: %d watches active", len(self._watches))
            self._sweeper.start(self.config.sweep_interval, now=False)

        def failed(failure: Any) -> None:
            logger.warning("callbacks: cannot load watches (%s); starting empty",
                           failure.getErrorMessage())
            self._sweeper.start(self.config.sweep_interval, now=False)

        return job.addCallbacks(loaded, failed)

    def stop(self) -> defer.Deferred[Any]:
        if self._sweeper.running:
            self._sweeper.stop()
        return self._tail

    def full_state(self) -> dict[str, Any]:
        return {"reset": True, "add_keys": sorted(self._keys),
                "add_sessions": sorted(self._sessions)}

    @property
    def watching(self) -> int:
        return len(self._watches)

    # -- notifications ---------------------------------------------------------------

    def notified(self, notices: Sequence[Notice]) -> defer.Deferred[Any]:
        """Watch these attempts from the time B was notified. The SMS sender calls this
        once an SMS is submitted (``Notice(attempt_id, submitted_at)``): an attempt
        already watched after its beep keeps its watches."""
        job = self._serial(create_watches, self.engine, list(notices), self.config.window)

        def created(watches: list[Watch]) -> None:
            self.counters.watches_created += len(watches)
            added = [key for watch in watches if (key := self._add(watch)) is not None]
            if added:
                self.publish({"add_keys": sorted(set(added))})

        return job.addCallbacks(created, self._failed, errbackArgs=("create watches",))

    # -- events from the relay -------------------------------------------------------

    def call_started(self, request: bytes, answer: bytes,
                     at: float) -> defer.Deferred[Any]:
        """A watched subscriber's CCR-Initial was answered at ``at``: is it a callback?"""
        self.counters.starts_seen += 1
        start = self._call_start(request, answer, at)
        if start is None:
            self.counters.not_linked += 1
            self._release(self.extractor_session(request))
            return defer.succeed(None)
        job = self._serial(link_call, self.engine, start, self.config)
        return job.addCallbacks(self._linked, self._link_failed,
                                callbackArgs=(start.session_id,),
                                errbackArgs=(start.session_id,))

    def _link_failed(self, failure: Any, session: str) -> None:
        self._failed(failure, "link")
        self._release(session)

    def _release(self, session: str | None) -> None:
        """The relay follows every candidate's session from its start (see the tap);
        one that is not a callback is let go, unless a linked watch holds it."""
        if session is not None and session not in self._sessions:
            self.publish({"remove_sessions": [session]})

    def call_usage(self, request: bytes) -> defer.Deferred[Any]:
        """A linked session's CCR-Update/Terminate: add its used CC-Time."""
        self.counters.usage_events += 1
        session = self.extractor_session(request)
        if session is None:
            return defer.succeed(None)
        seconds = used_seconds(request)
        final = request_type(request) == avps.CC_TERMINATE
        job = self._serial(add_usage, self.engine, session, seconds, final, self.config)
        return job.addCallbacks(self._used, self._failed, errbackArgs=("usage",),
                                callbackArgs=(seconds,))

    @staticmethod
    def extractor_session(request: bytes) -> str | None:
        span = codec.find_avp(request, avps.AVP_SESSION_ID)
        return span.value(request).decode("utf-8", "replace") if span is not None else None

    def _call_start(self, request: bytes, answer: bytes, at: float) -> CallStart | None:
        if codec.result_code(answer) != avps.SUCCESS or \
                self.classifier.out_of_credit(answer) is not None:
            return None
        context = self.extractor.call_context(request)
        if context is None or context.request_type != avps.CC_INITIAL \
                or context.session_id is None:
            return None
        calling = normalise(context.caller_raw, self.numbering).e164
        called = normalise(context.callee_raw, self.numbering).e164
        if calling is None or called is None:
            return None
        return CallStart(_at(at), context.session_id, calling, called)

    def _linked(self, link: Link | None, session: str) -> None:
        if link is None:
            self.counters.not_linked += 1
            self._release(session)
            return
        linked = self.counters.linked
        linked[link.kind] = linked.get(link.kind, 0) + 1
        removed = [key for watch in link.resolved
                   if (key := self._remove(watch)) is not None]
        update: dict[str, Any] = {"remove_keys": sorted(set(removed))}
        if self._add(link.session) is not None:
            update["add_sessions"] = [link.session.watch_key]
        logger.info("callbacks: attempt %s linked (%s, %d ms after the notification)",
                    link.attempt_id, link.kind, link.delay_ms)
        self.publish(update)

    def _used(self, usage: Usage | None, seconds: int) -> None:
        if usage is None:
            return
        self.counters.charged_seconds += seconds
        if usage.session is not None and self._remove(usage.session) is not None:
            self.publish({"remove_sessions": [usage.session.watch_key]})

    # -- expiry ----------------------------------------------------------------------

    def sweep(self) -> None:
        """Drop expired watches here, at the relay, and in SQL."""
        now = _at(self.clock.seconds())
        keys: list[str] = []
        sessions: list[str] = []
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            expires_at, attempt_id, kind = heapq.heappop(expiry)
            watch = self._watches.get((attempt_id, kind))
            if watch is None or watch.expires_at != expires_at:
                continue
            self.counters.watches_expired += 1
            key = self._remove(watch)
            if key is not None:
                (sessions if kind == WatchKind.SESSION else keys).append(key)
        if keys or sessions:
            self.publish({"remove_keys": keys, "remove_sessions": sessions})
        self._serial(expire_watches, self.engine, now).addErrback(
            self._failed, "expire watches")

    # -- bookkeeping -----------------------------------------------------------------

    def _add(self, watch: Watch) -> str | None:
        """Track a watch; the key or Session-Id if the relay must start watching it."""
        ident = (watch.attempt_id, watch.kind)
        if ident in self._watches:
            return None
        self._watches[ident] = watch
        heapq.heappush(self._expiry, (watch.expires_at, watch.attempt_id, watch.kind))
        counts = self._sessions if watch.kind == WatchKind.SESSION else self._keys
        counts[watch.watch_key] += 1
        return watch.watch_key if counts[watch.watch_key] == 1 else None

    def _remove(self, watch: Watch) -> str | None:
        """Forget a watch; the key or Session-Id if the relay may stop watching it."""
        if self._watches.pop((watch.attempt_id, watch.kind), None) is None:
            return None
        counts = self._sessions if watch.kind == WatchKind.SESSION else self._keys
        counts[watch.watch_key] -= 1
        if counts[watch.watch_key] <= 0:
            del counts[watch.watch_key]
            return watch.watch_key
        return None

    def _serial(self, fn: Callable[..., Any], *args: Any) -> defer.Deferred[Any]:
        """Run ``fn`` on the DB runner after every job queued before it."""
        result: defer.Deferred[Any] = defer.Deferred()

        def run(_: object) -> defer.Deferred[Any]:
            job = self.runner.run(fn, *args)
            job.chainDeferred(result)
            return job.addErrback(lambda _: None)

        self._tail = self._tail.addCallback(run)
        return result

    def _failed(self, failure: Any, what: str) -> None:
        self.counters.failures += 1
        logger.warning("callbacks: cannot %s: %s", what, failure.getErrorMessage())

    def figures(self) -> CallbackFigures:
        return CallbackFigures(counters=copy.deepcopy(self.counters),
                               watches=len(self._watches), watched_keys=len(self._keys),
                               watched_sessions=len(self._sessions))
