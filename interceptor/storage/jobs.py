"""The recorder's units of blocking work (each runs on the database thread pool)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from interceptor.storage.records import AttemptRecord, record_to_json
from interceptor.storage.spool import Chunk, Segment, read_chunk, reject, remove_segment
from interceptor.storage.writer import WriteResult, write_attempts


@dataclass(frozen=True)
class ReplayResult:
    chunk: Chunk
    write: WriteResult
    removed: bool


def write_batch(engine: Engine, records: Sequence[AttemptRecord],
                spool_dir: Path) -> WriteResult:
    """Insert a batch from memory; records the database refuses go to ``rejected.jsonl``."""
    result = write_attempts(engine, records)
    _reject_refused(spool_dir, result)
    return result


def replay_chunk(engine: Engine, segment: Segment, max_records: int,
                 spool_dir: Path) -> ReplayResult:
    """Insert the next chunk of a sealed segment; delete the segment once fully written.

    Deletion happens only after the commit: a crash in between replays the chunk again,
    and the idempotent insert ignores it.
    """
    if not segment.path.exists():
        empty = Chunk((), (), segment.offset, segment.line, True)
        return ReplayResult(empty, WriteResult(0, 0), True)
    chunk = read_chunk(segment, max_records)
    result = write_attempts(engine, chunk.records)
    reject(spool_dir, f"spool {segment.path.name}",
           [(bad.text, f"line {bad.line}: {bad.error}") for bad in chunk.bad_lines])
    _reject_refused(spool_dir, result)
    if chunk.eof:
        remove_segment(segment)
    return ReplayResult(chunk, result, chunk.eof)


def _reject_refused(spool_dir: Path, result: WriteResult) -> None:
    reject(spool_dir, "database",
           [(record_to_json(record), error) for record, error in result.rejected])
