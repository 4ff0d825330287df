"""The durable record of every message: what was planned, claimed, accepted, failed.

SQLite in WAL mode: every state change is committed before the next provider call, so a process
killed at any instant leaves a ledger that says exactly which messages may have reached a provider.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from channels.models import Message, Outcome, SendResult


class State(StrEnum):
    PLANNED = "planned"
    CLAIMED = "claimed"  # written before the provider call
    ACCEPTED = "accepted"
    RETRY = "retry"
    FAILED = "failed"
    UNKNOWN = "unknown"  # claimed, no answer, provider does not deduplicate: a person decides
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"


FINAL_STATES = frozenset({State.ACCEPTED, State.FAILED, State.UNKNOWN, State.DELIVERED, State.OPENED,
                          State.CLICKED})

_SCHEMA = """
create table if not exists messages (
    key text primary key,
    campaign_id text not null,
    customer_id text not null,
    channel text not null,
    purpose text not null,
    adapter text not null,
    address_hash text not null,
    state text not null,
    attempts integer not null default 0,
    provider_id text,
    reason text,
    planned_at text not null,
    updated_at text not null
);
create index if not exists messages_state on messages(state);
create table if not exists transitions (
    id integer primary key autoincrement,
    key text not null,
    state text not null,
    detail text,
    at text not null
);
create table if not exists suppressions (
    channel text not null,
    address_hash text not null,
    reason text not null,
    at text not null,
    primary key (channel, address_hash)
);
"""


def address_hash(address: str) -> str:
    """Suppressions and the ledger keep a hash, not the address itself."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:32]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class LedgerRow:
    key: str
    campaign_id: str
    customer_id: str
    channel: str
    adapter: str
    state: State
    attempts: int
    provider_id: str | None
    reason: str | None


class Ledger:
    """One SQLite file; safe to open from several processes (SQLite serialises the writers)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=60, check_same_thread=False)
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma synchronous=full")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self, statements: Iterable[tuple[str, Sequence[object] | dict[str, object]]]) -> None:
        self._db.execute("begin immediate")
        try:
            for sql, params in statements:
                self._db.execute(sql, params)
            self._db.execute("commit")
        except BaseException:
            self._db.execute("rollback")
            raise

    def plan(self, messages: Sequence[Message], adapter: str) -> int:
        """Record messages as planned; keys already known keep their state. Returns how many are new."""
        now = _now()
        before = self._db.total_changes
        self._db.execute("begin immediate")
        try:
            self._db.executemany(
                "insert or ignore into messages (key, campaign_id, customer_id, channel, purpose, adapter,"
                " address_hash, state, planned_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, 'planned', ?, ?)",
                [(m.key, m.campaign_id, m.customer_id, str(m.channel), str(m.purpose), adapter,
                  address_hash(m.address), now, now) for m in messages],
            )
            self._db.execute("commit")
        except BaseException:
            self._db.execute("rollback")
            raise
        return self._db.total_changes - before

    def states(self, keys: Sequence[str]) -> dict[str, State]:
        out: dict[str, State] = {}
        for i in range(0, len(keys), 900):
            chunk = keys[i : i + 900]
            marks = ",".join("?" * len(chunk))
            for key, state in self._db.execute(f"select key, state from messages where key in ({marks})", chunk):
                out[key] = State(state)
        return out

    def claim(self, keys: Sequence[str]) -> None:
        """Mark messages as about to be sent; committed before the provider call."""
        now = _now()
        self._db.execute("begin immediate")
        try:
            self._db.executemany(
                "update messages set state = 'claimed', attempts = attempts + 1, updated_at = ? where key = ?",
                [(now, k) for k in keys],
            )
            self._db.executemany(
                "insert into transitions (key, state, at) values (?, 'claimed', ?)", [(k, now) for k in keys]
            )
            self._db.execute("commit")
        except BaseException:
            self._db.execute("rollback")
            raise

    def record(self, results: Sequence[SendResult], channel_of: dict[str, tuple[str, str]] | None = None) -> None:
        """Store each result; address-level permanent failures and opt-outs feed the suppression list.

        `channel_of` maps key -> (channel, address) for the messages whose failures should suppress.
        """
        now = _now()
        state_of = {
            Outcome.ACCEPTED: State.ACCEPTED,
            Outcome.RETRY: State.RETRY,
            Outcome.PERMANENT: State.FAILED,
            Outcome.OPTED_OUT: State.FAILED,
            Outcome.CONFIG_ERROR: State.RETRY,
        }
        self._db.execute("begin immediate")
        try:
            for r in results:
                state = state_of[r.outcome]
                self._db.execute(
                    "update messages set state = ?, provider_id = coalesce(?, provider_id), reason = ?,"
                    " updated_at = ? where key = ?",
                    (str(state), r.provider_id, r.reason or (None if state is State.ACCEPTED else str(r.outcome)),
                     now, r.key),
                )
                self._db.execute(
                    "insert into transitions (key, state, detail, at) values (?, ?, ?, ?)",
                    (r.key, str(state), r.reason, now),
                )
                if r.outcome in (Outcome.PERMANENT, Outcome.OPTED_OUT) and channel_of and r.key in channel_of:
                    channel, address = channel_of[r.key]
                    self._db.execute(
                        "insert or replace into suppressions values (?, ?, ?, ?)",
                        (channel, address_hash(address), r.reason or str(r.outcome), now),
                    )
            self._db.execute("commit")
        except BaseException:
            self._db.execute("rollback")
            raise

    def mark(self, keys: Sequence[str], state: State, reason: str | None = None) -> None:
        now = _now()
        self._transaction(
            [("update messages set state = ?, reason = coalesce(?, reason), updated_at = ? where key = ?",
              (str(state), reason, now, k)) for k in keys]
            + [("insert into transitions (key, state, detail, at) values (?, ?, ?, ?)", (k, str(state), reason, now))
               for k in keys]
        )

    def rows(self, campaign_id: str | None = None) -> list[LedgerRow]:
        sql = ("select key, campaign_id, customer_id, channel, adapter, state, attempts, provider_id, reason"
               " from messages")
        params: tuple[object, ...] = ()
        if campaign_id is not None:
            sql += " where campaign_id = ?"
            params = (campaign_id,)
        return [LedgerRow(*row[:5], State(row[5]), *row[6:]) for row in self._db.execute(sql + " order by key", params)]

    def suppressed(self) -> set[tuple[str, str]]:
        """(channel, address_hash) pairs that must not be messaged again."""
        return {(c, h) for c, h in self._db.execute("select channel, address_hash from suppressions")}
