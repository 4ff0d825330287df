"""The durable, append-only event log every signal from customers and providers goes to first.

A folder of JSON-lines segments (`events-000001.jsonl`, ...), one event per line. An event is on disk
(written and fsynced) before the service answers the request that produced it, so a crash loses
nothing that was acknowledged; the warehouse is not involved, so the service keeps answering while
DuckDB is locked or busy. Appends from concurrent requests are committed together (group commit):
one write and one fsync carry every event that arrived while the previous fsync ran.

A reader resumes from a cursor, `"<segment>:<offset>"`, and only ever sees whole lines; the Dagster
sensor keeps the cursor with the events it loaded, so nothing is loaded twice or skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SEGMENT_BYTES = 64 * 1024 * 1024
START = "0:0"


def new_event(kind: str, **fields: Any) -> dict[str, Any]:
    """An event as the log stores it: an id (dedupe key downstream), a UTC time, its kind and fields."""
    return {"event_id": uuid.uuid4().hex, "at": datetime.now(UTC).isoformat(timespec="milliseconds"), "kind": kind} | {
        k: v for k, v in fields.items() if v is not None
    }


def _segment_name(number: int) -> str:
    return f"events-{number:06d}.jsonl"


def _segments(folder: Path) -> list[int]:
    return sorted(int(p.stem.split("-")[1]) for p in folder.glob("events-*.jsonl"))


@dataclass(frozen=True)
class Cursor:
    segment: int
    offset: int

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        segment, _, offset = (text or START).partition(":")
        return cls(int(segment), int(offset or 0))

    def __str__(self) -> str:
        return f"{self.segment}:{self.offset}"


class EventLog:
    """Appends (thread-safe, durable on return) and reads (from a cursor) one log folder."""

    def __init__(self, folder: Path | str, *, durable: bool = True, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.durable = durable  # False only for the benchmark's "without the log's fsync" side
        self._segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._io = threading.Lock()  # one writer of the file at a time (the thread below, `write_now`)
        self._pending: list[tuple[bytes, Future[None]]] = []
        self._wake = threading.Condition(self._lock)
        self._closed = False
        numbers = _segments(self.folder)
        self._number = numbers[-1] if numbers else 1
        self._file = open(self.folder / _segment_name(self._number), "ab")  # noqa: SIM115 - kept open
        self._truncate_partial_line()
        self._writer = threading.Thread(target=self._write_loop, name="event-log", daemon=True)
        self._writer.start()

    def _truncate_partial_line(self) -> None:
        """A crash mid-write can leave half a line at the end; it was never acknowledged, so drop it."""
        path = self.folder / _segment_name(self._number)
        data = path.read_bytes()[-65536:] if path.stat().st_size else b""
        if data and not data.endswith(b"\n"):
            size = path.stat().st_size
            keep = size - (len(data) - data.rfind(b"\n") - 1)
            os.truncate(path, keep)

    # -- writing ----------------------------------------------------------------------------------

    @staticmethod
    def encode(events: Iterable[Mapping[str, Any]]) -> bytes:
        return b"".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for e in events)

    def submit(self, events: list[Mapping[str, Any]]) -> Future[None]:
        """Queue events; the future resolves once they are on disk."""
        line = self.encode(events)
        done: Future[None] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("event log is closed")
            self._pending.append((line, done))
            self._wake.notify()
        return done

    def append(self, *events: Mapping[str, Any]) -> None:
        """Append and wait until the events are durable."""
        self.submit(list(events)).result()

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._wake.wait()
                batch, self._pending = self._pending, []
                if not batch and self._closed:
                    return
            try:
                self.write_now(b"".join(line for line, _ in batch))
            except BaseException as exc:  # the requests that wait for this batch must hear of it
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for _, done in batch:
                done.set_result(None)

    def write_now(self, data: bytes) -> None:
        """Write whole lines and make them durable before returning (callers batch; see `AsyncAppender`)."""
        with self._io:
            self._file.write(data)
            self._file.flush()
            if self.durable:
                os.fsync(self._file.fileno())
            if self._file.tell() >= self._segment_bytes:
                self._roll()

    def _roll(self) -> None:
        self._file.close()
        self._number += 1
        self._file = open(self.folder / _segment_name(self._number), "ab")  # noqa: SIM115
        if self.durable:
            fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(fd)  # the new segment's name is durable too
            finally:
                os.close(fd)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()
        self._writer.join()
        self._file.close()

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncAppender:
    """Group commit for an asyncio server: requests that arrive while a write is on disk wait for the
    next one, which carries them all (one thread hop and one fsync per batch, not per request)."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._pending: list[tuple[bytes, asyncio.Future[None]]] = []
        self._flushing = False
        self._task: asyncio.Task[None] | None = None  # held, so the loop cannot drop a running flush
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-log-async")

    async def append(self, events: Iterable[Mapping[str, Any]]) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((EventLog.encode(events), done))
        if not self._flushing:
            self._flushing = True
            self._task = loop.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await loop.run_in_executor(self._executor, self.log.write_now, b"".join(d for d, _ in batch))
                except Exception as exc:
                    for _, done in batch:
                        done.set_exception(exc)
                    continue
                for _, done in batch:
                    done.set_result(None)
        finally:
            self._flushing = False

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def end_of(folder: Path | str) -> Cursor:
    """Where the log ends now (what a reader that read everything would hold)."""
    folder = Path(folder)
    numbers = _segments(folder) if folder.exists() else []
    if not numbers:
        return Cursor.parse(START)
    last = numbers[-1]
    data = (folder / _segment_name(last)).read_bytes()
    return Cursor(last, data.rfind(b"\n") + 1)


def read_from(folder: Path | str, cursor: Cursor, *, limit: int = 100_000) -> tuple[list[dict[str, Any]], Cursor]:
    """Whole events after `cursor` (at most about `limit`), and the cursor after them."""
    folder = Path(folder)
    out: list[dict[str, Any]] = []
    if not folder.exists():
        return out, cursor
    for number in _segments(folder):
        if number < cursor.segment:
            continue
        offset = cursor.offset if number == cursor.segment else 0
        with (folder / _segment_name(number)).open("rb") as handle:
            handle.seek(offset)
            for raw in _whole_lines(handle):
                offset += len(raw)
                out.append(json.loads(raw))
                if len(out) >= limit:
                    return out, Cursor(number, offset)
        cursor = Cursor(number, offset)
    return out, cursor


def _whole_lines(handle: Any) -> Iterator[bytes]:
    for raw in handle:
        if not raw.endswith(b"\n"):
            return  # being written: read it next time
        yield raw
