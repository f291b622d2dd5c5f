"""The HTML report: self-contained (no network), rendered by headless Chromium (Debian
``chromium``) into a screenshot that is not blank."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from cli.main import main
from interceptor.storage.engine import make_engine
from interceptor.storage.migrate import upgrade
from tests.reports.fixtures import load

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    load(engine)
    yield engine
    engine.dispose()


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the rows of raw RGB(A) bytes of a non-interlaced 8-bit PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", b""
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunk = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6)
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    position = 0
    for _ in range(height):
        kind = raw[position]
        line = bytearray(raw[position + 1:position + 1 + stride])
        position += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, [row[i:i + 3] for row in rows[::4]
                           for i in range(0, stride, channels * 4)]


def test_html_report_renders_in_headless_chromium(engine: Engine, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian chromium is required (apt-get install chromium)"
    page = tmp_path / "report.html"
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(main, ["report", "--database-url", url, "--since",
                                       "2026-11-20", "--until", "2026-11-22", "--html",
                                       str(page)])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    # Self-contained: no scripts, stylesheets or images fetched from anywhere.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html
    assert html.count("<svg") == 5  # over time, outcome mix, delays, by class, by campaign
    for text in ("Attempts and beeps per hour", "Beep outcome mix",
                 "Callback delay distribution", "Callback rate by callee class",
                 "Callback rate by campaign", "50.0%", "290.00"):
        assert text in html
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1000",
         f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert shot.exists(), run.stderr[-2000:]
    width, height, pixels = png_pixels(shot)
    assert (width, height) == (1000, 1000)
    distinct = set(pixels)
    # Not blank: many colours (charts, text), and a real spread of brightness.
    assert len(distinct) > 50
    brightness = [sum(pixel) / 3 for pixel in pixels]
    mean = sum(brightness) / len(brightness)
    variance = sum((b - mean) ** 2 for b in brightness) / len(brightness)
    assert variance > 100
    # The chart colours made it to the screen (blue bars, amber series).
    assert any(abs(p[0] - 0x25) < 20 and abs(p[1] - 0x63) < 20 and p[2] > 0xC0
               for p in distinct)
