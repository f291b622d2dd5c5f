"""Process-level tuning shared by the relay and the side-work process."""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger(__name__)


def freeze_startup_heap() -> None:
    """Keep the garbage collector's full passes short: the modules, config and services
    built at startup (hundreds of thousands of objects with Twisted and SQLAlchemy) move
    to the permanent generation, so a full collection scans only what came after.
    Without this, full collections stall the reactor for milliseconds at a time."""
    gc.collect()
    gc.freeze()
    # The relay path makes no reference cycles, only short-lived objects freed by
    # reference counting; collecting every 700 allocations would only cost pauses.
    gc.set_threshold(50_000, 20, 20)
    logger.debug("froze %d startup objects out of the collector's way", gc.get_freeze_count())
