"""BG/NBD predictions between the two dbt steps of a run: dbt (states) -> this fit -> dbt (360, segments).

A run over a window of days (a backfill) fits the window's last day only, the day dim_customers
describes; the fit takes seconds at a million customers, but thirty of them would dominate a backfill.
"""

from collections.abc import Mapping
from datetime import date
from typing import Any

import dagster as dg

from orchestration.lib.figures import report_days
from orchestration.lib.partitions import daily_partitions, window_backfill, window_days
from orchestration.lib.resources import WarehouseResource
from orchestration.models.config import bgnbd_config
from orchestration.models.predictions import fit_day, read_summary, write_day

STATES_KEY = dg.AssetKey(["intermediate", "int_customer_states_daily"])
FIT_KEY = dg.AssetKey(["marts", "model_fit_bgnbd"])
PREDICTIONS_KEY = dg.AssetKey(["predictions", "customer_bgnbd"])

_FIT_COLUMNS = dg.TableSchema(
    columns=[
        dg.TableColumn("as_of_date", "date", description="The day fitted (purchases up to its end)."),
        dg.TableColumn("r", "double", description="Gamma shape of the purchase rate across customers."),
        dg.TableColumn("alpha", "double", description="Gamma scale of the purchase rate, in time_unit."),
        dg.TableColumn("a", "double", description="Beta parameter of the dropout probability."),
        dg.TableColumn("b", "double", description="Beta parameter of the dropout probability."),
        dg.TableColumn("log_likelihood", "double", description="Maximised log-likelihood."),
        dg.TableColumn("time_unit", "varchar", description="day or week (dbt var bgnbd_time_unit)."),
        dg.TableColumn("n_customers", "bigint", description="Buyers the model was fitted on."),
        dg.TableColumn("n_repeat_customers", "bigint", description="Of them, buyers with a repeat purchase."),
        dg.TableColumn("converged", "boolean", description="Whether the optimiser reported convergence."),
        dg.TableColumn("skipped_reason", "varchar", description="Why no fit was made, if none was."),
        dg.TableColumn("fitted_at", "timestamp", description="When the fit ran."),
    ]
)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            FIT_KEY,
            deps=[STATES_KEY],
            group_name="predictions",
            kinds={"python", "scipy", "duckdb"},
            description="One row per as-of day: the BG/NBD maximum-likelihood fit (r, alpha, a, b).",
            metadata={"dagster/column_schema": _FIT_COLUMNS},
        ),
        dg.AssetSpec(
            PREDICTIONS_KEY,
            deps=[STATES_KEY],
            group_name="predictions",
            kinds={"python", "scipy", "duckdb"},
            description="One row per buyer per fitted day: p_alive and expected purchases in 90 days.",
        ),
    ],
    partitions_def=daily_partitions,
    backfill_policy=window_backfill,
    pool="warehouse",
)
def bgnbd_fit(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Fit BG/NBD on the as-of summary of the window's last day and write every buyer's predictions."""
    _, last = window_days(context)
    config = bgnbd_config()
    with warehouse.write() as con:
        result = fit_day(read_summary(con, last), last, config)
        write_day(con, result, config)
    predictions = result.predictions
    if result.fit is None:
        context.log.warning(f"no BG/NBD fit for {last}: {result.skipped_reason}")
        fit_metadata: dict = {"skipped_reason": result.skipped_reason}
    else:
        params = result.fit.params
        fit_metadata = {
            "r": params.r,
            "alpha": params.alpha,
            "a": params.a,
            "b": params.b,
            "log_likelihood": result.fit.log_likelihood,
            "converged": result.fit.converged,
        }
    p_alive = predictions["p_alive"].dropna()
    prediction_metadata = {
        "buyers": len(predictions),
        "mean_p_alive": float(p_alive.mean()) if len(p_alive) else None,
        "buyers_p_alive_below_0.5": int((p_alive < 0.5).sum()),
        "expected_purchases_90d_total": float(predictions["expected_purchases_90d"].sum()),
    }
    # Only the window's last day is fitted: the other days of a backfill say so instead of showing its fit.
    not_fitted = {"fitted": False, "note": f"a run over a window fits its last day only ({last})"}
    fit_figures = {"buyers": len(predictions)} | fit_metadata
    for key, figures in ((FIT_KEY, fit_figures), (PREDICTIONS_KEY, prediction_metadata)):

        def of_day(day: date, figures: Mapping[str, Any] = figures) -> Mapping[str, Any]:
            return {"fitted": True, **figures} if day == last else not_fitted

        report_days(context, of_day, asset_key=key)
    yield dg.MaterializeResult(
        asset_key=FIT_KEY, metadata={"as_of_date": str(last), "time_unit": str(config.time_unit)}
    )
    yield dg.MaterializeResult(asset_key=PREDICTIONS_KEY, metadata={"as_of_date": str(last)})
