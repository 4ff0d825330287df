"""Every dbt model as a daily-partitioned asset; the partition window becomes dbt's as-of window."""

import json
import os

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.campaigns.config import load_policy
from orchestration.campaigns.eligibility import dbt_eligibility_vars
from orchestration.lib.dbt import dbt_project, translator
from orchestration.lib.partitions import daily_partitions, dbt_vars, window_days
from orchestration.lib.resources import WarehouseResource
from orchestration.settings import load_settings


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    partitions_def=daily_partitions,
    pool="warehouse",
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """One `dbt build` over the run's window; a backfill of many days is one run (a date spine inside)."""
    first, last = window_days(context)
    settings = load_settings()
    # dbt runs as a subprocess and reads its profile from the environment.
    os.environ["DANGOL_WAREHOUSE"] = str(warehouse.file)
    os.environ["DANGOL_TIMEZONE"] = settings.timezone
    variables = dbt_vars(first, last) | {"shop_timezone": settings.timezone} | dbt_eligibility_vars(load_policy())
    args = ["build", "--vars", json.dumps(variables)]
    with warehouse.exclusive():
        invocation = dbt.cli(args, context=context)
        yield from invocation.stream()
        # dbt may still be closing the DuckDB file after its last event: release the lock only once it exited.
        invocation.process.wait()
