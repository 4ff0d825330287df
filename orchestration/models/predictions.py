"""BG/NBD for one as-of day, from and to the warehouse: read the BTYD summary, fit, write fit and predictions.

Dagster-free so the benchmark and the tests run it the same way as the asset; the caller opens the
connection (under the warehouse lock) and decides which day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd

from orchestration.models import bgnbd
from orchestration.models.config import BgNbdConfig

SUMMARY_TABLE = "intermediate.int_customer_states_daily"
FIT_TABLE = "marts.model_fit_bgnbd"
PREDICTIONS_TABLE = "predictions.customer_bgnbd"

DDL = f"""
create schema if not exists marts;
create schema if not exists predictions;
create table if not exists {FIT_TABLE} (
    as_of_date date not null,
    r double,
    alpha double,
    a double,
    b double,
    log_likelihood double,
    time_unit varchar not null,
    n_customers bigint not null,
    n_repeat_customers bigint not null,
    converged boolean not null,
    skipped_reason varchar,
    fitted_at timestamp not null
);
create table if not exists {PREDICTIONS_TABLE} (
    as_of_date date not null,
    customer_id varchar not null,
    frequency bigint not null,
    recency double not null,
    tenure double not null,
    p_alive double,
    expected_purchases_90d double
);
"""


@dataclass(frozen=True)
class DayFit:
    as_of_date: date
    fit: bgnbd.BgNbdFit | None
    skipped_reason: str | None
    predictions: pd.DataFrame  # one row per buyer; p_alive / expected purchases null when skipped


def read_summary(con: duckdb.DuckDBPyConnection, day: date) -> pd.DataFrame:
    """Every buyer's (frequency, recency, tenure) in days, as of the end of `day`."""
    return con.execute(
        f"select customer_id, frequency, recency_days, tenure_days from {SUMMARY_TABLE}"
        " where as_of_date = ? and order_days > 0 order by customer_id",
        [day],
    ).df()


def fit_day(summary: pd.DataFrame, day: date, config: BgNbdConfig) -> DayFit:
    """Fit on the day's summary and predict for every buyer in it.

    No fit (predictions null) below `min_customers` buyers or without any repeat buyer: the dropout
    process (a, b) cannot be learnt from customers who never came back.
    """
    unit = config.time_unit.days
    x = summary["frequency"].to_numpy(dtype=np.float64)
    t_x = summary["recency_days"].to_numpy(dtype=np.float64) / unit
    T = summary["tenure_days"].to_numpy(dtype=np.float64) / unit
    predictions = pd.DataFrame(
        {
            "as_of_date": pd.Series([day] * len(summary), dtype="object"),
            "customer_id": summary["customer_id"].astype(str),
            "frequency": summary["frequency"].astype("int64"),
            "recency": t_x,
            "tenure": T,
            "p_alive": np.nan,
            "expected_purchases_90d": np.nan,
        }
    )
    reason = None
    if len(summary) < config.min_customers:
        reason = f"{len(summary)} buyers, fewer than bgnbd_min_customers = {config.min_customers}"
    elif not np.any(x > 0):
        reason = "no repeat buyers: dropout cannot be estimated"
    if reason is not None:
        return DayFit(day, None, reason, predictions)
    fitted = bgnbd.fit(x, t_x, T)
    predictions["p_alive"] = bgnbd.p_alive(fitted.params, x, t_x, T)
    predictions["expected_purchases_90d"] = bgnbd.expected_purchases(
        fitted.params, config.horizon_days / unit, x, t_x, T
    )
    return DayFit(day, fitted, None, predictions)


def write_day(con: duckdb.DuckDBPyConnection, result: DayFit, config: BgNbdConfig) -> None:
    """Replace the day's fit and predictions (delete + insert), so a rerun of a day is idempotent."""
    con.execute(DDL)
    fit = result.fit
    con.execute(f"delete from {FIT_TABLE} where as_of_date = ?", [result.as_of_date])
    con.execute(
        f"insert into {FIT_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            result.as_of_date,
            fit.params.r if fit else None,
            fit.params.alpha if fit else None,
            fit.params.a if fit else None,
            fit.params.b if fit else None,
            fit.log_likelihood if fit else None,
            str(config.time_unit),
            len(result.predictions),
            int((result.predictions["frequency"] > 0).sum()),
            bool(fit and fit.converged),
            result.skipped_reason,
            datetime.now(),
        ],
    )
    con.execute(f"delete from {PREDICTIONS_TABLE} where as_of_date = ?", [result.as_of_date])
    con.register("_bgnbd_predictions", result.predictions)
    try:
        con.execute(
            f"insert into {PREDICTIONS_TABLE} select cast(as_of_date as date), customer_id, frequency, recency,"
            " tenure, p_alive, expected_purchases_90d from _bgnbd_predictions"
        )
    finally:
        con.unregister("_bgnbd_predictions")
