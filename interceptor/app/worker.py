"""The side-work process's ``main``: read the configuration the relay process wrote, wire
the side work (:class:`interceptor.sidework.worker.SideWork`) and serve the pipe on
stdin/stdout until the relay closes it (EOF: finish, flush, exit).

    python -m interceptor.app.worker --config-json FILE [--base-dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twisted.internet import defer, stdio

from interceptor.config.loader import parse_config
from interceptor.core.runtime import freeze_startup_heap
from interceptor.core.section import ConfigError
from interceptor.sidework.config import SideWorkConfig
from interceptor.sidework.worker import EventStream, SideWork

logger = logging.getLogger(__name__)


def run(config: SideWorkConfig, reactor: Any) -> int:
    work = SideWork(config, reactor)
    finished: defer.Deferred[None] = defer.Deferred()
    status = {"code": 0}

    def start() -> None:
        try:
            work.startService()
        except Exception as error:
            logger.error("side work cannot start: %s", error)
            status["code"] = 2
            reactor.stop()
            return

        def serve(_: object) -> None:
            freeze_startup_heap()  # collector pauses would stretch the beeps' ring time
            stdio.StandardIO(EventStream(work, finished, reactor, config.stats_interval),
                             reactor=reactor)

        work.ready.addCallback(serve)

    @defer.inlineCallbacks
    def finish(_: object) -> Any:
        yield work.stopService()
        logger.info("side work done: %s", work.detector.counters)
        reactor.stop()

    finished.addCallback(finish)
    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)  # the relay process decides when we stop
    return status["code"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="interceptor.app.worker")
    parser.add_argument("--config-json", required=True, type=Path)
    parser.add_argument("--base-dir", type=Path, default=None)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--nice", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s [side-work] %(name)s: %(message)s",
                        stream=sys.stderr)
    try:
        config = parse_config(json.loads(args.config_json.read_text()),
                              source=str(args.config_json), base_dir=args.base_dir)
    except (OSError, ValueError, ConfigError) as error:
        logger.error("side work: bad configuration: %s", error)
        return 2
    side_work = config.side_work
    if side_work is None:
        logger.error("side work started without detection enabled")
        return 2
    # The relay process decides when we stop (EOF on stdin, after it has drained): a
    # terminal's Ctrl-C or a service manager's SIGTERM to the whole group must not cut
    # the recorder's flush short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Where the side work shares a core with the relay, the relay goes first.
    with contextlib.suppress(OSError):
        os.nice(args.nice)
    from twisted.internet import reactor

    return run(side_work, reactor)


if __name__ == "__main__":
    sys.exit(main())
