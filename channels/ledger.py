"""The durable record of every message: planned -> claimed -> accepted / failed -> delivered / opened /
clicked, plus `retry` (not taken, the next run sends it) and `unknown` (a person decides).

Four things happen to a message, one method each:

* `claim`: about to go to a provider, under a batch id (the request's idempotency key). Committed and
  on disk (`sync`) before the provider call, so a process killed at any instant, or a power cut,
  leaves a ledger that says exactly which messages may have reached a provider: the claimed ones.
* `record`: the provider's answer per message (and the suppression it implies for the address).
* `settle`: what became of a message an interrupted run left claimed, from asking the provider
  (`Adapter.lookup`), from a same-key resend, or `unknown` for a person (`unknowns`, `resolve`).
* read: `rows`, `states`, `claims`, `counts`, `history`, `suppressions`.

One row per message in `messages`, in one shape, whatever happened to it; `with ledger.atomic():`
makes several writes one transaction (the delivery loop records a round's answers and claims the
next requests in one commit). Exceptional transitions (unknown, settled, resolved, receipts) are also
logged in `transitions` with who/why. The ledger keeps a hash of each address, never the address.

One connection guarded by a lock, so a delivery loop, a receipt handler and a CLI may share a
`Ledger` across threads; several processes may open the same file (SQLite serialises the writers).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from channels.masking import mask_text
from channels.models import Message, Outcome, SendResult


class State(StrEnum):
    PLANNED = "planned"
    CLAIMED = "claimed"  # written before the provider call
    ACCEPTED = "accepted"
    RETRY = "retry"  # not taken by the provider; the next run sends it again
    FAILED = "failed"  # permanent failure or opt-out (see `reason`)
    UNKNOWN = "unknown"  # may or may not have reached the provider: a person decides
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"


FINAL_STATES = frozenset({State.ACCEPTED, State.FAILED, State.UNKNOWN, State.DELIVERED, State.OPENED, State.CLICKED})
SENDABLE_STATES = frozenset({State.PLANNED, State.RETRY})
# Receipts only move a message forward along this order.
_PROGRESS = {State.ACCEPTED: 0, State.DELIVERED: 1, State.OPENED: 2, State.CLICKED: 3}

STATE_OF_OUTCOME = {
    Outcome.ACCEPTED: State.ACCEPTED,
    Outcome.RETRY: State.RETRY,
    Outcome.PERMANENT: State.FAILED,
    Outcome.OPTED_OUT: State.FAILED,
    Outcome.CONFIG_ERROR: State.RETRY,  # never reached the provider's queue: safe once fixed
    Outcome.UNKNOWN: State.UNKNOWN,
}

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
    attempts integer not null default 0,  -- requests that carried it
    batch_id text,  -- the last request's idempotency key
    claimed_at text,  -- when that request was claimed
    provider_id text,
    reason text,
    planned_at text not null,
    updated_at text not null
);

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
    kind text not null default 'permanent',
    primary key (channel, address_hash)
);
"""
_COLUMNS = (
    "key",
    "campaign_id",
    "customer_id",
    "channel",
    "purpose",
    "adapter",
    "address_hash",
    "state",
    "attempts",
    "batch_id",
    "claimed_at",
    "provider_id",
    "reason",
    "planned_at",
    "updated_at",
)


class SuppressionKind(StrEnum):
    PERMANENT = "permanent"  # bad address, hard bounce, unregistered token: no message of any purpose
    OPTED_OUT = "opted_out"  # refused advertising on this channel: informational messages still go


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


@dataclass(frozen=True)
class Claim:
    """Where a `claimed` message stands: which request it went out in and when."""

    key: str
    batch_id: str
    claimed_at: datetime


class Ledger:
    """One SQLite file; safe to share across threads and to open from several processes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._depth = 0  # nesting of `atomic` blocks on the thread holding the lock
        self._durable = False  # the open transaction claims or suppresses: on disk when it ends
        self._committed = 0  # commits so far; `sync` has put the first `_synced` of them on disk
        self._synced = 0
        self._sync_lock = threading.Lock()
        self._wal_fd: int | None = None
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=60, check_same_thread=False)
        self._db.execute("pragma journal_mode=wal")
        # A commit reaches the OS (it survives a killed process); `sync` puts it on disk (a power cut).
        self._db.execute("pragma synchronous=normal")
        with self.atomic() as db:
            _migrate(db)
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._db.close()
        with self._sync_lock:
            if self._wal_fd is not None:
                os.close(self._wal_fd)
                self._wal_fd = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def atomic(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction; writes inside join it. When it claims or suppresses anything it is on disk when the
        outermost block ends, unless `durable=False`: then whoever sends what it claimed calls `sync`
        first (the delivery loop's workers do, so the loop's thread never waits for the disk)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            self._db.execute("begin immediate")
            self._depth, self._durable = 1, False
            try:
                yield self._db
                self._db.execute("commit")
                self._committed += 1
            except BaseException:
                self._db.execute("rollback")
                raise
            finally:
                self._depth = 0
            durable_now = self._durable
        if durable_now and durable:
            self.sync()

    @property
    def commits(self) -> int:
        """Write transactions committed through this connection so far (each may cost an fsync)."""
        return self._committed

    def sync(self) -> None:
        """Put every commit made so far on disk. Several threads' calls share one fsync: whoever comes
        while another's is running waits for it and finds its commits covered, or runs the next.

        The fsync is of the WAL file SQLite appends to (the same file while this connection is open),
        rather than SQLite's own `synchronous=full`, which fsyncs inside the commit: the delivery loop's
        thread would wait for the disk every round, and the batch APIs' bar (20,000 recipients/s) is not
        met on this VM's disk that way (an fsync of a batch's pages takes 7-30 ms here)."""
        target = self._committed
        with self._sync_lock:
            if self._synced >= target:
                return
            if self._wal_fd is None:
                self._wal_fd = os.open(f"{self.path}-wal", os.O_RDONLY)
            os.fsync(self._wal_fd)
            self._synced = max(self._synced, target)

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- claim ----------------------------------------------------------------------------------

    def plan(self, messages: Sequence[Message], adapter: str) -> int:
        """Record messages as planned; keys already known keep their state. Returns how many are new."""
        now = _now()
        with self.atomic() as db:
            before = db.total_changes
            db.executemany(
                "insert or ignore into messages (key, campaign_id, customer_id, channel, purpose, adapter,"
                " address_hash, state, planned_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, 'planned', ?, ?)",
                [(*_identity(m, adapter), now, now) for m in messages],
            )
            return db.total_changes - before

    def claim(self, messages: Sequence[Message], batch_id: str, adapter: str) -> list[str]:
        """Mark `messages` as about to be sent in the request `batch_id`; on disk before this returns
        (unless inside `atomic(durable=False)`).

        A message is claimed only if it is sendable (new, planned, retry) or already claimed under this
        same batch id (a resend under the same key). Returns the keys that could not be claimed (another
        run settled or claimed them meanwhile): they must not be sent."""
        return self.claim_batches([(batch_id, messages)], adapter)

    def claim_batches(self, batches: Sequence[tuple[str, Sequence[Message]]], adapter: str) -> list[str]:
        """`claim` for several requests at once (a round of a one-message API)."""
        now = _now()
        # One statement for all of them over a JSON list, what the batch shares bound once: every
        # statement gives up the GIL and waits to get it back behind up to 32 sending threads (up to
        # the 5 ms switch interval), so a statement per request or executemany per row (3x the cost
        # per row) kept both bars (800 messages/s, 20,000 recipients/s) out of reach.
        groups: dict[tuple[str, str, str], list[tuple[str, str, str, str]]] = {}
        for batch_id, messages in batches:
            for m in messages:
                groups.setdefault((m.campaign_id, str(m.channel), str(m.purpose)), []).append(
                    (m.key, m.customer_id, address_hash(m.address), batch_id)
                )
        with self.atomic() as db:
            self._durable = True
            before = db.total_changes
            for (campaign_id, channel, purpose), rows in groups.items():
                db.execute(
                    "insert into messages (key, customer_id, address_hash, batch_id, campaign_id, channel, purpose,"
                    " adapter, state, attempts, claimed_at, planned_at, updated_at)"
                    " select value ->> 0, value ->> 1, value ->> 2, value ->> 3, ?, ?, ?, ?, 'claimed', 1, ?, ?, ?"
                    " from json_each(?) where true"
                    " on conflict (key) do update set state = 'claimed', attempts = attempts + 1,"
                    " campaign_id = excluded.campaign_id, customer_id = excluded.customer_id,"
                    " channel = excluded.channel, purpose = excluded.purpose, address_hash = excluded.address_hash,"
                    " adapter = excluded.adapter, batch_id = excluded.batch_id, claimed_at = excluded.claimed_at,"
                    " updated_at = excluded.updated_at"
                    " where messages.state in ('planned', 'retry')"
                    " or (messages.state = 'claimed' and messages.batch_id = excluded.batch_id)",
                    (campaign_id, channel, purpose, adapter, now, now, now, json.dumps(rows)),
                )
            wanted = [(m.key, batch_id) for batch_id, messages in batches for m in messages]
            if db.total_changes - before == len(wanted):
                return []
            return [
                key
                for (key,) in db.execute(
                    "select j.value ->> 0 from json_each(?) as j join messages as m on m.key = j.value ->> 0"
                    " where not (m.state = 'claimed' and m.batch_id = j.value ->> 1)",
                    (json.dumps(wanted),),
                )
            ]

    # -- record ---------------------------------------------------------------------------------

    def record(self, results: Sequence[SendResult]) -> None:
        """Store each answer; address-level permanent failures and opt-outs feed the suppression list."""
        if not results:
            return
        now = _now()
        # Answers sharing state, request id and reason (a batch accepted whole) are one statement over
        # their keys; the rest (one-message APIs: a request id each) one statement over JSON rows. As
        # in `claim`, the number of statements is what the bars feel.
        groups: dict[tuple[str, str | None, str | None], list[str]] = {}
        suppress = []
        unknown = []
        for r in results:
            state = STATE_OF_OUTCOME[r.outcome]
            reason = mask_text(r.reason) if r.reason else (None if state is State.ACCEPTED else str(r.outcome))
            groups.setdefault((str(state), r.provider_id, reason), []).append(r.key)
            if r.outcome in (Outcome.PERMANENT, Outcome.OPTED_OUT) and r.suppress:
                kind = SuppressionKind.OPTED_OUT if r.outcome is Outcome.OPTED_OUT else SuppressionKind.PERMANENT
                suppress.append([r.key, reason, str(kind)])
            elif r.outcome is Outcome.UNKNOWN:
                unknown.append((r.key, str(State.UNKNOWN), reason, now))
        shared = {g: keys for g, keys in groups.items() if len(keys) >= 8}
        rows = [[k, *g] for g, keys in groups.items() if g not in shared for k in keys]
        with self.atomic() as db:
            for (state_name, provider_id, reason), keys in shared.items():
                db.execute(
                    "update messages set state = ?, provider_id = coalesce(?, provider_id), reason = ?,"
                    " updated_at = ? where key in (select value from json_each(?))",
                    (state_name, provider_id, reason, now, json.dumps(keys)),
                )
            if rows:
                db.execute(
                    "update messages set state = j.value ->> 1, provider_id = coalesce(j.value ->> 2, provider_id),"
                    " reason = j.value ->> 3, updated_at = ? from json_each(?) as j where messages.key = j.value ->> 0",
                    (now, json.dumps(rows)),
                )
            if suppress:
                db.execute(  # as in `suppress_hashed`: a permanent suppression is never weakened to an opt-out
                    "insert into suppressions (channel, address_hash, reason, at, kind)"
                    " select m.channel, m.address_hash, j.value ->> 1, ?, j.value ->> 2"
                    " from json_each(?) as j join messages as m on m.key = j.value ->> 0 where true"
                    " on conflict (channel, address_hash) do update set reason = excluded.reason, at = excluded.at,"
                    " kind = excluded.kind where excluded.kind = 'permanent' or suppressions.kind <> 'permanent'",
                    (now, json.dumps(suppress)),
                )
            if unknown:
                db.executemany("insert into transitions (key, state, detail, at) values (?, ?, ?, ?)", unknown)

    # -- settle ---------------------------------------------------------------------------------

    def settle(self, results: Sequence[SendResult], how: str) -> None:
        """Record what became of messages an interrupted run left claimed, and how that is known
        ("the provider's records", "resent under the same key", ...). RETRY means the provider never
        got them: they are sent again."""
        with self.atomic() as db:
            self.record(results)
            now = _now()
            db.executemany(
                "insert into transitions (key, state, detail, at) values (?, ?, ?, ?)",
                [(r.key, str(STATE_OF_OUTCOME[r.outcome]), f"settled: {how}", now) for r in results],
            )

    def mark(self, keys: Sequence[str], state: State, reason: str | None = None) -> None:
        """Set `state` on known keys, logged with `reason` (a person's or the loop's decision)."""
        now = _now()
        reason = mask_text(reason) if reason else None
        with self.atomic() as db:
            db.executemany(
                "update messages set state = ?, reason = coalesce(?, reason), updated_at = ? where key = ?",
                [(str(state), reason, now, k) for k in keys],
            )
            db.executemany(
                "insert into transitions (key, state, detail, at) values (?, ?, ?, ?)",
                [(k, str(state), reason, now) for k in keys],
            )

    # -- read -----------------------------------------------------------------------------------

    def rows(
        self, campaign_id: str | None = None, state: State | None = None, keys: Sequence[str] | None = None
    ) -> list[LedgerRow]:
        """Messages the ledger knows, by key."""
        sql = (
            "select key, campaign_id, customer_id, channel, adapter, state, attempts, provider_id, reason"
            " from messages where 1 = 1"
        )
        params: list[object] = []
        if campaign_id is not None:
            sql += " and campaign_id = ?"
            params.append(campaign_id)
        if state is not None:
            sql += " and state = ?"
            params.append(str(state))
        if keys is not None:
            sql += " and key in (select value from json_each(?))"
            params.append(json.dumps(list(keys)))
        return [
            LedgerRow(*row[:5], State(row[5]), *row[6:])  # type: ignore[call-arg]
            for row in self._query(sql + " order by key", params)
        ]

    def states(self, keys: Sequence[str]) -> dict[str, State]:
        """The state of each known key (keys never planned nor claimed are absent)."""
        return {
            key: State(state)
            for key, state in self._query(
                "select m.key, m.state from json_each(?) as j join messages as m on m.key = j.value",
                (json.dumps(list(keys)),),
            )
        }

    def claims(self, keys: Sequence[str]) -> dict[str, Claim]:
        """The request (batch id) and claim time of those `keys` that are currently claimed."""
        return {
            key: Claim(key, batch_id, datetime.fromisoformat(at))
            for key, batch_id, at in self._query(
                "select m.key, m.batch_id, m.claimed_at from json_each(?) as j join messages as m on m.key = j.value"
                " where m.state = 'claimed'",
                (json.dumps(list(keys)),),
            )
        }

    def counts(self, campaign_id: str | None = None) -> dict[str, int]:
        """Messages per state, e.g. for a run's metadata."""
        if campaign_id is None:
            return dict(self._query("select state, count(*) from messages group by state"))
        return dict(
            self._query("select state, count(*) from messages where campaign_id = ? group by state", (campaign_id,))
        )

    def history(self, key: str) -> list[tuple[str, str | None, str]]:
        """(state, detail, at) for one message, oldest first."""
        return [
            tuple(r) for r in self._query("select state, detail, at from transitions where key = ? order by id", (key,))
        ]

    # -- suppression ----------------------------------------------------------------------------

    def suppressed(self) -> set[tuple[str, str]]:
        """(channel, address_hash) pairs that must not be messaged again."""
        return {(c, h) for c, h in self._query("select channel, address_hash from suppressions")}

    def suppressions(self) -> dict[tuple[str, str], SuppressionKind]:
        """(channel, address_hash) -> kind; an opt-out only stops advertising."""
        return {
            (c, h): SuppressionKind(k)
            for c, h, k in self._query("select channel, address_hash, kind from suppressions")
        }

    def suppress(
        self, channel: str, address: str, reason: str, kind: SuppressionKind = SuppressionKind.PERMANENT
    ) -> None:
        """Add an address to the suppression list (receipts, 080 opt-out webhooks, one-click unsubscribe)."""
        self.suppress_hashed(channel, address_hash(address), reason, kind)

    def suppress_hashed(
        self, channel: str, hashed: str, reason: str, kind: SuppressionKind = SuppressionKind.PERMANENT
    ) -> None:
        """`suppress` for callers that hold only the address's hash (the tracking service, 080 files).

        A permanent suppression is never weakened to an opt-out (a hard-bounced address that later
        unsubscribes stays suppressed for every purpose)."""
        with self.atomic() as db:
            db.execute(
                "insert into suppressions (channel, address_hash, reason, at, kind) values (?, ?, ?, ?, ?)"
                " on conflict (channel, address_hash) do update set reason = excluded.reason, at = excluded.at,"
                " kind = excluded.kind where excluded.kind = 'permanent' or suppressions.kind <> 'permanent'",
                (channel, hashed, mask_text(reason), _now(), str(kind)),
            )
            self._durable = True  # an opt-out must survive a power cut as a claim does

    # -- receipts and people --------------------------------------------------------------------

    def advance(self, key: str, state: State, detail: str | None = None) -> bool:
        """Apply a receipt: move forward along accepted -> delivered -> opened -> clicked, never back.

        A `failed` receipt (bounce) overrides any forward state. A receipt for a message still claimed
        or unknown shows it reached the provider. Returns whether the row changed.
        """
        with self.atomic() as db:
            row = db.execute("select state from messages where key = ?", (key,)).fetchone()
            if row is None:
                return False
            current = State(row[0])
            if state is State.FAILED:
                if current is State.FAILED:
                    return False
            elif state in _PROGRESS:
                if current in (State.UNKNOWN, State.CLAIMED):
                    current = State.ACCEPTED
                if current not in _PROGRESS or _PROGRESS[state] <= _PROGRESS[current]:
                    return False
            else:
                raise ValueError(f"receipts cannot set state {state}")
            now = _now()
            detail = mask_text(detail) if detail else None
            db.execute(
                "update messages set state = ?, reason = coalesce(?, reason), updated_at = ? where key = ?",
                (str(state), detail, now, key),
            )
            db.execute(
                "insert into transitions (key, state, detail, at) values (?, ?, ?, ?)",
                (key, str(state), detail, now),
            )
            return True

    def unknowns(self, campaign_id: str | None = None) -> list[LedgerRow]:
        """Messages that may or may not have reached the provider; a person decides (see `resolve`)."""
        return self.rows(campaign_id, State.UNKNOWN)

    def resolve(self, keys: Sequence[str], *, sent: bool, note: str = "") -> int:
        """Settle `unknown` messages: `sent=True` records them as accepted (the provider's console or a
        receipt shows them), `sent=False` re-queues them for the next run. Returns how many changed."""
        state = State.ACCEPTED if sent else State.PLANNED
        detail = f"resolved by a person: {'sent' if sent else 're-queued'}" + (f" ({note})" if note else "")
        now = _now()
        with self.atomic() as db:
            unknown = [
                k
                for (k,) in db.execute(
                    "select m.key from json_each(?) as j join messages as m on m.key = j.value"
                    " where m.state = 'unknown'",
                    (json.dumps(list(keys)),),
                )
            ]
            db.executemany(
                "update messages set state = ?, reason = ?, updated_at = ? where key = ?",
                [(str(state), detail, now, k) for k in unknown],
            )
            db.executemany(
                "insert into transitions (key, state, detail, at) values (?, ?, ?, ?)",
                [(k, str(state), detail, now) for k in unknown],
            )
        self.sync()  # a person's decision is not asked twice
        return len(unknown)


def _identity(m: Message, adapter: str) -> tuple[str, str, str, str, str, str, str]:
    return (m.key, m.campaign_id, m.customer_id, str(m.channel), str(m.purpose), adapter, address_hash(m.address))


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a ledger written by an earlier version to one row per message (idempotent).

    Earlier versions kept a batch accepted whole as one `batches` row plus narrow message rows behind a
    `message_rows` view, and open claims as JSON key lists in `claims`; before that, messages had no
    batch at all. Each becomes the one shape, claims included."""
    tables = {name for (name,) in db.execute("select name from sqlite_master where type in ('table', 'view')")}
    if "suppressions" in tables and "kind" not in {row[1] for row in db.execute("pragma table_info(suppressions)")}:
        db.execute("alter table suppressions add column kind text not null default 'permanent'")
    if "messages" not in tables:
        return
    have = {row[1] for row in db.execute("pragma table_info(messages)")}
    if "claimed_at" in have:
        return
    source = "message_rows" if "message_rows" in tables else "messages"
    db.execute("alter table messages rename to messages_before")
    db.execute("drop view if exists message_rows")
    db.execute("drop view if exists accepted_batches")
    db.execute(_SCHEMA.split(";")[0])
    if source == "message_rows":
        db.execute(
            "create temp view old_rows as select m.key, coalesce(m.campaign_id, b.campaign_id) as campaign_id,"
            " coalesce(m.customer_id, b.customers ->> m.pos) as customer_id,"
            " coalesce(m.channel, b.channel) as channel, coalesce(m.purpose, b.purpose) as purpose,"
            " coalesce(m.adapter, b.adapter) as adapter, m.address_hash, m.state, m.attempts,"
            " b.batch_id, coalesce(m.provider_id, b.provider_id) as provider_id, m.reason,"
            " coalesce(m.planned_at, b.answered_at) as planned_at, coalesce(m.updated_at, b.answered_at) as updated_at"
            " from messages_before m left join batches b on b.id = m.batch"
        )
    else:
        db.execute(
            "create temp view old_rows as select key, campaign_id, customer_id, channel, purpose, adapter,"
            " address_hash, state, attempts, null as batch_id, provider_id, reason, planned_at, updated_at"
            " from messages_before"
        )
    db.execute(
        "insert into messages (key, campaign_id, customer_id, channel, purpose, adapter, address_hash, state,"
        " attempts, batch_id, provider_id, reason, planned_at, updated_at)"
        " select key, coalesce(campaign_id, ''), coalesce(customer_id, ''), coalesce(channel, ''),"
        " coalesce(purpose, ''), coalesce(adapter, ''), coalesce(address_hash, ''), state, attempts, batch_id,"
        " provider_id, reason, coalesce(planned_at, updated_at, ''), coalesce(updated_at, '') from old_rows"
    )
    db.execute("drop view old_rows")
    if "claims" in tables:
        # An open claim's messages were claimed; a key claimed but never planned had no row: it keeps
        # only what the claim knew (the next run's plan fills nothing in, but it is settled like any other).
        db.execute(
            "insert into messages (key, campaign_id, customer_id, channel, purpose, adapter, address_hash, state,"
            " attempts, batch_id, claimed_at, planned_at, updated_at)"
            " select k.value, '', '', '', '', c.adapter, '', 'claimed', 1, c.batch_id, c.claimed_at, c.claimed_at,"
            " c.claimed_at from claims c, json_each(c.keys) k where true"
            " on conflict (key) do update set state = 'claimed', batch_id = excluded.batch_id,"
            " claimed_at = excluded.claimed_at"
        )
        db.execute("drop table claims")
    db.execute("drop trigger if exists record_accepted_batch")
    db.execute("drop table if exists batches")
    db.execute("drop table messages_before")
