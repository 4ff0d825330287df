"""Real data: the UCI Online Retail log through `dangol import online-retail` and `dangol run`.

The pinned numbers come from ../shared/data/online_retail/README.md (computed independently of our code):
with its cleaning rule and purchases merged per customer-day, as of 2011-12-09 the 4,338 customers' repeat
purchase counts sum to 12,425 and 1,548 of them bought on one day only.
"""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.demo.online_retail import DEFAULT_SOURCE, convert
from tests.conftest import ShopEnv

AS_OF = date(2011, 12, 9)
README_REJECTS = {
    "guest_checkout": 135_080,
    "cancellation": 9_288,
    "non_positive_quantity": 10_624,
    "non_positive_price": 2_517,
}


class LondonShop(ShopEnv):
    """The Online Retail shop runs on UK time, in pounds."""

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "DANGOL_TIMEZONE": "Europe/London", "DANGOL_CURRENCY": "GBP"}


def _write_source(path: Path, rows: list[str]) -> Path:
    header = "invoice_no,stock_code,quantity,invoice_ts,unit_price,customer_id,country\n"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(header + "".join(f"{row}\n" for row in rows))
    return path


def test_cleaning_rule_keeps_good_lines_and_rejects_the_rest_with_reasons(tmp_path: Path) -> None:
    source = _write_source(
        tmp_path / "lines.csv.gz",
        [
            "1001,A,2,2011-01-05 09:00:00,1.50,17,United Kingdom",  # line 2: kept
            "1001,B,1,2011-01-05 09:01:00,2.00,17,United Kingdom",  # line 3: kept, second timestamp
            "1002,A,1,2011-01-05 15:00:00,1.50,17,United Kingdom",  # line 4: second invoice, same day
            "1003,A,1,2011-01-06 10:00:00,1.50,,United Kingdom",  # line 5: guest
            "C1004,A,-1,2011-01-07 10:00:00,1.50,17,United Kingdom",  # line 6: cancellation (and quantity)
            "1005,POST,1,2011-01-08 10:00:00,0,18,France",  # line 7: free line
            "1006,A,0,2011-01-08 11:00:00,1.50,18,France",  # line 8: zero quantity
        ],
    )
    out = tmp_path / "shop"
    summary = convert(source, out)
    assert (summary.lines_read, summary.lines_kept, summary.lines_rejected) == (7, 3, 4)
    assert summary.rejects_by_rule == {
        "cancellation": 1,
        "guest_checkout": 1,
        "non_positive_price": 1,
        "non_positive_quantity": 2,
    }
    with duckdb.connect() as con:
        orders = con.execute(f"select * from read_csv('{out / 'orders.csv'}', all_varchar=true) order by 1").fetchall()
        rejects = con.execute(
            f"select source_line, rule from read_csv('{out / 'import_rejects.csv'}', all_varchar=true) order by 1, 2"
        ).fetchall()
        customers = con.execute(f"select customer_id from read_csv('{out / 'customers.csv'}', all_varchar=true)")
        customer_ids = sorted(row[0] for row in customers.fetchall())
    # an invoice is one order at its first timestamp; two invoices on one day stay two orders (dbt merges days)
    assert orders == [
        ("1001", "17", "2011-01-05 09:00:00", "5.00", "paid"),
        ("1002", "17", "2011-01-05 15:00:00", "1.50", "paid"),
    ]
    assert rejects == [
        ("5", "guest_checkout"),
        ("6", "cancellation"),
        ("6", "non_positive_quantity"),
        ("7", "non_positive_price"),
        ("8", "non_positive_quantity"),
    ]
    assert customer_ids == ["17", "18"]  # 18 only has rejected lines: a customer who never bought


@pytest.fixture(scope="module")
def online_retail(tmp_path_factory: pytest.TempPathFactory) -> ShopEnv:
    if not DEFAULT_SOURCE.exists():
        pytest.skip(f"{DEFAULT_SOURCE} is not available")
    env = LondonShop(tmp_path_factory.mktemp("online_retail"))
    env.dangol("import", "online-retail", "--out", str(env.root / "shop"))
    # The shop has no contact details, so nothing is sent; the campaign steps are not under test here,
    # only that everything up to the 360 and the segments was built (checked below from the warehouse).
    env.dangol("run", "--date", AS_OF.isoformat(), "--data-dir", str(env.root / "shop"), check=False)
    return env


def test_the_readme_numbers_hold_in_the_warehouse(online_retail: ShopEnv) -> None:
    with duckdb.connect(str(online_retail.warehouse), read_only=True) as con:
        buyers, repeat_purchases, one_day, as_of = con.execute(
            "select count(*), sum(frequency), count(*) filter (where order_days = 1), max(as_of_date)"
            " from marts.dim_customers where order_days > 0"
        ).fetchone()
        lines, invoices = con.execute(
            "select (select count(*) from raw.order_items), (select count(*) from raw.orders)"
        ).fetchone()
        rejects = dict(
            con.execute(
                "select rule, count(distinct line) from raw.quarantine where file = 'online_retail/lines.csv.gz'"
                " group by rule"
            ).fetchall()
        )
    assert (buyers, repeat_purchases, one_day) == (4_338, 12_425, 1_548)
    assert as_of == AS_OF
    assert (lines, invoices) == (397_884, 18_532)
    assert rejects == README_REJECTS


def test_bgnbd_fit_and_segments_on_real_data(online_retail: ShopEnv) -> None:
    with duckdb.connect(str(online_retail.warehouse), read_only=True) as con:
        fit = con.execute(
            "select r, alpha, a, b, time_unit, n_customers, n_repeat_customers, converged"
            " from marts.model_fit_bgnbd where as_of_date = ?",
            [AS_OF],
        ).fetchone()
        predicted = con.execute(
            "select count(*), min(p_alive), max(p_alive), sum(expected_purchases_90d) from marts.dim_customers"
            " where p_alive is not null"
        ).fetchone()
        core = dict(
            con.execute(
                "select segment, [buyer_share, revenue_share] from marts.fct_segment_sizes_daily"
                " where as_of_date = ? and segment_type = 'loyal_core'",
                [AS_OF],
            ).fetchall()
        )
        segments = con.execute(
            "select count(distinct rfm_segment), count(distinct persona), count(distinct lifecycle)"
            " from marts.fct_customer_segments_daily where as_of_date = ?",
            [AS_OF],
        ).fetchone()
    r, alpha, a, b, unit, n, repeaters, converged = fit
    assert (unit, n, repeaters, converged) == ("week", 4_338, 2_790, True)
    # the same MLE as other BG/NBD implementations report on this data: r ~ 0.83, alpha ~ 68.9 days
    assert r == pytest.approx(0.8265, rel=0.01) and alpha * 7 == pytest.approx(68.9, rel=0.01)
    assert a < 0.05 < b  # hardly anyone drops out after a purchase in this wholesale-heavy year
    assert predicted[0] == 4_338 and 0 < predicted[1] <= predicted[2] <= 1 and predicted[3] > 0
    core_buyers, core_revenue = core["loyal_core"]
    assert 0.1 <= core_buyers <= 0.2 and 0.6 <= core_revenue <= 0.8
    assert segments[0] >= 8 and segments[1] >= 4 and segments[2] >= 4


def test_one_run_goes_dbt_then_bgnbd_then_dbt(online_retail: ShopEnv) -> None:
    """dagster-dbt splits the dbt multi-asset around the Python fit: states first, the 360 after, one run."""
    with dg.DagsterInstance.from_config(str(online_retail.root / "dagster_home")) as instance:
        run = instance.get_runs(limit=1)[0]
        steps = {s.step_key: s for s in instance.get_run_step_stats(run.run_id)}
        step_of = {
            event.dagster_event.asset_key.to_user_string(): event.step_key
            for event in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        }
    states = steps[step_of["intermediate/int_customer_states_daily"]]
    fit = steps[step_of["predictions/customer_bgnbd"]]
    customer_360 = steps[step_of["marts/dim_customers"]]
    assert states.step_key.startswith("dbt_") and customer_360.step_key.startswith("dbt_")
    assert states.step_key != customer_360.step_key
    assert states.end_time <= fit.start_time and fit.end_time <= customer_360.start_time
