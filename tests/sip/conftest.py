"""Fixtures of the SIP tests: SIPp processes and packet captures, cleaned up reliably."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.capture import PacketCapture, require_tool
from tests.sip.sipp import SippUas, require_sipp

logger = logging.getLogger(__name__)

SippFactory = Callable[..., SippUas]
CaptureFactory = Callable[..., PacketCapture]


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


@pytest.fixture
def capture_factory(tmp_path: Path) -> Iterator[CaptureFactory]:
    """``capture_factory(sip_udp_ports=[port])`` -> a started PacketCapture on lo."""
    require_tool("tshark")
    captures: list[PacketCapture] = []

    def start(**kwargs: Any) -> PacketCapture:
        capture = PacketCapture(tmp_path / "capture", name=f"sip-{len(captures)}", **kwargs)
        captures.append(capture)
        return capture.start()

    try:
        yield start
    finally:
        for capture in captures:
            with contextlib.suppress(Exception):
                capture.close()
