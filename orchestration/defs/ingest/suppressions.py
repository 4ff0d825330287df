"""The delivery ledger's suppression list, copied into the warehouse for dbt (int_customer_eligibility_daily)."""

from pathlib import Path

import dagster as dg

from orchestration.campaigns.eligibility import copy_suppressions
from orchestration.lib.partitions import daily_partitions, window_backfill
from orchestration.lib.resources import ChannelsResource, WarehouseResource

SUPPRESSIONS_KEY = dg.AssetKey(["ledger", "suppressions"])


@dg.asset(
    key=SUPPRESSIONS_KEY,
    group_name="ingest",
    partitions_def=daily_partitions,
    backfill_policy=window_backfill,
    pool="warehouse",
    kinds={"python", "duckdb"},
    description=(
        "ledger.suppressions: every address the delivery ledger suppressed (hard bounces, dead tokens, 080"
        " refusals, unsubscribes), by hash, copied before dbt so eligibility sees each opt-out recorded so far."
    ),
)
def suppressions(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, channels: ChannelsResource
) -> dg.MaterializeResult:
    """The ledger is the truth: the table is replaced whole on every copy."""
    with warehouse.write() as con:
        copied = copy_suppressions(con, Path(channels.ledger_path), warehouse.timezone)
        by_kind = dict(con.execute("select kind, count(*) from ledger.suppressions group by kind").fetchall())
    return dg.MaterializeResult(
        metadata={
            "suppressions": copied,
            "by_kind": dg.MetadataValue.json({str(k): int(v) for k, v in by_kind.items()}),
        }
    )
