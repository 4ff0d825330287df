"""The durable record of every message: planned -> claimed -> accepted / failed -> delivered / opened /
clicked, plus `unknown` for a person to resolve.

SQLite in WAL mode; every claim is committed and fsynced (see `_tx`) before the provider call, so a
process killed at any instant leaves a ledger that says exactly which messages may have reached a
provider. A `claimed` row found at start-up is a message whose fate is unknown: it is sent again (with
the same batch id, hence the same idempotency key) only where the provider deduplicates, and only
within the provider's dedupe window; otherwise it becomes `unknown` and is never re-sent automatically
(`unknowns()` lists them, `resolve()` settles them).

A claim is one row per batch in `claims` (batch id, time, its keys), written in one statement
whatever the batch size; a message's own row is written when its answer comes back (or when it is
planned). A message is `claimed` while it is in an open claim: answering it takes it out, and a
claim with no keys left is deleted.

A batch that comes back accepted whole (the common case of a batch API) is recorded as one row in
`batches` (adapter, campaign, channel, purpose, request id, time, the recipients' customer ids) and
one narrow row per message (key, state, the batch and its place in it): a per-message row that
repeated the batch's fields cost SQLite ~4 us per recipient against ~1 us for the narrow one, which
is the difference between a third and a tenth of a batch API's throughput. `message_rows` (a view)
puts the two back together and is what readers use; every other answer writes the full row.

One connection guarded by a lock, so the delivery loop, a receipt handler and a CLI may share a
`Ledger` across threads; several processes may open the same file (SQLite serialises the writers).
The ledger keeps a hash of each address, never the address itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import uuid
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from channels.masking import mask_text
from channels.models import Message, Outcome, SendResult

WAL_CHECKPOINT_PAGES = 25_000  # about 100 MB of WAL before SQLite copies it back into the file


class State(StrEnum):
    PLANNED = "planned"
    CLAIMED = "claimed"  # written before the provider call
    ACCEPTED = "accepted"
    RETRY = "retry"  # not taken by the provider; the next run sends it again
    FAILED = "failed"  # permanent failure or opt-out (see `reason`)
    UNKNOWN = "unknown"  # claimed, no answer, provider does not deduplicate: a person decides
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"


FINAL_STATES = frozenset({State.ACCEPTED, State.FAILED, State.UNKNOWN, State.DELIVERED, State.OPENED, State.CLICKED})
SENDABLE_STATES = frozenset({State.PLANNED, State.RETRY})
# Receipts only move a message forward along this order.
_PROGRESS = {State.ACCEPTED: 0, State.DELIVERED: 1, State.OPENED: 2, State.CLICKED: 3}

_MESSAGES = """
-- The columns a batch shares (campaign, channel, purpose, adapter, times) are null on a message
-- recorded through `batches`; read messages through `message_rows`.
create table if not exists messages (
    key text primary key,
    campaign_id text,
    customer_id text,
    channel text,
    purpose text,
    adapter text,
    address_hash text,  -- planned and failed messages (suppression); not kept for a batch accepted whole
    state text not null,
    attempts integer not null default 0,
    provider_id text,
    reason text,
    planned_at text,
    updated_at text,
    batch integer,  -- batches.id when the message's last answer came in a batch accepted whole
    pos integer  -- its place in that batch's `customers`
);
"""
_SCHEMA = (
    _MESSAGES
    + """
-- Exceptional transitions (unknown, resolved, receipts, suppressed) with who/why; the hot path's
-- claim and answer live on the message row itself (claimed_at, updated_at).
create table if not exists transitions (
    id integer primary key autoincrement,
    key text not null,
    state text not null,
    detail text,
    at text not null
);
-- Open claims: batches handed (or about to be handed) to a provider whose answers are not recorded.
create table if not exists claims (
    batch_id text primary key,
    adapter text not null,
    claimed_at text not null,
    keys text not null
);
-- Batches a provider accepted whole: what their messages share, recorded once.
create table if not exists batches (
    id integer primary key,
    batch_id text not null,
    adapter text not null,
    campaign_id text not null,
    channel text not null,
    purpose text not null,
    provider_id text,
    answered_at text not null,
    customers text not null  -- JSON array, in the order of the messages' `pos`
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
)
_VIEW = """
create view if not exists message_rows as
select m.key,
       coalesce(m.campaign_id, b.campaign_id) as campaign_id,
       coalesce(m.customer_id, b.customers ->> m.pos) as customer_id,
       coalesce(m.channel, b.channel) as channel,
       coalesce(m.purpose, b.purpose) as purpose,
       coalesce(m.adapter, b.adapter) as adapter,
       m.address_hash,
       m.state,
       m.attempts,
       coalesce(m.provider_id, b.provider_id) as provider_id,
       m.reason,
       coalesce(m.planned_at, b.answered_at) as planned_at,
       coalesce(m.updated_at, b.answered_at) as updated_at,
       b.batch_id
from messages m left join batches b on b.id = m.batch
"""


def _shrink_claims(which: str, answered: str, emptied: str | None = None) -> tuple[str, str]:
    """SQL taking the keys of `answered` (a JSON array) out of the open claims `which` selects, then
    deleting those of `emptied` (default: `which`) left empty: the one definition, for the Python paths
    and the trigger below."""
    return (
        "update claims set keys = (select json_group_array(c.value) from json_each(claims.keys) as c"
        f" where c.value not in (select value from json_each({answered}))) where {which}",
        f"delete from claims where keys = '[]' and {emptied or which}",
    )


_SHRINK_ONE_CLAIM = _shrink_claims("batch_id = :batch_id", ":answered")
_SHRINK_ANY_CLAIM = _shrink_claims(
    "exists (select 1 from json_each(claims.keys) as k where k.value in (select value from json_each(:answered)))",
    ":answered",
    emptied="true",  # an emptied claim no longer holds the keys `which` looks for
)
_SHRINK_IN_TRIGGER = _shrink_claims("batch_id = new.batch_id", "new.keys")
# A batch accepted whole is recorded by one statement, an insert into this view: its trigger writes the
# `batches` row, a narrow row per message and takes the keys out of the batch's claim. A worker holds the
# ledger while it writes, and every statement gives up the GIL and waits to take it back (up to a switch
# interval, behind threads building request bodies): five statements per batch held the ledger ~4x longer
# than one, and four workers queued behind each other for it. Recreated on every open, so it stays current.
_RECORD_ACCEPTED_BATCH = f"""
drop trigger if exists record_accepted_batch;
drop view if exists accepted_batches;
create view accepted_batches as
select batch_id, adapter, campaign_id, channel, purpose, provider_id, answered_at, customers, null as keys,
       null as next_batch_id, null as next_keys
from batches;
create trigger record_accepted_batch instead of insert on accepted_batches
begin
    -- Without keys, the batch is its claim as claimed (the delivery loop's own batches): its keys are
    -- read from there rather than sent again. A claim that is gone or of another size is a bug.
    select raise(abort, 'record_accepted_batch: no claim of this size for the batch')
    where new.keys is null and not exists (
        select 1 from claims
        where batch_id = new.batch_id and json_array_length(keys) = json_array_length(new.customers)
    );
    insert into batches (batch_id, adapter, campaign_id, channel, purpose, provider_id, answered_at, customers)
    values (new.batch_id, new.adapter, new.campaign_id, new.channel, new.purpose, new.provider_id,
            new.answered_at, new.customers);
    -- A planned row keeps its own columns; the batch supplies the rest (see `message_rows`).
    insert into messages (key, state, attempts, batch, pos)
    select value, 'accepted', 1, (select max(id) from batches), key
    from json_each(coalesce(new.keys, (select keys from claims where batch_id = new.batch_id))) where true
    on conflict (key) do update set state = excluded.state, attempts = attempts + 1, batch = excluded.batch,
        pos = excluded.pos, provider_id = null, reason = null, updated_at = null;
    -- The claim holds exactly these keys, unless this is part of an earlier batch resent.
    delete from claims where batch_id = new.batch_id and keys = coalesce(new.keys, keys);
    {_SHRINK_IN_TRIGGER[0]};
    {_SHRINK_IN_TRIGGER[1]};
    -- The sender's next batch, claimed in the same commit (see `record_batch`).
    insert or replace into claims (batch_id, adapter, claimed_at, keys)
    select new.next_batch_id, new.adapter, new.answered_at, new.next_keys where new.next_batch_id is not null;
end;
"""
# Ledgers written before `batches` existed declared every column not null: rebuilt once on open.
_MESSAGE_COLUMNS = (
    "key, campaign_id, customer_id, channel, purpose, adapter, address_hash, state, attempts, provider_id,"
    " reason, planned_at, updated_at"
)
_ADDED_COLUMNS = {
    "suppressions": {"kind": "text not null default 'permanent'"},
}


class SuppressionKind(StrEnum):
    PERMANENT = "permanent"  # bad address, hard bounce, unregistered token: no message of any purpose
    OPTED_OUT = "opted_out"  # refused advertising on this channel: informational messages still go


def address_hash(address: str) -> str:
    """Suppressions and the ledger keep a hash, not the address itself."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:32]


_CONTROL_BYTES = bytes(range(32))  # besides the quote and the backslash, what a JSON string must escape


def _json_array(values: Sequence[str]) -> str:
    """Many keys (or customer ids) as one bound parameter, a JSON array read with json_each: one
    statement per batch instead of one per key keeps the delivery loop's thread off SQLite, and the
    GIL, most of the time.

    Plain strings (no quote, backslash or control character: every key the planner makes) are joined
    directly: 27 us for 1,000 keys against json.dumps' 72 us, paid twice per batch while holding the
    GIL the other senders wait for. Anything else goes through json.dumps."""
    joined = '","'.join(values)
    if "\\" not in joined and joined.count('"') == 2 * len(values) - 2:
        try:
            encoded = joined.encode()
        except UnicodeEncodeError:  # a lone surrogate: json.dumps escapes it
            encoded = b"\0"
        if len(encoded.translate(None, _CONTROL_BYTES)) == len(encoded):
            return f'["{joined}"]'
    return json.dumps(list(values), separators=(",", ":"))


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
    """Where a `claimed` row stands: which batch it went out in and when."""

    key: str
    batch_id: str
    claimed_at: datetime


class Ledger:
    """One SQLite file; safe to share across threads and to open from several processes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._wal_lock = threading.Lock()
        self._wal_fd: int | None = None
        self._db = self._connect()
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._db.executescript(_VIEW)
        try:
            self._db.executescript(f"begin immediate; {_RECORD_ACCEPTED_BATCH} commit;")
        except sqlite3.Error:
            if self._db.in_transaction:
                self._db.execute("rollback")
            raise

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, timeout=60, check_same_thread=False)
        db.execute("pragma journal_mode=wal")
        db.execute("pragma synchronous=normal")  # durable commits fsync the WAL themselves (see `_tx`)
        # Keys are hashes, so every answer dirties its own page of the key index; checkpointing every
        # 1,000 WAL pages (SQLite's default) then copies pages back on nearly every commit. A longer WAL
        # (SQLite checkpoints it when the last connection closes) costs disk for the duration of a run, not throughput.
        db.execute(f"pragma wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        return db

    def _migrate(self) -> None:
        """Bring a ledger written by an earlier version to this schema (idempotent)."""
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in self._db.execute(f"pragma table_info({table})")}
            for column, decl in columns.items():
                if column not in have:
                    self._db.execute(f"alter table {table} add column {column} {decl}")
        info = {row[1]: row[3] for row in self._db.execute("pragma table_info(messages)")}
        if info.get("campaign_id") or "batch" not in info:
            with self._tx() as db:
                db.execute("drop view if exists message_rows")
                db.execute("alter table messages rename to messages_before_batches")
                db.execute(_MESSAGES)
                db.execute(
                    f"insert into messages ({_MESSAGE_COLUMNS}) select {_MESSAGE_COLUMNS} from messages_before_batches"
                )
                db.execute("drop table messages_before_batches")

    def close(self) -> None:
        with self._lock:
            self._db.close()
        with self._wal_lock:
            if self._wal_fd is not None:
                os.close(self._wal_fd)
                self._wal_fd = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction; a durable one is on disk when this returns.

        Every commit reaches the OS's copy of the WAL (it survives a killed process); a durable one
        is then fsynced by `_sync`, after the ledger is released, so other senders do not wait for
        the disk (SQLite's `synchronous=full` fsyncs inside the commit: the ledger stayed held for
        it). `durable=False` skips the fsync: such a commit survives a killed process but not a power
        cut, until the next durable commit (the WAL is sequential, so that fsync carries it too). Only
        answers use it: losing one leaves the message `claimed`, which the next run treats as unknown
        or re-sends under the same key; claims are always durable, since losing one could send a
        message twice."""
        with self._lock:
            self._db.execute("begin immediate")
            try:
                yield self._db
                self._db.execute("commit")
            except BaseException:
                self._db.execute("rollback")
                raise
        if durable:
            self._sync()

    def _sync(self) -> None:
        """Put every commit made so far on disk: fsync the WAL file, which SQLite keeps (same file)
        while this ledger has it open. Several senders' fsyncs overlap; none holds the ledger."""
        with self._wal_lock:
            if self._wal_fd is None:
                self._wal_fd = os.open(f"{self.path}-wal", os.O_RDONLY)
            fd = self._wal_fd
        os.fsync(fd)

    def _transaction(self, statements: Iterable[tuple[str, Sequence[object] | dict[str, object]]]) -> None:
        with self._tx() as db:
            for sql, params in statements:
                db.execute(sql, params)

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- sending --------------------------------------------------------------------------------

    def plan(self, messages: Sequence[Message], adapter: str) -> int:
        """Record messages as planned; keys already known keep their state. Returns how many are new."""
        now = _now()
        rows = json.dumps(
            [
                [m.key, m.campaign_id, m.customer_id, str(m.channel), str(m.purpose), address_hash(m.address)]
                for m in messages
            ],
            ensure_ascii=False,
        )
        with self._tx() as db:
            before = db.total_changes
            db.execute(
                "insert or ignore into messages (key, campaign_id, customer_id, channel, purpose, adapter,"
                " address_hash, state, planned_at, updated_at)"
                " select value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, ?, value ->> 5,"
                " 'planned', ?, ? from json_each(?)",
                (adapter, now, now, rows),
            )
            return db.total_changes - before

    def _open_claims(self, db: sqlite3.Connection | None = None) -> dict[str, Claim]:
        """key -> its open claim; few rows in normal running (the batches in flight)."""
        out: dict[str, Claim] = {}
        rows = (db or self._db).execute("select batch_id, claimed_at, keys from claims").fetchall()
        for batch_id, claimed_at, keys in rows:
            at = datetime.fromisoformat(claimed_at)
            for key in json.loads(keys):
                out[key] = Claim(key, batch_id, at)
        return out

    def states(self, keys: Sequence[str]) -> dict[str, State]:
        """The state of each known key (keys never planned nor claimed are absent)."""
        with self._lock:
            out = {
                key: State(state)
                # `cross join` keeps json_each outside: one key lookup per asked key, whatever the ledger's size.
                for key, state in self._db.execute(
                    "select m.key, m.state from json_each(?) as j cross join messages as m on m.key = j.value",
                    (_json_array(keys),),
                )
            }
            open_claims = self._open_claims()
        wanted = set(keys) if open_claims else ()
        for key in open_claims:
            if key in wanted:
                out[key] = State.CLAIMED
        return out

    def claims(self, keys: Sequence[str]) -> dict[str, Claim]:
        """The batch id and claim time of those `keys` that are currently claimed."""
        with self._lock:
            open_claims = self._open_claims()
        return {k: open_claims[k] for k in keys if k in open_claims}

    def claim(self, keys: Sequence[str], batch_id: str | None = None) -> None:
        """Mark messages as about to be sent; committed before the provider call."""
        self.claim_batches([(list(keys), batch_id)])

    def claim_batches(self, batches: Sequence[tuple[Sequence[str], str | None]], adapter: str = "") -> None:
        """Claim several batches in one durable commit."""
        self.commit_round([(keys, batch_id) for keys, batch_id in batches], (), adapter=adapter)

    def record(self, results: Sequence[SendResult], channel_of: dict[str, tuple[str, str]] | None = None) -> None:
        """Store each result; address-level permanent failures and opt-outs feed the suppression list.

        `channel_of` maps key -> (channel, address) for the messages whose failures should suppress.
        """
        self.commit_round((), results, channel_of)

    def commit_round(
        self,
        claims: Sequence[tuple[Sequence[str], str | None]],
        results: Sequence[SendResult],
        channel_of: dict[str, tuple[str, str]] | None = None,
        adapter: str = "",
        messages: dict[str, Message] | None = None,
        closes: Sequence[tuple[str, Sequence[str]]] | None = None,
    ) -> None:
        """Record answers and claim the next batches in one transaction: the delivery loop pays one
        commit per round, and a statement per kind of write, however many messages.

        `messages` (key -> Message) lets an answer create the row of a message that was never planned
        (the delivery loop plans lazily, so the first request leaves before a large campaign is
        written out). Answered keys leave their open claim; `closes` ((batch id, keys answered) per
        batch) saves looking through every open claim to find them."""
        now = _now()
        if not results:
            if claims:
                # Claims alone are one statement, its own transaction, on disk (`_sync`) before the call.
                with self._lock:
                    _insert_claims(self._db, claims, adapter, now)
                self._sync()
            return
        groups: dict[tuple[str, str | None, str | None], list[str]] = {}
        suppressions = []
        for r in results:
            state = _STATE_OF[r.outcome]
            reason = mask_text(r.reason) if r.reason else None
            if state is not State.ACCEPTED and reason is None:
                reason = str(r.outcome)
            groups.setdefault((str(state), r.provider_id, reason), []).append(r.key)
            if (
                r.outcome in (Outcome.PERMANENT, Outcome.OPTED_OUT)
                and r.suppress
                and channel_of
                and r.key in channel_of
            ):
                channel, address = channel_of[r.key]
                kind = SuppressionKind.OPTED_OUT if r.outcome is Outcome.OPTED_OUT else SuppressionKind.PERMANENT
                suppressions.append((channel, address_hash(address), reason or str(r.outcome), now, str(kind)))
        # Claims must be on disk before the call; answers alone may skip the fsync (see `_tx`).
        with self._tx(durable=bool(claims)) as db:
            self._answer(db, groups, now, adapter, messages)
            if closes is None:
                self._close(db, {r.key for r in results})
            elif closes:
                _close_claims(db, closes)
            if suppressions:
                db.executemany(
                    "insert or replace into suppressions (channel, address_hash, reason, at, kind)"
                    " values (?, ?, ?, ?, ?)",
                    suppressions,
                )
            if claims:
                _insert_claims(db, claims, adapter, now)

    def record_batch(
        self,
        batch_id: str,
        messages: Sequence[Message],
        results: Sequence[SendResult],
        adapter: str,
        channel_of: dict[str, tuple[str, str]] | None = None,
        kept: Collection[str] = (),
        *,
        whole_claim: bool = False,
        then_claim: tuple[Sequence[str], str] | None = None,
    ) -> None:
        """Record the answers to one claimed batch and take them out of its claim; `kept` keys stay
        claimed (they go again under the same batch id).

        A batch accepted whole, in order, under one request id, whose messages share campaign, channel
        and purpose, becomes one `batches` row and a narrow row per message; anything else full rows.
        `whole_claim` says the batch's open claim holds exactly these messages' keys, in this order (the
        delivery loop claims each batch so, just before sending it): the keys are then read from the
        claim instead of being encoded and bound a second time. `then_claim` ((keys, batch id)) claims
        the sender's next batch in the same commit, durably: one commit per batch instead of two."""
        if results and not kept and len(results) == len(messages):
            n, first, provider_id = len(messages), messages[0], results[0].provider_id
            keys = [m.key for m in messages]
            # One pass per field, compared in C by identity first (hashing an enum member runs Python
            # code): this runs for every recipient of a batch API, holding the GIL the senders wait for.
            if (
                [r.outcome for r in results].count(Outcome.ACCEPTED) == n
                and [r.key for r in results] == keys
                and [r.provider_id for r in results].count(provider_id) == n
                and [m.campaign_id for m in messages].count(first.campaign_id) == n
                and [m.channel for m in messages].count(first.channel) == n
                and [m.purpose for m in messages].count(first.purpose) == n
            ):
                self._record_accepted_batch(
                    batch_id, messages, None if whole_claim else keys, provider_id, adapter, then_claim
                )
                return
        answered = [r for r in results if r.key not in kept]
        self.commit_round(
            [then_claim] if then_claim else (),
            answered,
            channel_of,
            adapter,
            {m.key: m for m in messages},
            closes=[(batch_id, [r.key for r in answered])],
        )

    def _record_accepted_batch(
        self,
        batch_id: str,
        messages: Sequence[Message],
        keys: list[str] | None,
        provider_id: str | None,
        adapter: str,
        then_claim: tuple[Sequence[str], str] | None,
    ) -> None:
        first = messages[0]
        next_keys, next_batch_id = then_claim or (None, None)
        with self._lock:
            # One statement is its own transaction (see `record_accepted_batch`), fsynced only when it
            # claims a batch (see `_tx`): an answer lost leaves its batch claimed, resent under its id
            # or called unknown.
            self._db.execute(
                "insert into accepted_batches (batch_id, adapter, campaign_id, channel, purpose, provider_id,"
                " answered_at, customers, keys, next_batch_id, next_keys) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    batch_id,
                    adapter,
                    first.campaign_id,
                    str(first.channel),
                    str(first.purpose),
                    provider_id,
                    _now(),
                    _json_array([m.customer_id for m in messages]),
                    None if keys is None else _json_array(keys),
                    next_batch_id,
                    None if next_keys is None else _json_array(next_keys),
                ),
            )
        if then_claim is not None:
            self._sync()

    def _answer(
        self,
        db: sqlite3.Connection,
        groups: dict[tuple[str, str | None, str | None], list[str]],
        now: str,
        adapter: str,
        messages: dict[str, Message] | None,
    ) -> None:
        if messages is not None:
            # Upsert: the row exists if the message was planned or answered before, else it is made here.
            # Fields a group shares are bound once; each row carries only what differs (SQLite re-parses
            # the row's JSON for every field taken from it, so fewer per-row fields is most of the cost).
            shared: dict[tuple[str, str | None, str, str, str], list[tuple[str, str, str, str | None]]] = {}
            for (state, provider_id, reason), keys in groups.items():
                for k in keys:
                    m = messages[k]
                    shared.setdefault((state, reason, m.campaign_id, str(m.channel), str(m.purpose)), []).append(
                        (k, m.customer_id, address_hash(m.address), provider_id)
                    )
            for (state, reason, campaign_id, channel, purpose), rows in shared.items():
                db.execute(
                    "insert into messages (key, customer_id, address_hash, provider_id, state, reason, campaign_id,"
                    " channel, purpose, adapter, attempts, planned_at, updated_at)"
                    " select value ->> 0, value ->> 1, value ->> 2, value ->> 3, ?, ?, ?, ?, ?, ?, 1, ?, ?"
                    " from json_each(?) where true"
                    " on conflict (key) do update set state = excluded.state,"
                    " provider_id = coalesce(excluded.provider_id, provider_id), reason = excluded.reason,"
                    " attempts = attempts + 1, updated_at = excluded.updated_at",
                    (
                        state,
                        reason,
                        campaign_id,
                        channel,
                        purpose,
                        adapter,
                        now,
                        now,
                        json.dumps(rows, ensure_ascii=False),
                    ),
                )
            return
        # Answers sharing state, request id and reason update as one key list; the rest as JSON rows.
        shared = {g: keys for g, keys in groups.items() if len(keys) >= 8}
        rows = [(k, *g) for g, keys in groups.items() if g not in shared for k in keys]
        for (state, provider_id, reason), keys in shared.items():
            db.execute(
                "update messages set state = ?, provider_id = coalesce(?, provider_id), reason = ?, updated_at = ?,"
                " attempts = attempts + 1 where key in (select value from json_each(?))",
                (state, provider_id, reason, now, _json_array(keys)),
            )
        if rows:
            db.execute(
                "update messages set state = a.value ->> 1, provider_id = coalesce(a.value ->> 2, provider_id),"
                " reason = a.value ->> 3, updated_at = ?, attempts = attempts + 1 from json_each(?) as a"
                " where messages.key = a.value ->> 0",
                (now, json.dumps(rows, ensure_ascii=False)),
            )

    def _close(self, db: sqlite3.Connection, answered: set[str]) -> None:
        """Take answered (or settled) keys out of their open claims; drop claims left empty."""
        params = {"answered": _json_array(sorted(answered))}
        for sql in _SHRINK_ANY_CLAIM:
            db.execute(sql, params)

    def mark(self, keys: Sequence[str], state: State, reason: str | None = None) -> None:
        now = _now()
        reason = mask_text(reason) if reason else None
        with self._tx() as db:
            db.executemany(
                "update messages set state = ?, reason = coalesce(?, reason), updated_at = ? where key = ?",
                [(str(state), reason, now, k) for k in keys],
            )
            db.executemany(
                "insert into transitions (key, state, detail, at) values (?, ?, ?, ?)",
                [(k, str(state), reason, now) for k in keys],
            )
            self._close(db, set(keys))

    # -- reading --------------------------------------------------------------------------------

    def rows(
        self, campaign_id: str | None = None, state: State | None = None, keys: Sequence[str] | None = None
    ) -> list[LedgerRow]:
        """Rows the ledger has written, by key; a message in an open claim shows as `claimed`."""
        sql = (
            "select key, campaign_id, customer_id, channel, adapter, state, attempts, provider_id, reason"
            " from message_rows where 1 = 1"
        )
        params: list[object] = []
        if campaign_id is not None:
            sql += " and campaign_id = ?"
            params.append(campaign_id)
        if state is not None and state is not State.CLAIMED:
            sql += " and state = ?"
            params.append(str(state))
        if keys is not None:
            sql += " and key in (select value from json_each(?))"
            params.append(_json_array(keys))
        with self._lock:
            found = self._db.execute(sql + " order by key", params).fetchall()
            open_claims = self._open_claims()
        out = [
            LedgerRow(*row[:5], State.CLAIMED if row[0] in open_claims else State(row[5]), *row[6:]) for row in found
        ]
        return out if state is None else [r for r in out if r.state is state]

    def counts(self, campaign_id: str | None = None) -> dict[str, int]:
        """Messages per state, e.g. for a run's metadata. Messages in flight count as `claimed` even
        when the delivery loop has not written their row yet (it plans lazily)."""
        sql = "select key, state from messages"
        params: list[object] = []
        if campaign_id is not None:
            sql = "select key, state from message_rows where campaign_id = ?"
            params.append(campaign_id)
        with self._lock:
            rows = dict(self._db.execute(sql, params).fetchall())
            open_claims = self._open_claims()
        counts = Counter(rows.values())
        for key in open_claims:
            if key in rows:
                counts[rows[key]] -= 1
                counts[str(State.CLAIMED)] += 1
            elif campaign_id is None:
                counts[str(State.CLAIMED)] += 1
        return {state: n for state, n in counts.items() if n}

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
        with self._tx() as db:
            db.execute(
                "insert into suppressions (channel, address_hash, reason, at, kind) values (?, ?, ?, ?, ?)"
                " on conflict (channel, address_hash) do update set reason = excluded.reason, at = excluded.at,"
                " kind = excluded.kind where excluded.kind = 'permanent' or suppressions.kind <> 'permanent'",
                (channel, hashed, mask_text(reason), _now(), str(kind)),
            )

    # -- receipts and people --------------------------------------------------------------------

    def advance(self, key: str, state: State, detail: str | None = None) -> bool:
        """Apply a receipt: move forward along accepted -> delivered -> opened -> clicked, never back.

        A `failed` receipt (bounce) overrides any forward state. Returns whether the row changed.
        """
        with self._tx() as db:
            row = db.execute("select state from messages where key = ?", (key,)).fetchone()
            if row is None:
                return False
            current = State(row[0])
            if state is State.FAILED:
                if current is State.FAILED:
                    return False
            elif state in _PROGRESS:
                # An `unknown` message that produced a receipt was evidently sent.
                if current is State.UNKNOWN:
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
        with self._tx() as db:
            before = db.total_changes
            db.executemany(
                "update messages set state = ?, reason = ?, updated_at = ? where key = ? and state = 'unknown'",
                [(str(state), detail, now, k) for k in keys],
            )
            changed = db.total_changes - before
            db.executemany(
                "insert into transitions (key, state, detail, at) select ?, ?, ?, ? where"
                " exists (select 1 from messages where key = ? and state = ?)",
                [(k, str(state), detail, now, k, str(state)) for k in keys],
            )
            return changed


def _insert_claims(
    db: sqlite3.Connection, claims: Sequence[tuple[Sequence[str], str | None]], adapter: str, now: str
) -> None:
    if len(claims) == 1:  # a batch API's claim: its keys' JSON is not encoded a second time
        keys, batch_id = claims[0]
        db.execute(
            "insert or replace into claims (batch_id, adapter, claimed_at, keys) values (?, ?, ?, ?)",
            (batch_id or uuid.uuid4().hex, adapter, now, _json_array(keys)),
        )
        return
    db.execute(
        "insert or replace into claims (batch_id, adapter, claimed_at, keys)"
        " select value ->> 0, ?, ?, value ->> 1 from json_each(?)",
        (adapter, now, json.dumps([[batch_id or uuid.uuid4().hex, _json_array(keys)] for keys, batch_id in claims])),
    )


def _close_claims(db: sqlite3.Connection, closes: Sequence[tuple[str, Sequence[str]]]) -> None:
    """Take answered keys out of their batches' open claims. A claim answered whole (the common case:
    its keys, in the order claimed) goes in one statement for all of them, since on the one-message
    APIs every statement is a wait to get the GIL back; the rest (part of a batch, or a resend of an
    earlier run's batch) are shrunk one by one."""
    closes = [(batch_id, keys) for batch_id, keys in closes if keys]
    if not closes:
        return
    pairs = json.dumps([[batch_id, _json_array(keys)] for batch_id, keys in closes])
    deleted = db.execute(
        "delete from claims where (batch_id, keys) in (select value ->> 0, value ->> 1 from json_each(?))", (pairs,)
    ).rowcount
    if deleted == len(closes):
        return
    answered: dict[str, list[str]] = {}
    for batch_id, keys in closes:
        answered.setdefault(batch_id, []).extend(keys)
    for batch_id, keys in answered.items():
        for sql in _SHRINK_ONE_CLAIM:
            db.execute(sql, {"batch_id": batch_id, "answered": _json_array(keys)})


_STATE_OF = {
    Outcome.ACCEPTED: State.ACCEPTED,
    Outcome.RETRY: State.RETRY,
    Outcome.PERMANENT: State.FAILED,
    Outcome.OPTED_OUT: State.FAILED,
    Outcome.CONFIG_ERROR: State.RETRY,  # never reached the provider's queue: safe once fixed
    Outcome.UNKNOWN: State.UNKNOWN,
}
