"""The nightly job and its schedule: the whole graph for the previous shop-local day."""

from datetime import timedelta

import dagster as dg

from orchestration.lib.partitions import daily_partitions
from orchestration.settings import load_settings

_settings = load_settings()


def _previous_shop_day(context: dg.ScheduleEvaluationContext) -> str:
    """The partition key of the shop-local day before the tick: both schedules act on the day that ended."""
    tick = context.scheduled_execution_time.astimezone(_settings.tz)
    return (tick - timedelta(days=1)).date().isoformat()


nightly_job = dg.define_asset_job(
    name="nightly",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    description="Ingest, customer 360 and segments, send lists, delivery: one shop-local day.",
)


deliver_job = dg.define_asset_job(
    name="deliver",
    selection=dg.AssetSelection.assets(dg.AssetKey(["deliveries"])),
    partitions_def=daily_partitions,
    description="Delivery only: sends what the nightly run planned but could not send at night.",
)


@dg.schedule(
    name="nightly_schedule",
    job=nightly_job,
    cron_schedule=f"0 {_settings.nightly_hour} * * *",
    execution_timezone=_settings.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At 02:00 shop time, build and deliver the day that just ended.",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = _previous_shop_day(context)
    return dg.RunRequest(run_key=day, partition_key=day)


@dg.schedule(
    name="morning_delivery",
    job=deliver_job,
    cron_schedule=f"0 {_settings.morning_delivery_hour} * * *",
    execution_timezone=_settings.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="After the night window, deliver the ads the 02:00 run had to defer (the ledger skips the rest).",
)
def morning_delivery(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = _previous_shop_day(context)
    return dg.RunRequest(run_key=f"deliver-{day}", partition_key=day)
