"""The embedded default channel: messages land in a table and a JSON-lines file instead of a provider.

Lets the demo and a new shop see exactly what would be sent, with no provider credentials.

The table is the truth (one row per key: sending a key again is a no-op, which is why the outbox
deduplicates by key). The JSON-lines file follows it exactly once per key even across a killed
process: lines are appended after the table commits, and opening the outbox appends whatever a kill
left out (and drops a half-written last line).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from channels.base import Adapter, Limits
from channels.models import Channel, Message, Outcome, SendResult

_SCHEMA = """
create table if not exists outbox (
    key text primary key,
    campaign_id text not null,
    customer_id text not null,
    channel text not null,
    purpose text not null,
    address text not null,
    subject text,
    body text not null,
    data text not null,
    written_at text not null
)
"""


class OutboxAdapter(Adapter):
    """Writes each message once (keyed) to `outbox.sqlite` and appends it to `outbox.jsonl`."""

    name: ClassVar[str] = "outbox"
    channels: ClassVar[frozenset[Channel]] = frozenset(Channel)
    limits = Limits(
        batch_size=1000,
        deduplicates_by_key=True,
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> OutboxAdapter:
        """`DANGOL_OUTBOX_DIR` (default `outbox/`); no secret."""
        return cls(Path(environ.get("DANGOL_OUTBOX_DIR", "outbox")))

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def table_path(self) -> Path:
        return self.directory / "outbox.sqlite"

    @property
    def jsonl_path(self) -> Path:
        return self.directory / "outbox.jsonl"

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.table_path, isolation_level=None, check_same_thread=False)
        self._db.execute("pragma journal_mode=wal")
        self._db.execute(_SCHEMA)
        self._repair_jsonl()

    def _repair_jsonl(self) -> None:
        assert self._db is not None
        written: set[str] = set()
        if self.jsonl_path.exists():
            with self.jsonl_path.open("rb+") as f:
                data = f.read()
                if data and not data.endswith(b"\n"):  # killed mid-line: drop the fragment
                    data = data[: data.rfind(b"\n") + 1]
                    f.truncate(len(data))
            written = {json.loads(line)["key"] for line in data.splitlines() if line.strip()}
        columns = (
            "key",
            "campaign_id",
            "customer_id",
            "channel",
            "purpose",
            "address",
            "subject",
            "body",
            "data",
            "written_at",
        )
        missing = [
            dict(zip(columns, row, strict=True))
            for row in self._db.execute("select * from outbox order by rowid")
            if row[0] not in written
        ]
        self._append([row | {"data": json.loads(str(row["data"]))} for row in missing])

    def _append(self, rows: list[dict[str, object]]) -> None:
        if not rows:
            return
        with self.jsonl_path.open("a", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def send(self, messages: Sequence[Message], *, idempotency_key: str) -> list[SendResult]:
        with self._lock:
            return self._send(messages)

    def _send(self, messages: Sequence[Message]) -> list[SendResult]:
        if self._db is None:
            self.open()
        assert self._db is not None
        now = datetime.now(UTC).isoformat(timespec="seconds")
        fresh: list[dict[str, object]] = []
        self._db.execute("begin immediate")
        try:
            for m in messages:
                row = {
                    "key": m.key,
                    "campaign_id": m.campaign_id,
                    "customer_id": m.customer_id,
                    "channel": str(m.channel),
                    "purpose": str(m.purpose),
                    "address": m.address,
                    "subject": m.subject,
                    "body": m.body,
                    "data": json.dumps(m.data, ensure_ascii=False, sort_keys=True),
                    "written_at": now,
                }
                cur = self._db.execute(
                    "insert or ignore into outbox values (:key, :campaign_id, :customer_id, :channel,"
                    " :purpose, :address, :subject, :body, :data, :written_at)",
                    row,
                )
                if cur.rowcount:
                    fresh.append(row | {"data": m.data})
            self._db.execute("commit")
        except BaseException:
            self._db.execute("rollback")
            raise
        self._append(fresh)
        return [SendResult(key=m.key, outcome=Outcome.ACCEPTED, provider_id=f"outbox:{m.key}") for m in messages]
