"""Each day's figures are that day's: per-partition metadata for assets that build a window of days.

A run over a window (a backfill is one run) records one materialization per day, and without this each
of them carries the whole window's metadata: a day of 67 sends showed 229, and the Plots tab (numeric
metadata across materializations) drew the window's totals once per day.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import dagster as dg
import pandas as pd

from orchestration.lib.partitions import days_between, window_days


def report_days(
    context: dg.AssetExecutionContext,
    figures: Callable[[date], Mapping[str, Any]],
    *,
    asset_key: dg.AssetKey | None = None,
) -> None:
    """Attach `figures(day)` to each day of the run's window, as that day's materialization metadata.

    Call before the asset yields its result: metadata given here wins over the result's own for that day,
    so the result keeps only what describes the window as a whole.
    """
    first, last = window_days(context)
    for day in days_between(first, last):
        context.add_asset_metadata(dict(figures(day)), asset_key=asset_key, partition_key=day.isoformat())


def of_day(rows: pd.DataFrame, day: date, column: str = "as_of_date") -> pd.DataFrame:
    """The rows of one day (the frame's day column may hold dates or timestamps)."""
    if not len(rows):
        return rows
    return rows[(pd.to_datetime(rows[column]).dt.date == day).to_numpy()]
