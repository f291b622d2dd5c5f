"""Fixtures of the SIP tests: SIPp processes (captures: the shared
``packet_capture_factory``), cleaned up reliably."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.sip.sipp import SippUas, require_sipp

logger = logging.getLogger(__name__)

SippFactory = Callable[..., SippUas]


@pytest.fixture
def sipp_factory(tmp_path: Path) -> Iterator[SippFactory]:
    """``sipp_factory("ring_cancel.xml", calls=3, ...)`` -> a running SippUas."""
    require_sipp()
    started: list[SippUas] = []

    def start(scenario: str, **kwargs: Any) -> SippUas:
        uas = SippUas(scenario, tmp_path, **kwargs)
        started.append(uas)
        return uas.start()

    try:
        yield start
    finally:
        for uas in started:
            uas.stop()
            logger.info("sipp logs in %s", tmp_path)
