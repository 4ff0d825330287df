"""Loading the tracking service's event log into the warehouse (`sends.message_events`).

The warehouse keeps its own cursor into the log (`sends.event_log_cursor`), committed in the same
transaction as the events it covers: a load that fails leaves both as they were, and the next load
starts from the same place, so no event is lost. The event id is the table's key and rows are
inserted "or ignore", so an event read twice (a provider's replay that reached the log, a cursor
written by an older version) is stored once.

Receipts name only the send key; their campaign, customer and day come from the planned send.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from channels.tracking.eventlog import Cursor, read_from

EVENTS_DDL = """
create schema if not exists sends;
create table if not exists sends.message_events (
    event_id varchar primary key,
    event_type varchar not null,
    occurred_at timestamp not null,
    send_key varchar,
    channel varchar,
    campaign_id varchar,
    customer_id varchar,
    send_date date,
    link integer,
    is_human boolean not null,
    bot_reason varchar,
    source varchar,
    provider varchar,
    scope varchar,
    detail varchar,
    loaded_at timestamp not null
);
create table if not exists sends.event_log_cursor (
    log varchar primary key,
    position varchar not null,
    updated_at timestamp not null
);
"""
COLUMNS = [
    "event_id",
    "event_type",
    "occurred_at",
    "send_key",
    "channel",
    "campaign_id",
    "customer_id",
    "send_date",
    "link",
    "is_human",
    "bot_reason",
    "source",
    "provider",
    "scope",
    "detail",
]
LOG_NAME = "events"


@dataclass(frozen=True)
class Loaded:
    read: int
    inserted: int
    cursor: Cursor


def warehouse_cursor(con: duckdb.DuckDBPyConnection) -> Cursor:
    con.execute(EVENTS_DDL)
    row = con.execute("select position from sends.event_log_cursor where log = ?", [LOG_NAME]).fetchall()
    return Cursor.parse(row[0][0] if row else None)


def _frame(events: list[dict], timezone: str) -> pd.DataFrame:
    frame = pd.DataFrame(events).rename(columns={"kind": "event_type", "at": "occurred_at"})
    for column in COLUMNS:
        if column not in frame:
            frame[column] = None
    frame = frame[COLUMNS].drop_duplicates("event_id")
    # Shop-local, naive: the warehouse's convention for every timestamp.
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True).dt.tz_convert(timezone).dt.tz_localize(None)
    frame["is_human"] = frame["is_human"].map(lambda v: True if v is None or pd.isna(v) else bool(v))
    frame["link"] = pd.to_numeric(frame["link"], errors="coerce").astype("Int64")
    frame["send_date"] = pd.to_datetime(frame["send_date"], errors="coerce").dt.date
    for column in (
        "event_id",
        "event_type",
        "send_key",
        "channel",
        "campaign_id",
        "customer_id",
        "bot_reason",
        "source",
        "provider",
        "scope",
        "detail",
    ):
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
    return frame


def _has_planned_sends(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables"
            " where table_schema = 'sends' and table_name = 'planned_sends_rendered'"
        ).fetchall()[0][0]
    )


def load_events(con: duckdb.DuckDBPyConnection, folder: Path, timezone: str, *, batch: int = 50_000) -> Loaded:
    """Everything the log holds after the warehouse's cursor, in batches of one transaction each."""
    cursor = warehouse_cursor(con)
    read = inserted = 0
    join = _has_planned_sends(con)
    while True:
        events, after = read_from(folder, cursor, limit=batch)
        if not events:
            return Loaded(read, inserted, cursor)
        frame = _frame(events, timezone)
        select = "select f.* exclude (campaign_id, customer_id, send_date)"
        if join:
            source = (
                f"{select}, coalesce(f.campaign_id, p.campaign_id) as campaign_id,"
                " coalesce(f.customer_id, p.customer_id) as customer_id,"
                " coalesce(f.send_date, p.as_of_date) as send_date from _events f"
                " left join (select distinct on (send_key) send_key, campaign_id, customer_id, as_of_date"
                " from sends.planned_sends_rendered) p on p.send_key = f.send_key"
            )
        else:
            source = f"{select}, f.campaign_id, f.customer_id, f.send_date from _events f"
        con.register("_events", frame)
        con.execute("begin")
        try:
            before = con.execute("select count(*) from sends.message_events").fetchall()[0][0]
            con.execute(
                "insert or ignore into sends.message_events by name"
                f" select *, current_localtimestamp() as loaded_at from ({source})"
            )
            after_count = con.execute("select count(*) from sends.message_events").fetchall()[0][0]
            con.execute(
                "insert or replace into sends.event_log_cursor values (?, ?, current_localtimestamp())",
                [LOG_NAME, str(after)],
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        finally:
            con.unregister("_events")
        read += len(events)
        inserted += after_count - before
        cursor = after


ENGAGEMENT_BY_DAY_SQL = """
select
    coalesce(campaign_id, '(unknown)') as campaign_id,
    send_date,
    count(distinct case when event_type = 'delivered' then send_key end) as delivered,
    count(distinct case when event_type = 'bounced' then send_key end) as bounced,
    count(distinct case when event_type = 'opened' and is_human then send_key end) as opened,
    count(distinct case when event_type = 'clicked' and is_human then send_key end) as clicked,
    count(distinct case when event_type = 'clicked' and not is_human then send_key end) as machine_clicks,
    count(distinct case when event_type = 'unsubscribed' then coalesce(send_key, event_id) end) as unsubscribed
from sends.message_events
where send_date >= ?
group by all
order by send_date desc, campaign_id
"""


def engagement_by_campaign_day(con: duckdb.DuckDBPyConnection, since: object) -> pd.DataFrame:
    """Per campaign and send day: delivered, bounced, opened and clicked (people, not scanners), unsubscribed."""
    return con.execute(ENGAGEMENT_BY_DAY_SQL, [since]).df()
