"""The one partitioning of the graph: shop-local days."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import dagster as dg

from orchestration.settings import load_settings

_settings = load_settings()

# end_offset=1 makes today (the day in progress) a partition too, so `dangol run --date <today>` works;
# the nightly schedule still targets the previous, complete day.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=_settings.start_date.isoformat(),
    timezone=_settings.timezone,
    end_offset=1,
)


def window_days(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> tuple[date, date]:
    """First and last day (inclusive) of the partition window a run covers.

    A backfill may run many days in one run, so assets never read `partition_key` directly.
    """
    return days_of_window(context.partition_time_window)


def days_of_window(window: dg.TimeWindow) -> tuple[date, date]:
    """A half-open window of shop-local midnights -> its first and last day, inclusive."""
    return window.start.date(), (window.end - timedelta(days=1)).date()


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def dbt_vars(first: date, last: date) -> dict[str, str]:
    """The as-of window handed to dbt: models see data up to the end of `last`, shop-local."""
    return {"start_date": first.isoformat(), "end_date": last.isoformat()}


def as_of_end(day: date) -> datetime:
    """The exclusive cut-off instant of a shop-local day, as a naive shop-local timestamp."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time())


# Every partitioned asset handles a whole window, so a backfill of many days is one run, as dbt's is.
window_backfill = dg.BackfillPolicy.single_run()
