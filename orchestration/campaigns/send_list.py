"""A campaign's send list for a window of days: its audience, each person's message rendered for every
channel of the plan, before the policy decides who gets which (or nothing, and why)."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from typing import Any

import duckdb
import pandas as pd

from channels.tracking.links import LinkStore, PlannedSend, RenderedLinks
from orchestration.campaigns.compose import Unrenderable, compose
from orchestration.campaigns.legal import Sender
from orchestration.campaigns.links import Tracking
from orchestration.campaigns.policy import CANDIDATE_COLUMNS, CHANNEL_COLUMNS, data_json
from orchestration.campaigns.render import Blank
from orchestration.campaigns.spec import CampaignSpec
from orchestration.settings import load_settings

SEND_LIST_COLUMNS = [*CANDIDATE_COLUMNS, *CHANNEL_COLUMNS]

SEND_LISTS_DDL = """
create schema if not exists sends;
create table if not exists sends.send_lists (
    campaign_id varchar not null,
    step integer not null,
    customer_id varchar not null,
    as_of_date date not null,
    cycle varchar not null,
    send_key varchar not null,
    base_scheduled_at timestamp not null,
    advertised_category varchar,
    channel varchar not null,
    channel_rank integer not null,
    message_type varchar,
    subject varchar,
    body varchar,
    data varchar,
    content_bytes integer,
    render_error varchar,
    render_warnings varchar,
    listed_at timestamp not null
);
"""


class AudienceError(RuntimeError):
    """The audience model does not give what the campaign file says it does."""


def send_key(campaign_id: str, step: int, customer_id: str, cycle: str) -> str:
    """The idempotency key: one message per campaign step, customer and cycle, whatever the channel."""
    return hashlib.sha256(f"{campaign_id}|{step}|{customer_id}|{cycle}".encode()).hexdigest()[:32]


def coupon_code(prefix: str, key: str) -> str:
    """Personal and single-use: derived from the send key, so a rerun prints the same code."""
    return f"{prefix}-{hashlib.sha256(f'coupon|{key}'.encode()).hexdigest()[:6].upper()}"


def _is_missing(value: Any) -> bool:
    if value is None or (not isinstance(value, (list, dict, tuple)) and pd.isna(value)):
        return True
    return isinstance(value, str) and not value.strip()


def _template_value(name: str, value: Any) -> Any:
    """Dates as dates (not midnight timestamps); a missing value is Blank: printing it unworded is an error."""
    if _is_missing(value):
        return Blank(name)
    if isinstance(value, pd.Timestamp):
        return value.date() if value == value.normalize() else value.to_pydatetime()
    return value


def _channel_list(value: Any) -> set[str]:
    return set() if _is_missing(value) else {c.strip() for c in str(value).split(",") if c.strip()}


def read_audience(con: duckdb.DuckDBPyConnection, spec: CampaignSpec, first: date, last: date) -> pd.DataFrame:
    """The audience rows of the window with the customer's display name; checks the columns the file names."""
    audience = con.execute(
        f"select audience.*, customers.customer_name as _contact_name from marts.{spec.audience} as audience"
        " left join staging.stg_shop__customers as customers on customers.customer_id = audience.customer_id"
        " where audience.as_of_date between ? and ? order by audience.as_of_date, audience.customer_id",
        [first, last],
    ).df()
    needed = {"as_of_date": "audience", "customer_id": "audience"}
    for field, column in (
        ("cycle_column", spec.cycle_column),
        ("advertised_category_column", spec.advertised_category_column),
        ("skip_channels_column", spec.skip_channels_column),
        ("schedule.after_event", spec.schedule.after_event),
    ):
        if column:
            needed[column] = field
    missing = {column: field for column, field in needed.items() if column not in audience.columns}
    if missing:
        raise AudienceError(
            f"{spec.id}.yaml: "
            + "; ".join(
                f"{field}: column {column!r} is not in marts.{spec.audience}" for column, field in missing.items()
            )
        )
    duplicated = audience.duplicated(["as_of_date", "customer_id"])
    if duplicated.any():
        row = audience[duplicated].iloc[0]
        raise AudienceError(
            f"marts.{spec.audience} lists customer {row['customer_id']} twice on {row['as_of_date']:%Y-%m-%d}:"
            " an audience has one row per customer and day"
        )
    return audience


def planning_moment(day: date) -> datetime:
    """When the nightly run plans `day`: the next morning at the nightly hour (02:00), shop-local."""
    return datetime.combine(day + timedelta(days=1), time(load_settings().nightly_hour))


def base_schedule(spec: CampaignSpec, day: date, record: dict[str, Any]) -> datetime:
    """Shop-local: the campaign's next send time after the day is planned.

    The nightly run plans day D at 02:00 on D+1, so a daily campaign goes at its `daily_at` on D+1 (or D+2
    when `daily_at` is before the nightly hour); an event campaign at the event time plus its delay, or at
    planning when that moment has already passed. Never a time before planning: that would be stale on
    arrival (and expire at hand-off)."""
    planned = planning_moment(day)
    if spec.schedule.daily_at is not None:
        at = datetime.combine(day + timedelta(days=1), spec.schedule.daily_at)
        return at if at >= planned else at + timedelta(days=1)
    event = record[spec.schedule.after_event or ""]
    if event is None or pd.isna(event):
        raise AudienceError(
            f"{spec.id}.yaml: schedule.after_event: {spec.schedule.after_event} is empty for customer"
            f" {record['customer_id']} on {day}"
        )
    return max(pd.Timestamp(event).to_pydatetime() + timedelta(minutes=spec.schedule.delay_minutes), planned)


def next_send_after(spec: CampaignSpec, scheduled: datetime, moment: datetime) -> datetime:
    """`scheduled`, or when `moment` is later, the campaign's next send time at or after `moment`: its
    `daily_at` (that day or the next), or `moment` itself for an event campaign."""
    if moment <= scheduled:
        return scheduled
    if spec.schedule.daily_at is None:
        return moment
    at = datetime.combine(moment.date(), spec.schedule.daily_at)
    return at if at >= moment else at + timedelta(days=1)


def build_send_list(
    con: duckdb.DuckDBPyConnection,
    spec: CampaignSpec,
    first: date,
    last: date,
    sender: Sender,
    tracking: Tracking,
    link_store: LinkStore | None = None,
) -> pd.DataFrame:
    """Every audience row of the window rendered on every channel of the plan (one row per channel).

    The tracked links' planned targets go to `link_store`, where the tracking service reads them."""
    audience = read_audience(con, spec, first, last)
    rows: list[dict[str, Any]] = []
    rendered: list[RenderedLinks] = []
    for record in audience.to_dict("records"):
        day = pd.Timestamp(record["as_of_date"]).date()
        customer_id = str(record["customer_id"])
        cycle_value = record[spec.cycle_column] if spec.cycle_column else day.isoformat()
        cycle = "" if _is_missing(cycle_value) else str(_template_value("", cycle_value))
        key = send_key(spec.id, 1, customer_id, cycle)
        scheduled = base_schedule(spec, day, record)
        variables = {k: _template_value(k, v) for k, v in record.items() if not k.startswith("_")}
        names = (record.get(k) for k in ("customer_name", "_contact_name"))
        variables["name"] = next((str(n).strip() for n in names if not _is_missing(n)), "고객")
        variables["shop"] = {"name": sender.name, "contact": sender.contact}
        variables["send_date"] = scheduled.date()
        if spec.coupon is not None:
            variables["coupon"] = {
                "code": coupon_code(spec.coupon.prefix, key),
                "benefit": spec.coupon.benefit,
                "expires_on": scheduled.date() + timedelta(days=spec.coupon.valid_days),
            }
        category = record.get(spec.advertised_category_column) if spec.advertised_category_column else None
        candidate = {
            "campaign_id": spec.id,
            "step": 1,
            "customer_id": customer_id,
            "as_of_date": day,
            "cycle": cycle,
            "send_key": key,
            "base_scheduled_at": scheduled,
            "advertised_category": None if category is None or pd.isna(category) else str(category),
        }
        skipped = _channel_list(record.get(spec.skip_channels_column)) if spec.skip_channels_column else set()
        for rank, channel in enumerate(spec.channels, start=1):
            row = candidate | {
                "channel": str(channel),
                "channel_rank": rank,
                "message_type": None,
                "subject": None,
                "body": None,
                "data": None,
                "content_bytes": None,
                "render_error": None,
                "render_warnings": None,
            }
            if str(channel) in skipped:
                row["render_error"] = (
                    f"channel_failed: an earlier attempt at this message on {channel} failed; the next channel"
                    " of the plan is tried"
                )
                rows.append(row)
                continue
            try:
                message = compose(spec, channel, variables, sender, key, tracking)
            except Unrenderable as exc:
                row["render_error"] = f"{exc.code}: {exc}"
            else:
                row |= {
                    "message_type": str(message.message_type),
                    "subject": message.subject,
                    "body": message.body,
                    "data": data_json(message.data),
                    "content_bytes": message.content_bytes,
                    "render_warnings": "; ".join(message.warnings) or None,
                }
                planned = PlannedSend(key, str(channel), spec.id, customer_id, day.isoformat(), str(spec.purpose))
                rendered.append(RenderedLinks(planned, message.links))
            rows.append(row)
    if link_store is not None:
        link_store.register(rendered)
    return pd.DataFrame(rows, columns=SEND_LIST_COLUMNS)


def write_send_list(
    con: duckdb.DuckDBPyConnection, spec: CampaignSpec, first: date, last: date, send_list: pd.DataFrame
) -> None:
    """Replace the campaign's rows for the window (a rerun of the window lists the same keys again)."""
    con.execute(SEND_LISTS_DDL)
    con.execute("begin")
    con.execute(
        "delete from sends.send_lists where campaign_id = ? and as_of_date between ? and ?", [spec.id, first, last]
    )
    if len(send_list):
        con.register("_send_list", send_list.assign(listed_at=datetime.now()))
        con.execute("insert into sends.send_lists by name select * from _send_list")
        con.unregister("_send_list")
    con.execute("commit")
