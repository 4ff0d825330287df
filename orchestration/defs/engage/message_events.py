"""What customers and providers told the tracking service, loaded into the warehouse.

`dangol track` appends every click, open, unsubscribe and receipt to its durable log; the
`message_events_sensor` notices the log has grown and asks for a run of `sends/message_events`,
which loads everything after the warehouse's own cursor (see `orchestration.lib.message_events`).
The nightly run loads it too, before dbt builds the 360 (`stg_dangol__message_events` reads it).
"""

from datetime import datetime, timedelta

import dagster as dg

from channels.tracking.eventlog import end_of
from orchestration.lib.message_events import engagement_by_campaign_day, load_events
from orchestration.lib.partitions import daily_partitions, window_backfill
from orchestration.lib.resources import WarehouseResource
from orchestration.settings import load_settings

MESSAGE_EVENTS_KEY = dg.AssetKey(["sends", "message_events"])
REPORT_DAYS = 14


@dg.asset(
    key=MESSAGE_EVENTS_KEY,
    group_name="engagement",
    partitions_def=daily_partitions,
    backfill_policy=window_backfill,
    pool="warehouse",
    kinds={"python", "duckdb"},
    description="Clicks, opens, unsubscribes and provider receipts from the tracking service's event log,"
    " one row per event; clicks and opens by scanners and mail proxies are kept with is_human = false.",
)
def message_events(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    settings = load_settings()
    with warehouse.write() as con:
        loaded = load_events(con, settings.event_log, settings.timezone)
        since = datetime.now(settings.tz).date() - timedelta(days=REPORT_DAYS)
        report = engagement_by_campaign_day(con, since)
    context.log.info(f"{loaded.inserted:,} new events ({loaded.read:,} read), log cursor {loaded.cursor}")
    totals = {k: int(report[k].sum()) for k in ("delivered", "bounced", "opened", "clicked", "unsubscribed")}
    return dg.MaterializeResult(
        metadata={
            "events_read": loaded.read,
            "events_new": loaded.inserted,
            "log_cursor": str(loaded.cursor),
            **{f"{k}_{REPORT_DAYS}d": v for k, v in totals.items()},
            "by_campaign_and_day": dg.MetadataValue.md(
                report.to_markdown(index=False) if len(report) else "no events yet"
            ),
        }
    )


message_events_job = dg.define_asset_job(
    name="load_message_events",
    selection=dg.AssetSelection.assets(MESSAGE_EVENTS_KEY),
    description="Loads what the tracking service logged since the last load.",
)


@dg.sensor(
    name="message_events_sensor",
    job=message_events_job,
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Asks for a load whenever the tracking service's event log has grown.",
)
def message_events_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """The cursor is the log's end at the last request; the load itself starts from the warehouse's
    cursor, so a failed or skipped load loses nothing (the next one covers it)."""
    settings = load_settings()
    end = str(end_of(settings.event_log))
    if end == (context.cursor or "0:0"):
        return dg.SkipReason("no new events")
    in_flight = context.instance.get_run_records(
        dg.RunsFilter(
            job_name=message_events_job.name,
            statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTED],
        ),
        limit=1,
    )
    if in_flight:
        return dg.SkipReason("a load is running; the next tick covers what it misses")
    day = datetime.now(settings.tz).date().isoformat()
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"events-{end}", partition_key=day)], cursor=end)
