"""Every dbt model as a daily-partitioned asset; the partition window becomes dbt's as-of window."""

import json
from datetime import date

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.campaigns.config import load_policy
from orchestration.campaigns.eligibility import dbt_eligibility_vars
from orchestration.lib.dbt import dbt_project, prepare_manifest, translator
from orchestration.lib.figures import report_days
from orchestration.lib.partitions import daily_partitions, dbt_vars, window_days
from orchestration.lib.resources import WarehouseResource
from orchestration.lib.warehouse import duckdb_config

# The graph is read from the manifest: prepare it when the dbt files changed, so "Reload definitions" shows
# an edited model without restarting `make dev` (a no-op, a few file dates compared, when nothing changed).
prepare_manifest()


def _dbt_step(name: str, select: str, exclude: str | None = None) -> dg.AssetsDefinition:
    """One named dbt step. The graph leaves dbt twice (the BG/NBD fit in Python, the campaigns' send lists
    and policy in Python), so a run builds the dbt models in three steps; naming each for what it builds
    reads better in a run than Dagster's own split of one multi-asset (`dbt_models`, `dbt_models_2`, ...)."""

    @dbt_assets(
        name=name,
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=translator,
        partitions_def=daily_partitions,
        pool="warehouse",
        select=select,
        exclude=exclude,
    )
    def dbt_step(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        yield from _build(context, dbt, warehouse)

    return dbt_step


# Everything downstream of the BG/NBD scores, and the send plan, which reads the campaigns' Python steps.
_AFTER_SCORES = "stg_predictions__customer_bgnbd+"
_SEND_PLAN = "path:models/marts/sends"

# Staging, the customer history the scores are fit on (purchase days, states, eligibility), the segments and
# each campaign's audience: everything that does not wait for the scores.
dbt_history = _dbt_step("dbt_history_segments_audiences", select="fqn:*", exclude=f"{_AFTER_SCORES} {_SEND_PLAN}")
# The BG/NBD scores read back, the churn risk and the customer 360 (dim_customers).
dbt_customer_360 = _dbt_step("dbt_customer_360_with_scores", select=_AFTER_SCORES, exclude=_SEND_PLAN)
# The send decisions and planned sends, from the campaigns' send lists and policy.
dbt_send_plan = _dbt_step("dbt_send_plan", select=_SEND_PLAN)


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """One `dbt build` over the run's window; a backfill of many days is one run (a date spine inside)."""
    first, last = window_days(context)
    # dbt's profile takes the warehouse file, the shop's time zone and DuckDB's limits from these vars (the
    # environment's values are only its defaults), so the run's resources decide where dbt writes.
    limits = duckdb_config()
    variables = (
        dbt_vars(first, last)
        | {"warehouse_path": str(warehouse.file.resolve()), "shop_timezone": warehouse.timezone}
        | {"duckdb_memory_limit": limits["memory_limit"], "duckdb_threads": limits["threads"]}
        | dbt_eligibility_vars(load_policy())
    )
    args = ["build", "--vars", json.dumps(variables)]
    events: list = []
    try:
        with warehouse.exclusive():
            invocation = dbt.cli(args, context=context)
            # Held back until dbt is done: a model's rows per day can only be counted once dbt let go of the
            # file, and must be attached before its materialization is yielded (a few seconds later in the UI).
            events.extend(invocation.stream())
            # dbt may still be closing the DuckDB file after its last event: release the lock only once it exited.
            invocation.process.wait()
    except Exception:
        yield from events  # what dbt did build is still recorded
        raise
    _report_rows_per_day(context, warehouse, events, first, last)
    yield from events


def _report_rows_per_day(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, events: list, first: date, last: date
) -> None:
    """Each day's row count for every model built with an as_of_date column (daily models, audiences)."""
    nodes = json.loads(dbt_project.manifest_path.read_text())["nodes"]
    relations = {}
    for event in events:
        if isinstance(event, dg.Output) and "unique_id" in event.metadata:
            node = nodes.get(event.metadata["unique_id"].value, {})
            if node.get("schema") and node.get("alias"):
                relations[context.asset_key_for_output(event.output_name)] = (node["schema"], node["alias"])
    if not relations:
        return
    with warehouse.read() as con:
        daily = set(
            con.execute(
                "select table_schema, table_name from information_schema.columns where column_name = 'as_of_date'"
            ).fetchall()
        )
        for key, (schema, table) in relations.items():
            if (schema, table) not in daily:
                continue
            counts = dict(
                con.execute(
                    f'select as_of_date, count(*) from "{schema}"."{table}"'
                    " where as_of_date between ? and ? group by 1",
                    [first, last],
                ).fetchall()
            )

            def rows_of(day: date, counts: dict[date, int] = counts) -> dict[str, int]:
                return {"rows": int(counts.get(day, 0))}

            report_days(context, rows_of, asset_key=key)
