"""A campaign's send list for a window of days: who gets which rendered message on which channel."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

import duckdb
import pandas as pd

from channels.models import Channel, Purpose
from orchestration.campaigns.legal import Sender, ad_form
from orchestration.campaigns.render import render
from orchestration.campaigns.spec import CampaignSpec

PLANNED_SENDS_DDL = """
create schema if not exists sends;
create table if not exists sends.planned_sends (
    send_key varchar not null,
    campaign_id varchar not null,
    step integer not null,
    customer_id varchar not null,
    send_date date not null,
    channel varchar not null,
    purpose varchar not null,
    address varchar not null,
    subject varchar,
    body varchar not null,
    scheduled_at timestamp not null,
    planned_at timestamp not null
);
"""

_ADDRESS_COLUMN = {Channel.EMAIL: "email", Channel.SMS: "phone", Channel.KAKAO: "phone"}


def send_key(campaign_id: str, step: int, customer_id: str, cycle: str) -> str:
    """The idempotency key: one message per campaign step, customer and cycle, whatever the channel."""
    return hashlib.sha256(f"{campaign_id}|{step}|{customer_id}|{cycle}".encode()).hexdigest()[:32]


def _template_value(value: Any) -> Any:
    """Dates as dates (not midnight timestamps), missing values as empty strings."""
    if value is None or (not isinstance(value, (list, dict)) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.date() if value == value.normalize() else value.to_pydatetime()
    return value


def _pick_channel(spec: CampaignSpec, row: dict[str, Any]) -> Channel | None:
    for channel in spec.channels:
        column = _ADDRESS_COLUMN.get(channel)
        if column is None or not row.get(column):
            continue
        if spec.purpose is Purpose.AD and not row.get(f"has_{channel}_ad_consent", False):
            continue
        return channel
    return None


def build_send_list(
    con: duckdb.DuckDBPyConnection, spec: CampaignSpec, first: date, last: date, sender: Sender
) -> pd.DataFrame:
    """Render the campaign for every audience row of the window; one message per key."""
    con.execute(PLANNED_SENDS_DDL)
    audience = con.execute(
        f"select * from marts.{spec.audience} where as_of_date between ? and ?"
        " order by as_of_date, customer_id",
        [first, last],
    ).df()
    already = {
        row[0]
        for row in con.execute(
            "select distinct send_key from sends.planned_sends where campaign_id = ? and send_date < ?",
            [spec.id, first],
        ).fetchall()
    }
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    now = datetime.now()
    for record in audience.to_dict("records"):
        day = pd.Timestamp(record["as_of_date"]).date()
        cycle = str(record[spec.cycle_column]) if spec.cycle_column else day.isoformat()
        key = send_key(spec.id, 1, str(record["customer_id"]), cycle)
        if key in seen or key in already:
            continue
        channel = _pick_channel(spec, record)
        if channel is None:
            continue
        variables = {k: _template_value(v) for k, v in record.items()}
        variables["name"] = record.get("customer_name") or "고객"
        template = spec.templates[channel]
        subject = render(template.subject, variables) if template.subject else None
        body = render(template.body, variables)
        if spec.purpose is Purpose.AD:
            subject, body = ad_form(channel, subject, body, sender)
        seen.add(key)
        rows.append(
            {
                "send_key": key,
                "campaign_id": spec.id,
                "step": 1,
                "customer_id": str(record["customer_id"]),
                "send_date": day,
                "channel": str(channel),
                "purpose": str(spec.purpose),
                "address": str(record[_ADDRESS_COLUMN[channel]]),
                "subject": subject,
                "body": body,
                "scheduled_at": datetime.combine(day, spec.send_time),
                "planned_at": now,
            }
        )
    columns = [
        "send_key",
        "campaign_id",
        "step",
        "customer_id",
        "send_date",
        "channel",
        "purpose",
        "address",
        "subject",
        "body",
        "scheduled_at",
        "planned_at",
    ]
    return pd.DataFrame(rows, columns=columns)


def write_send_list(
    con: duckdb.DuckDBPyConnection, spec: CampaignSpec, first: date, last: date, send_list: pd.DataFrame
) -> None:
    """Replace the campaign's rows for the window (a rerun of the window plans the same keys again)."""
    con.execute(PLANNED_SENDS_DDL)
    con.execute("begin")
    con.execute(
        "delete from sends.planned_sends where campaign_id = ? and send_date between ? and ?",
        [spec.id, first, last],
    )
    if len(send_list):
        con.register("_send_list", send_list)
        con.execute("insert into sends.planned_sends by name select * from _send_list")
        con.unregister("_send_list")
    con.execute("commit")
