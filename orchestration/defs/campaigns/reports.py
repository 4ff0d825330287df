"""One report asset per campaign file, per day: what a marketer checks before and after a campaign goes out.

`reports/<id>_report` for each day: audience, scheduled by channel, held, exclusions by reason, estimated
cost (KRW, the policy's prices), delivery (handed off, failed, refused at hand-off), what came back
(delivered, bounced, opened and clicked by people, unsubscribed), a masked preview of at least ten
rendered messages covering every channel of the campaign, and, when a day is planned again, how its send
list changed since the report before (added and removed, masked examples). Counts are numeric metadata,
so the asset's Plots tab draws them over days.

Read-only over the plan and the delivery record, except `reports.campaign_day_sends`: the last reported
send list per campaign-day, which only this asset writes (it is what the next run's difference is from).
"""

import math
from datetime import date, datetime
from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from channels.masking import mask_address
from channels.models import Channel
from orchestration.campaigns.spec import CampaignSpec, load_campaigns
from orchestration.campaigns.trial import rendered_messages
from orchestration.defs.campaigns.plan import masked_preview
from orchestration.lib.figures import report_days
from orchestration.lib.partitions import daily_partitions, days_between, window_backfill, window_days
from orchestration.lib.resources import WarehouseResource
from orchestration.lib.warehouse import table_exists

PREVIEW_MESSAGES = 10
EXAMPLES = 5
_DEPS = [
    dg.AssetKey(["sends", "fct_send_decisions"]),
    dg.AssetKey(["sends", "fct_planned_sends"]),
    dg.AssetKey(["deliveries"]),
]
SNAPSHOT_DDL = """
create schema if not exists reports;
create table if not exists reports.campaign_day_sends (
    campaign_id varchar not null,
    as_of_date date not null,
    send_key varchar not null,
    customer_id varchar not null,
    channel varchar not null,
    masked_to varchar not null,
    reported_at timestamp not null
);
"""
# Engagement per send, from the tracking service's events (issue: people, not scanners, count).
_EVENTS_SQL = """
select
    count(distinct send_key) filter (where event_type = 'delivered') as delivered,
    count(distinct send_key) filter (where event_type = 'bounced') as bounced,
    count(distinct send_key) filter (where event_type = 'opened' and is_human) as opened_by_people,
    count(distinct send_key) filter (where event_type = 'clicked' and is_human) as clicked_by_people,
    count(distinct send_key) filter (where event_type = 'unsubscribed') as unsubscribed
from sends.message_events where campaign_id = ? and send_date = ?
"""
_OUTCOMES = ("delivered", "bounced", "opened_by_people", "clicked_by_people", "unsubscribed")


def report_key(campaign_id: str) -> dg.AssetKey:
    return dg.AssetKey(["reports", f"{campaign_id}_report"])


def _counts(frame: pd.DataFrame, column: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame[column].value_counts().sort_index().items()} if len(frame) else {}


def campaign_day(con: duckdb.DuckDBPyConnection, spec: CampaignSpec, day: date) -> tuple[dict[str, Any], pd.DataFrame]:
    """The day's figures of one campaign, and its current send list (for the difference)."""
    decisions = con.execute(
        "select customer_id, decision, reason from sends.fct_send_decisions where campaign_id = ? and as_of_date = ?",
        [spec.id, day],
    ).df()
    planned = con.execute(
        "select send_key, customer_id, channel, message_type, address, state, cost_krw from sends.fct_planned_sends"
        " where campaign_id = ? and as_of_date = ?",
        [spec.id, day],
    ).df()
    scheduled = planned[planned["state"] == "scheduled"]
    excluded = decisions[decisions["decision"] == "excluded"]
    by_type = _counts(scheduled, "message_type")
    figures: dict[str, Any] = {
        "audience": int(decisions["customer_id"].nunique()),
        "scheduled": len(scheduled),
        **{f"scheduled_{kind}": by_type.get(kind, 0) for kind in sorted(set(by_type) | _types(spec))},
        "held_for_approval": int((planned["state"] == "held_for_approval").sum()),
        "excluded": len(excluded),
        "excluded_by_reason": dg.MetadataValue.json(_counts(excluded, "reason")),
        "estimated_cost_krw": float(pd.to_numeric(scheduled["cost_krw"], errors="coerce").fillna(0).sum()),
    }
    if table_exists(con, "sends", "deliveries"):
        states = dict(
            con.execute(
                "select case when adapter = '-' then 'refused_at_handoff' when state = 'failed' then 'failed'"
                " when state in ('accepted', 'delivered', 'opened', 'clicked') then 'handed_off' else state end,"
                " count(*) from sends.deliveries where campaign_id = ? and send_date = ? group by 1",
                [spec.id, day],
            ).fetchall()
        )
        figures |= {k: int(states.get(k, 0)) for k in ("handed_off", "failed", "refused_at_handoff")}
    if table_exists(con, "sends", "message_events"):
        row = con.execute(_EVENTS_SQL, [spec.id, day]).fetchone() or (0,) * len(_OUTCOMES)
        figures |= {k: int(v or 0) for k, v in zip(_OUTCOMES, row, strict=True)}
    figures["preview"] = dg.MetadataValue.md(preview(con, spec, day))
    return figures, planned


def _types(spec: CampaignSpec) -> set[str]:
    """The message types a campaign's channels give (always shown, 0 included, so plots have every line)."""
    kinds = {"kakao": "alimtalk", "sms": "sms"}
    return {kinds.get(str(c), str(c)) for c in spec.channels}


def preview(con: duckdb.DuckDBPyConnection, spec: CampaignSpec, day: date) -> str:
    """At least ten of the day's rendered messages, every channel of the campaign, masked."""
    channels = [Channel(str(c)) for c in spec.channels]
    per_channel = math.ceil(PREVIEW_MESSAGES / max(len(channels), 1))
    if not table_exists(con, "sends", "send_lists"):
        return "no rendered messages yet"
    rows = rendered_messages(con, spec.id, day, channels, per_channel)
    names = _names(con, list(rows["customer_id"])) if len(rows) else {}
    table = [
        {
            "channel": f"{r.channel} ({r.message_type})",
            "customer": r.customer_id,
            "subject": masked_preview(None if pd.isna(r.subject) else r.subject, names.get(r.customer_id), 40),
            "body": masked_preview(r.body, names.get(r.customer_id)),
        }
        for r in rows.itertuples(index=False)
    ]
    return pd.DataFrame(table).to_markdown(index=False) if table else "no rendered messages this day"


def _names(con: duckdb.DuckDBPyConnection, customers: list[str]) -> dict[str, str]:
    if not customers or not table_exists(con, "staging", "stg_shop__customers"):
        return {}
    rows = con.execute(
        "select customer_id, customer_name from staging.stg_shop__customers where list_contains(?, customer_id)",
        [customers],
    ).fetchall()
    return {c: n for c, n in rows if n}


def difference(previous: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
    """How the day's send list changed since it was last reported: added and removed sends, masked examples."""
    if not len(previous):
        return {"change_since_last_run": "first report of this day"}
    before, now = set(previous["send_key"]), set(current["send_key"])
    added = current[current["send_key"].isin(now - before)]
    removed = previous[previous["send_key"].isin(before - now)]

    def examples(rows: pd.DataFrame) -> list[str]:
        return [f"{r.customer_id} {r.channel} {r.masked_to}" for r in rows.head(EXAMPLES).itertuples(index=False)]

    return {
        "added_since_last_run": len(added),
        "removed_since_last_run": len(removed),
        "change_examples_masked": dg.MetadataValue.json({"added": examples(added), "removed": examples(removed)}),
    }


def _snapshot(planned: pd.DataFrame) -> pd.DataFrame:
    """The sends that are going out (a send now held counts as removed, an approved one as added)."""
    going = planned[planned["state"] == "scheduled"]
    masked = [mask_address(c, a) for c, a in zip(going["channel"], going["address"], strict=True)]
    return going[["send_key", "customer_id", "channel"]].assign(masked_to=masked)


_specs = load_campaigns()


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            report_key(spec.id),
            deps=_DEPS,
            description=f"{spec.name}: the day's audience, sends by channel, exclusions by reason, estimated"
            " cost, delivery and engagement, a masked preview of its messages and how a rerun changed the list.",
            kinds={"python", "duckdb"},
            tags={"campaign": spec.id},
            skippable=True,
        )
        for spec in _specs
    ],
    group_name="campaign_reports",
    partitions_def=daily_partitions,
    backfill_policy=window_backfill,
    pool="warehouse",
    can_subset=True,
)
def campaign_reports(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    first, last = window_days(context)
    specs = {s.id: s for s in load_campaigns()}
    selected = [c for c in specs if report_key(c) in context.selected_asset_keys]
    reported: dict[str, dict[date, dict[str, Any]]] = {c: {} for c in selected}
    with warehouse.write() as con:
        con.execute(SNAPSHOT_DDL)
        for campaign_id in selected:
            for day in days_between(first, last):
                figures, planned = campaign_day(con, specs[campaign_id], day)
                now = _snapshot(planned)
                previous = con.execute(
                    "select send_key, customer_id, channel, masked_to from reports.campaign_day_sends"
                    " where campaign_id = ? and as_of_date = ?",
                    [campaign_id, day],
                ).df()
                reported[campaign_id][day] = figures | difference(previous, now)
                con.execute(
                    "delete from reports.campaign_day_sends where campaign_id = ? and as_of_date = ?",
                    [campaign_id, day],
                )
                con.register("_now", now.assign(campaign_id=campaign_id, as_of_date=day, reported_at=datetime.now()))
                con.execute("insert into reports.campaign_day_sends by name select * from _now")
                con.unregister("_now")
    for campaign_id in selected:
        report_days(context, reported[campaign_id].__getitem__, asset_key=report_key(campaign_id))
        yield dg.MaterializeResult(asset_key=report_key(campaign_id), metadata={"window": f"{first} .. {last}"})
