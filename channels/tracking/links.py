"""What was planned, as the tracking service needs it: each send's links, campaign and addresses.

The planner writes here when it renders (links) and when it plans (address hashes); the service only
reads, so a click redirects to the URL the plan holds for (send, channel, link) and nowhere else. A
SQLite file of its own (WAL), beside the ledger: the service never waits for the warehouse.
Addresses are kept as the ledger's hashes, never in clear.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from channels.ledger import address_hash

_SCHEMA = """
create table if not exists sends (
    send_key text not null,
    channel text not null,
    campaign_id text not null,
    customer_id text not null,
    as_of_date text not null,
    purpose text not null,
    address_hash text,
    primary key (send_key, channel)
);
create table if not exists links (
    send_key text not null,
    channel text not null,
    link integer not null,
    url text not null,
    primary key (send_key, channel, link)
);
-- Every address a customer with a planned send has, so the unsubscribe page can offer each channel.
create table if not exists contacts (
    customer_id text not null,
    channel text not null,
    address_hash text not null,
    primary key (customer_id, channel, address_hash)
);
"""


@dataclass(frozen=True)
class PlannedSend:
    send_key: str
    channel: str
    campaign_id: str
    customer_id: str
    as_of_date: str
    purpose: str
    address_hash: str | None = None


@dataclass(frozen=True)
class RenderedLinks:
    """One rendered message's tracked links, in order (link 1 is the first)."""

    send: PlannedSend
    urls: Sequence[str]


class LinkStore:
    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        self._db.execute("pragma journal_mode=wal")
        self._db.execute("pragma synchronous=normal")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LinkStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- written by the planner -------------------------------------------------------------------

    def register(self, rendered: Iterable[RenderedLinks]) -> int:
        """Record rendered sends and their links (a rerun of the day writes the same rows again)."""
        sends: list[tuple[str, ...]] = []
        links: list[tuple[str, str, int, str]] = []
        for r in rendered:
            s = r.send
            sends.append((s.send_key, s.channel, s.campaign_id, s.customer_id, s.as_of_date, s.purpose))
            links.extend((s.send_key, s.channel, i, url) for i, url in enumerate(r.urls, start=1))
        with self._lock:
            self._db.execute("begin immediate")
            self._db.executemany(
                "insert into sends (send_key, channel, campaign_id, customer_id, as_of_date, purpose)"
                " values (?, ?, ?, ?, ?, ?) on conflict do update set campaign_id = excluded.campaign_id,"
                " customer_id = excluded.customer_id, as_of_date = excluded.as_of_date, purpose = excluded.purpose",
                sends,
            )
            self._db.executemany("insert or replace into links values (?, ?, ?, ?)", links)
            self._db.execute("commit")
        return len(sends)

    def register_addresses(
        self, planned: Iterable[tuple[str, str, str]], contacts: Iterable[tuple[str, str, str]]
    ) -> None:
        """`planned`: (send key, channel, address) of planned sends; `contacts`: (customer, channel, address)."""
        with self._lock:
            self._db.execute("begin immediate")
            self._db.executemany(
                "update sends set address_hash = ? where send_key = ? and channel = ?",
                [(address_hash(a), k, c) for k, c, a in planned if a],
            )
            self._db.executemany(
                "insert or ignore into contacts values (?, ?, ?)",
                [(cust, c, address_hash(a)) for cust, c, a in contacts if a],
            )
            self._db.execute("commit")

    # -- read by the service ----------------------------------------------------------------------

    def send(self, send_key: str, channel: str) -> PlannedSend | None:
        with self._lock:
            row = self._db.execute(
                "select send_key, channel, campaign_id, customer_id, as_of_date, purpose, address_hash"
                " from sends where send_key = ? and channel = ?",
                (send_key, channel),
            ).fetchone()
        return PlannedSend(*row) if row else None

    def target(self, send_key: str, channel: str, link: int) -> tuple[PlannedSend, str] | None:
        """The planned URL of a link, with its send; None when the plan has no such link."""
        with self._lock:
            row = self._db.execute(
                "select s.send_key, s.channel, s.campaign_id, s.customer_id, s.as_of_date, s.purpose,"
                " s.address_hash, l.url from links l join sends s using (send_key, channel)"
                " where l.send_key = ? and l.channel = ? and l.link = ?",
                (send_key, channel, link),
            ).fetchone()
        return (PlannedSend(*row[:7]), row[7]) if row else None

    def contacts(self, customer_id: str) -> dict[str, list[str]]:
        """channel -> address hashes of a customer."""
        with self._lock:
            rows = self._db.execute(
                "select channel, address_hash from contacts where customer_id = ? order by channel", (customer_id,)
            ).fetchall()
        out: dict[str, list[str]] = {}
        for channel, h in rows:
            out.setdefault(channel, []).append(h)
        return out
