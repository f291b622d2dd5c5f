"""The on-disk spool: append-only segments, one owner, chunked replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from interceptor.storage.records import record_to_json
from interceptor.storage.spool import (
    REJECTED_NAME,
    Segment,
    Spool,
    SpoolLockedError,
    read_chunk,
    reject,
    remove_segment,
)
from tests.storage.fakes import attempt


def segments(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.glob("attempts-*.jsonl"))


def test_appends_are_json_lines_in_the_active_segment(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.open()
    records = [attempt(index) for index in range(3)]
    spool.append(records[:2])
    spool.append(records[2:])
    assert spool.active_records == 3
    assert spool.sealed_count == 0
    [name] = segments(tmp_path)
    lines = (tmp_path / name).read_text().splitlines()
    assert lines == [record_to_json(record) for record in records]
    spool.close()


def test_one_process_per_directory(tmp_path: Path) -> None:
    first = Spool(tmp_path)
    first.open()
    with pytest.raises(SpoolLockedError, match="in use by another process"):
        Spool(tmp_path).open()
    first.close()
    second = Spool(tmp_path)
    second.open()
    second.close()


def test_sealed_segments_replay_in_chunks(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.open()
    records = [attempt(index) for index in range(5)]
    spool.append(records)
    segment = spool.seal()
    assert segment is not None and spool.active_records == 0
    spool.append([attempt(99)])  # goes to a new active segment
    assert len(segments(tmp_path)) == 2

    first = read_chunk(segment, 3)
    assert first.records == tuple(records[:3]) and not first.eof
    segment.offset, segment.line = first.next_offset, first.next_line
    second = read_chunk(segment, 3)
    assert second.records == tuple(records[3:]) and second.eof
    remove_segment(segment)
    spool.forget(segment)
    assert spool.sealed_count == 0
    assert len(segments(tmp_path)) == 1
    spool.close()


def test_segments_left_by_an_earlier_run_are_adopted(tmp_path: Path) -> None:
    earlier = Spool(tmp_path)
    earlier.open()
    earlier.append([attempt(1)])
    earlier.close()
    later = Spool(tmp_path)
    later.open()
    assert later.sealed_count == 1
    segment = later.next_sealed()
    assert segment is not None
    assert read_chunk(segment, 10).records[0].session_id == attempt(1).session_id
    later.append([attempt(2)])  # never reuses an adopted segment's name
    assert len(segments(tmp_path)) == 2
    later.close()


def test_torn_and_corrupt_lines_are_reported_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "attempts-0000000001.jsonl"
    good = record_to_json(attempt(1))
    path.write_text(f"{good}\n{{broken\n\n{good[:40]}")  # last line torn by a crash
    chunk = read_chunk(Segment(path, path.stat().st_size), 100)
    assert len(chunk.records) == 1
    assert [bad.line for bad in chunk.bad_lines] == [2, 4]
    assert chunk.eof


def test_rejected_lines_are_kept_for_the_operator(tmp_path: Path) -> None:
    reject(tmp_path, "spool attempts-0000000001.jsonl", [("{broken", "line 2: not JSON")])
    [entry] = [json.loads(line) for line in (tmp_path / REJECTED_NAME).read_text()
               .splitlines()]
    assert entry["line"] == "{broken"
    assert entry["error"] == "line 2: not JSON"


def test_append_after_close_is_an_os_error(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    with pytest.raises(OSError, match="not open"):
        spool.append([attempt()])
