"""The on-disk spool: where attempts wait while the database cannot take them.

Layout of ``spool_dir``::

    spool.lock                 flock()ed by the one process using this directory
    attempts-0000000007.jsonl  sealed segments: replayed oldest first, then deleted
    attempts-0000000008.jsonl  the active segment: appended to, never read
    rejected.jsonl             records the database refused (kept for the operator)

Each record is one JSON line, written with a single ``os.write`` on an ``O_APPEND``
descriptor, so it is in the kernel as soon as ``append`` returns and survives a crash of
the process. **fsync policy**: with ``spool_fsync: true`` (the default) an ``fsync`` of the
segment (and of the directory when a segment is created) is requested after each append
and runs on a separate one-thread pool, coalesced (at most one in flight), so the reactor
never waits for the disk; ``close()`` fsyncs synchronously. Hence an OS crash or power
loss may lose at most the attempts appended in the last few milliseconds; with
``spool_fsync: false`` that window is whatever the kernel's writeback leaves.

Replay is idempotent: a segment is deleted only after all its records are committed, and
a crash between commit and deletion replays records the database then ignores (their
``attempt_id`` already exists).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from interceptor.core.runner import Runner
from interceptor.storage.records import AttemptRecord, record_from_json, record_to_json

logger = logging.getLogger(__name__)

LOCK_NAME = "spool.lock"
REJECTED_NAME = "rejected.jsonl"
_PREFIX = "attempts-"
_SUFFIX = ".jsonl"


class SpoolLockedError(RuntimeError):
    """Another process is using this spool directory."""


@dataclass(eq=False)
class Segment:
    """A sealed segment and how far its replay got (bytes and lines already written)."""

    path: Path
    size: int
    offset: int = 0
    line: int = 0


@dataclass(frozen=True)
class BadLine:
    line: int
    text: str
    error: str


@dataclass(frozen=True)
class Chunk:
    records: tuple[AttemptRecord, ...]
    bad_lines: tuple[BadLine, ...]
    next_offset: int
    next_line: int
    eof: bool


@dataclass
class _Active:
    path: Path
    fd: int
    size: int = 0
    records: int = 0


@dataclass
class Spool:
    """Reactor-side owner of the spool directory (appends, sealing, the lock)."""

    directory: Path
    fsync: bool = True
    syncer: Runner | None = None
    _lock_fd: int | None = field(default=None, init=False)
    _active: _Active | None = field(default=None, init=False)
    _sealed: list[Segment] = field(default_factory=list, init=False)
    _next_seq: int = field(default=1, init=False)
    _sync_in_flight: bool = field(default=False, init=False)
    _sync_again: set[Path] = field(default_factory=set, init=False)

    def open(self) -> None:
        """Take the lock and adopt every segment left by earlier runs as sealed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise SpoolLockedError(
                f"spool directory {self.directory} is in use by another process") from None
        os.ftruncate(lock_fd, 0)
        os.write(lock_fd, f"{os.getpid()}\n".encode())
        self._lock_fd = lock_fd
        found = sorted((seq, path) for path in self.directory.iterdir()
                       if (seq := _segment_seq(path)) is not None)
        self._sealed = [Segment(path, path.stat().st_size) for _, path in found]
        self._next_seq = found[-1][0] + 1 if found else 1
        if self._sealed:
            logger.info("spool %s: %s segment(s), %s bytes to replay", self.directory,
                        len(self._sealed), self.backlog_bytes)

    @property
    def is_open(self) -> bool:
        return self._lock_fd is not None

    def close(self) -> None:
        """Seal the active segment (fsynced) and release the lock."""
        if self._active is not None:
            path = self._active.path
            self._close_active()
            if self.fsync:
                _fsync_path(path, self.directory)
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def append(self, records: Sequence[AttemptRecord]) -> None:
        """Write records to the active segment; OSError if the disk refuses them."""
        if not records:
            return
        if self._lock_fd is None:
            raise OSError(f"spool {self.directory} is not open")
        data = "".join(record_to_json(record) + "\n" for record in records).encode()
        created = self._active is None
        active = self._ensure_active()
        view = memoryview(data)
        while view:
            written = os.write(active.fd, view)
            view = view[written:]
        active.size += len(data)
        active.records += len(records)
        if self.fsync:
            self._request_sync(active.path, created)

    def seal(self) -> Segment | None:
        """Close the active segment so it can be replayed; new appends start another."""
        if self._active is None:
            return None
        active = self._active
        self._close_active()
        segment = Segment(active.path, active.size)
        self._sealed.append(segment)
        return segment

    @property
    def active_records(self) -> int:
        return self._active.records if self._active else 0

    def next_sealed(self) -> Segment | None:
        return self._sealed[0] if self._sealed else None

    def forget(self, segment: Segment) -> None:
        """The segment was replayed and deleted."""
        if segment in self._sealed:
            self._sealed.remove(segment)

    @property
    def sealed_count(self) -> int:
        return len(self._sealed)

    @property
    def backlog_bytes(self) -> int:
        active = self._active.size if self._active else 0
        return active + sum(segment.size - segment.offset for segment in self._sealed)

    def _ensure_active(self) -> _Active:
        if self._active is None:
            path = self.directory / f"{_PREFIX}{self._next_seq:010d}{_SUFFIX}"
            self._next_seq += 1
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
            self._active = _Active(path, fd)
        return self._active

    def _close_active(self) -> None:
        if self._active is not None:
            os.close(self._active.fd)
            self._active = None

    def _request_sync(self, path: Path, with_directory: bool) -> None:
        if self.syncer is None:
            _fsync_path(path, self.directory if with_directory else None)
            return
        if self._sync_in_flight:
            self._sync_again.add(path)
            return
        self._sync_in_flight = True
        done = self.syncer.run(_fsync_path, path, self.directory if with_directory else None)
        done.addErrback(lambda failure: logger.error("spool fsync failed: %s",
                                                     failure.getErrorMessage()))
        done.addBoth(self._sync_done)

    def _sync_done(self, _: object) -> None:
        self._sync_in_flight = False
        if self._sync_again:
            path = self._sync_again.pop()
            self._sync_again.clear()
            self._request_sync(path, True)


def _segment_seq(path: Path) -> int | None:
    name = path.name
    if not (name.startswith(_PREFIX) and name.endswith(_SUFFIX)):
        return None
    digits = name[len(_PREFIX):-len(_SUFFIX)]
    return int(digits) if digits.isdigit() else None


def _fsync_path(path: Path, directory: Path | None) -> None:
    """fsync a file by path (any descriptor of a file syncs its data), then its directory."""
    targets = [path] if directory is None else [path, directory]
    for target in targets:
        try:
            fd = os.open(target, os.O_RDONLY)
        except FileNotFoundError:
            continue  # already replayed and deleted: nothing left to protect
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- thread-side helpers (blocking file I/O, run on the database thread pool) ------------

def read_chunk(segment: Segment, max_records: int) -> Chunk:
    """Read up to ``max_records`` lines of a sealed segment from its replay offset."""
    records: list[AttemptRecord] = []
    bad: list[BadLine] = []
    line_number = segment.line
    with segment.path.open("rb") as stream:
        stream.seek(segment.offset)
        while len(records) + len(bad) < max_records:
            raw = stream.readline()
            if not raw:
                break
            line_number += 1
            text = raw.decode("utf-8", errors="replace").strip()
            if not text:
                continue
            try:
                records.append(record_from_json(text))
            except ValueError as error:
                bad.append(BadLine(line_number, text, str(error)))
        offset = stream.tell()
        eof = not stream.read(1)
    return Chunk(tuple(records), tuple(bad), offset, line_number, eof)


def remove_segment(segment: Segment) -> None:
    segment.path.unlink(missing_ok=True)
    _fsync_path(segment.path.parent, None)


def reject(directory: Path, source: str, entries: Sequence[tuple[str, str]]) -> None:
    """Keep refused lines/records for the operator in ``rejected.jsonl`` (fsynced)."""
    if not entries:
        return
    now = datetime.now(UTC).isoformat()
    lines = "".join(
        json.dumps({"at": now, "source": source, "error": error, "line": text},
                   ensure_ascii=False) + "\n"
        for text, error in entries)
    path = directory / REJECTED_NAME
    with path.open("a", encoding="utf-8") as stream:
        stream.write(lines)
        stream.flush()
        os.fsync(stream.fileno())
