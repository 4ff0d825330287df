"""Each day's figures are that day's: one run over a three-day window (as a backfill runs) records one
materialization per day and asset, each with that day's own counts, never the window's totals."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta

import dagster as dg
import duckdb

from tests.conftest import PROJECT_ROOT, ShopEnv
from tests.integration.test_campaigns_demo import WINDOW_RUN
from tests.integration.test_nightly_run import D, write_designed_shop

DAYS = [D - timedelta(days=2), D - timedelta(days=1), D]


def _figures(instance: dg.DagsterInstance, key: list[str], name: str) -> dict[date, object]:
    """The metadata value `name` of the asset's latest materialization of each day."""
    out: dict[date, object] = {}
    for record in instance.fetch_materializations(dg.AssetKey(key), limit=100).records:
        materialization = record.asset_materialization
        day = date.fromisoformat(materialization.partition)
        if day not in out and name in materialization.metadata:
            out[day] = materialization.metadata[name].value
    return out


def test_a_window_run_records_each_days_own_figures(shop_env: ShopEnv) -> None:
    data = shop_env.root / "shop"
    write_designed_shop(data, extra_buyers=40)
    run = subprocess.run(
        [sys.executable, "-c", WINDOW_RUN, DAYS[0].isoformat(), DAYS[-1].isoformat()],
        env=shop_env.env | {"DANGOL_DATA_DIR": str(data)},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    with duckdb.connect(str(shop_env.warehouse), read_only=True) as con:

        def per_day(sql: str) -> dict[date, int]:
            counts = dict(con.execute(sql, [DAYS[0], DAYS[-1]]).fetchall())
            return {day: int(counts.get(day, 0)) for day in DAYS}

        expected = {
            (("raw", "orders"), "rows_dated_that_day"): per_day(
                "select cast(ordered_at as date), count(*) from raw.orders where cast(ordered_at as date)"
                " between ? and ? group by 1"
            ),
            (("marts", "fct_customer_segments_daily"), "rows"): per_day(
                "select as_of_date, count(*) from marts.fct_customer_segments_daily"
                " where as_of_date between ? and ? group by 1"
            ),
            (("sends", "planned_sends_rendered"), "audience_size"): per_day(
                "select as_of_date, count(*) from sends.fct_send_decisions where as_of_date between ? and ? group by 1"
            ),
            (("deliveries",), "to_hand_off"): per_day(
                "select as_of_date, count(*) from sends.fct_planned_sends where state = 'scheduled'"
                " and as_of_date between ? and ? group by 1"
            ),
            (("send_list", "repurchase_reminder"), "audience_size"): per_day(
                "select as_of_date, count(distinct customer_id) from sends.send_lists"
                " where campaign_id = 'repurchase_reminder' and as_of_date between ? and ? group by 1"
            ),
        }
    with dg.DagsterInstance.from_config(str(shop_env.root / "dagster_home")) as instance:
        fitted = _figures(instance, ["marts", "model_fit_bgnbd"], "fitted")
        assert fitted == {DAYS[0]: False, DAYS[1]: False, DAYS[2]: True}  # a window run fits its last day
        for (key, name), counts in expected.items():
            recorded = _figures(instance, list(key), name)
            assert recorded == counts, f"{'/'.join(key)} {name}"
    # Days that differ: the window's total shown on every day would not match any of them.
    assert any(len(set(counts.values())) > 1 for counts in expected.values())
