"""The nightly job and its schedule (the whole graph for the previous shop-local day), and the delivery-only
job the due-sends sensor launches (orchestration/defs/deliver/due_sends.py)."""

from datetime import timedelta

import dagster as dg

from orchestration.lib.partitions import daily_partitions
from orchestration.settings import load_settings

_settings = load_settings()


def _previous_shop_day(context: dg.ScheduleEvaluationContext) -> str:
    """The partition key of the shop-local day before the tick: the nightly run acts on the day that ended."""
    tick = context.scheduled_execution_time.astimezone(_settings.tz)
    return (tick - timedelta(days=1)).date().isoformat()


nightly_job = dg.define_asset_job(
    name="nightly",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    description="Ingest, customer 360 and segments, send lists and the plan for the next day's send times;"
    " hands off what is already due (a backfill plans only).",
)


deliver_job = dg.define_asset_job(
    name="deliver",
    selection=dg.AssetSelection.assets(dg.AssetKey(["deliveries"])),
    partitions_def=daily_partitions,
    description="Delivery only: hands a planned day's due sends to the providers (launched by the due_sends"
    " sensor). The delivery asset re-evaluates the blocking checks' rules, so this job cannot bypass them.",
)


@dg.schedule(
    name="nightly_schedule",
    job=nightly_job,
    cron_schedule=f"0 {_settings.nightly_hour} * * *",
    execution_timezone=_settings.timezone,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="At 02:00 shop time, build the day that just ended and plan its sends.",
)
def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = _previous_shop_day(context)
    return dg.RunRequest(run_key=day, partition_key=day)
