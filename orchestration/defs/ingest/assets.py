"""Raw tables: the shop's CSV folder, typed, with bad rows quarantined instead of failing the run."""

from datetime import date, datetime
from functools import partial
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.ingest.contract import CONTRACTS
from orchestration.ingest.loader import FileReport, load_folder
from orchestration.lib.figures import report_days
from orchestration.lib.partitions import daily_partitions, window_backfill
from orchestration.lib.resources import ShopDataResource, WarehouseResource
from orchestration.settings import load_settings

RAW_KEYS = {contract.table: dg.AssetKey(["raw", contract.table]) for contract in CONTRACTS}
QUARANTINE_KEY = dg.AssetKey(["raw", "quarantine"])


class IngestConfig(dg.Config):
    data_dir: str | None = None  # defaults to the shop_data resource (DANGOL_DATA_DIR)
    # Files unchanged since their last load keep it; set this to read every file again (a fixed contract
    # rule, a restored warehouse, a file edited in place with its old modification time).
    full_reload: bool = False


def _dated_rows(con: duckdb.DuckDBPyConnection, table: str, column: str) -> dict[date, int]:
    """Rows per shop-local day of their main timestamp."""
    rows = con.execute(
        f'select cast("{column}" as date), count(*) from raw.{table} where "{column}" is not null group by 1'
    ).fetchall()
    return dict(rows)


def _day_figures(dated: dict[date, int], day: date) -> dict[str, int]:
    """What the day adds, and what a model built as of its end sees (rows dated up to it)."""
    return {
        "rows_dated_that_day": int(dated.get(day, 0)),
        "rows_as_of_that_day": int(sum(n for d, n in dated.items() if d <= day)),
    }


@dg.multi_asset(
    specs=[
        dg.AssetSpec(key, group_name="ingest", kinds={"duckdb", "csv"}, description=f"raw.{table}: {table}.csv, typed")
        for table, key in RAW_KEYS.items()
    ]
    + [
        dg.AssetSpec(
            QUARANTINE_KEY,
            group_name="ingest",
            kinds={"duckdb"},
            description="One row per broken contract rule: file, line, column, rule, masked detail.",
        )
    ],
    partitions_def=daily_partitions,
    backfill_policy=window_backfill,
    pool="warehouse",
)
def raw_tables(
    context: dg.AssetExecutionContext, config: IngestConfig, warehouse: WarehouseResource, shop_data: ShopDataResource
):
    """Load the folder's changed files; which rows a day may see is decided downstream by the as-of window."""
    settings = load_settings()
    data_dir = shop_data.folder if config.data_dir is None else Path(config.data_dir)
    with warehouse.write() as con:
        now_local = datetime.now(settings.tz).replace(tzinfo=None)

        def progress(done: int, total: int, report: FileReport, seconds: float) -> None:
            how = f"read, {report.rows_loaded:,} rows loaded" if report.reloaded else "unchanged, kept"
            context.log.info(f"{done}/{total} {report.table}.csv: {how} ({seconds:.1f} s)")

        reports = load_folder(
            con, data_dir, settings.timezone, now_local, full_reload=config.full_reload, progress=progress
        )
        examples = con.execute(
            "select file, line, column_name, rule, detail from raw.quarantine order by file, line limit 20"
        ).df()
        dated = {c.table: _dated_rows(con, c.table, c.future_column) for c in CONTRACTS if c.future_column}
    for report in reports:
        if not report.present:
            context.log.warning(f"{report.table}.csv is missing from {data_dir}: loaded as an empty table")
        if report.quarantined_rows:
            context.log.warning(f"{report.table}.csv: {report.quarantined_rows} row(s) quarantined ({report.rules})")
        if report.table in dated:
            counts = dated[report.table]
            report_days(context, partial(_day_figures, counts), asset_key=RAW_KEYS[report.table])
        yield dg.MaterializeResult(
            asset_key=RAW_KEYS[report.table],
            metadata={
                "file_present": report.present,
                "read_again": report.reloaded,
                "rows_read": report.rows_read,
                "rows_loaded": report.rows_loaded,
                "rows_quarantined": report.quarantined_rows,
                "quarantine_by_rule": dg.MetadataValue.json(report.rules),
            },
        )
    yield dg.MaterializeResult(
        asset_key=QUARANTINE_KEY,
        metadata={
            "rows": sum(sum(r.rules.values()) for r in reports),
            "examples": dg.MetadataValue.md(examples.to_markdown(index=False) if len(examples) else "none"),
        },
    )
