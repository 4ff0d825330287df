"""The embedded default channel: messages land in a table and a JSON-lines file instead of a provider.

Lets the demo and a new shop see exactly what would be sent, with no provider credentials.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from channels.base import Adapter
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
    batch_size: ClassVar[int] = 1000
    deduplicates_by_key: ClassVar[bool] = True

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

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def send(self, messages: Sequence[Message], *, idempotency_key: str | None = None) -> list[SendResult]:
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
            if fresh:
                with self.jsonl_path.open("a", encoding="utf-8") as out:
                    for row in fresh:
                        out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    out.flush()
                    os.fsync(out.fileno())
            self._db.execute("commit")
        except BaseException:
            self._db.execute("rollback")
            raise
        return [SendResult(key=m.key, outcome=Outcome.ACCEPTED, provider_id=f"outbox:{m.key}") for m in messages]
