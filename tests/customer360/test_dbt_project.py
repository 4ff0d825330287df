"""The dbt project on a generated shop: every unit and data test passes, a backfill window and a single day
agree on the day they share (point in time), reruns are idempotent, and the docs build."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from orchestration.demo.shop import ShopSpec, generate_shop
from orchestration.ingest.loader import load_folder
from orchestration.lib.dbt import DBT_EXECUTABLE, DBT_PROJECT_DIR

D = date(2025, 6, 15)
WINDOW_START = D - timedelta(days=2)
# the 360, the segments, eligibility, the audiences and everything upstream (the send models need tables
# the Python steps write)
CUSTOMER_360 = (
    "+dim_customers",
    "+fct_segment_sizes_daily",
    "+int_customer_eligibility_daily",
    "+path:models/marts/audiences",
)


def dbt(
    warehouse: Path, target: Path, *args: str, first: date = D, last: date = D, extra_vars: dict | None = None
) -> str:
    """Run dbt on `warehouse` with its own target folder, so parallel runs never share one."""
    env = {
        **os.environ,
        "DANGOL_WAREHOUSE": str(warehouse),
        "DANGOL_TIMEZONE": "Asia/Seoul",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    command = [
        DBT_EXECUTABLE,
        *args,
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
        "--vars",
        json.dumps({"start_date": first.isoformat(), "end_date": last.isoformat(), **(extra_vars or {})}),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:]
    return result.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A 600-customer shop whose history runs 10 days past D, built for the window D-2 .. D."""
    root = tmp_path_factory.mktemp("dbt_project")
    data = root / "shop"
    generate_shop(ShopSpec(customers=600, days=240, seed=11, end_date=D + timedelta(days=10)), data)
    warehouse = root / "window.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("set TimeZone = 'Asia/Seoul'")
        load_folder(con, data, "Asia/Seoul", datetime(2025, 7, 1, 12, 0))
    output = dbt(warehouse, root / "target", "build", "--select", *CUSTOMER_360, first=WINDOW_START, last=D)
    return root, warehouse, output


def test_every_unit_test_and_data_test_passes(built: tuple[Path, Path, str]) -> None:
    _, _, output = built
    assert "ERROR=0" in output and "WARN=0" in output
    # one unit test per rule of the issue, all run by the build
    for rule in (
        "purchase_days_merge_all_paid_orders_of_one_day",
        "purchase_days_count_zero_amount_orders",
        "purchase_days_stop_at_the_end_of_the_as_of_day",
        "states_recency_is_first_to_last_purchase_not_days_since",
        "states_monetary_value_excludes_the_first_purchase_day",
        "states_over_a_window_change_on_purchase_days_and_see_no_later",
        "rfm_scores_are_rank_quintiles_and_ties_share_the_lower_score",
        # the legal cases of eligibility (정보통신망법 제50조, 시행령 제61조)
        "eligibility_latest_change_by_the_day_wins_withdrawal_wins_ties",
        "eligibility_info_needs_consent_legal_notice_goes_unless_refused",
        "eligibility_needs_a_live_address_of_the_right_format",
        "eligibility_ledger_suppressions_stop_ads_or_every_message",
        "eligibility_an_opt_out_belongs_to_the_address",
        "eligibility_night_consent_is_separate",
        "eligibility_existing_customer_exception_lists_recent_categories",
        "eligibility_existing_customer_exception_months_across_leap_day",
        "repurchase_due_lists_the_360s_due_date_for_the_grace_days",
    ):
        assert rule in output, rule


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> set[tuple]:
    return set(con.execute(sql).fetchall())


def test_a_backfill_window_and_the_single_day_agree_and_history_is_kept(built: tuple[Path, Path, str]) -> None:
    root, warehouse, _ = built
    single = root / "single.duckdb"
    shutil.copy(warehouse, single)
    dbt(single, root / "target_single", "run", "--select", "int_customer_states_daily+", first=D, last=D)
    compared = {
        "marts.dim_customers": "true",
        "marts.fct_customer_segments_daily": f"as_of_date = '{D}'",
        "intermediate.int_customer_states_daily": f"as_of_date = '{D}'",
    }
    with duckdb.connect(str(single), read_only=True) as con:
        con.execute(f"attach '{warehouse}' as window_build (read_only)")
        for table, where in compared.items():
            day_rows = _rows(con, f"select * from {table} where {where}")
            window_rows = _rows(con, f"select * from window_build.{table} where {where}")
            assert day_rows and day_rows == window_rows, table
        # the single-day run replaced its day and kept the two days before it
        days = con.execute(
            "select as_of_date, count(*), count(distinct customer_id) from marts.fct_customer_segments_daily"
            " group by 1 order by 1"
        ).fetchall()
        assert [d for d, _, _ in days] == [WINDOW_START, WINDOW_START + timedelta(days=1), D]
        assert all(n == distinct for _, n, distinct in days)
        sizes = con.execute(
            "select count(*) from marts.fct_segment_sizes_daily where as_of_date = ? and segment_type = 'lifecycle'"
            " group by as_of_date",
            [D],
        ).fetchone()
        assert sizes[0] >= 3


def test_nothing_after_the_as_of_day_is_visible(built: tuple[Path, Path, str]) -> None:
    _, warehouse, _ = built
    after = datetime.combine(D + timedelta(days=1), datetime.min.time())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        orders_after, signups_after = con.execute(
            "select (select count(*) from raw.orders where ordered_at >= $1),"
            " (select count(*) from raw.customers where signed_up_at >= $1)",
            [after],
        ).fetchone()
        latest_order, as_of, later_signups = con.execute(
            "select max(last_order_date), max(as_of_date), count(*) filter (where signed_up_at >= $1)"
            " from marts.dim_customers",
            [after],
        ).fetchone()
    assert orders_after > 0 and signups_after > 0  # the folder holds newer data ...
    assert latest_order <= D and as_of == D and later_signups == 0  # ... which D cannot see


def test_dbt_docs_generate(built: tuple[Path, Path, str]) -> None:
    root, warehouse, _ = built
    dbt(warehouse, root / "target_docs", "docs", "generate")
    catalog = json.loads((root / "target_docs" / "catalog.json").read_text())
    assert "model.dangol.dim_customers" in catalog["nodes"]


def _daily_incremental_models(target: Path) -> list[tuple[str, str]]:
    """(schema, name) of every model built with daily_incremental_config (the window replaced per run)."""
    manifest = json.loads((target / "manifest.json").read_text())
    return sorted(
        (node["schema"], node["name"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["config"].get("materialized") == "incremental"
        and any("delete_window_rows" in str(hook.get("sql", "")) for hook in node["config"].get("pre-hook", []))
    )


def test_a_rerun_that_finds_no_rows_empties_its_day(built: tuple[Path, Path, str]) -> None:
    """A day rebuilt from data that no longer yields rows must end up empty, not keep the old answer
    (delete+insert by itself only replaces the days that the new rows carry) - in every daily model."""
    root, warehouse, _ = built
    models = _daily_incremental_models(root / "target")
    assert ("marts", "fct_audience_repurchase_due") in models
    assert ("intermediate", "int_customer_eligibility_daily") in models
    assert len(models) >= 10, models
    emptied = root / "emptied.duckdb"
    shutil.copy(warehouse, emptied)

    def days(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], dict[date, int]]:
        return {
            (schema, name): dict(con.execute(f"select as_of_date, count(*) from {schema}.{name} group by 1").fetchall())
            for schema, name in models
        }

    with duckdb.connect(str(emptied)) as con:
        before = days(con)
        for table in ("orders", "customers", "consents", "events", "surveys", "push_tokens"):
            con.execute(f"delete from raw.{table}")
    with_rows_on_d = [model for model, by_day in before.items() if by_day.get(D, 0) > 0]
    assert ("marts", "fct_audience_repurchase_due") in with_rows_on_d
    assert len(with_rows_on_d) >= len(models) - 3, before
    selection = [f"+{name}" for _, name in models]
    dbt(emptied, root / "target_emptied", "run", "--select", *selection, first=D, last=D)
    with duckdb.connect(str(emptied), read_only=True) as con:
        after = days(con)
    for model in models:
        assert D not in after[model], model
        assert after[model] == {day: n for day, n in before[model].items() if day != D}, model  # others kept


def test_tightening_the_repurchase_grace_days_drops_customers_on_a_rerun(built: tuple[Path, Path, str]) -> None:
    """Reproduced in the issue: grace 7 -> 3 and a rerun of the day kept customers the new rule excludes."""
    root, warehouse, _ = built
    tightened = root / "tightened.duckdb"
    shutil.copy(warehouse, tightened)
    sql = "select count(*), max(days_overdue) from marts.fct_audience_repurchase_due where as_of_date = ?"
    with duckdb.connect(str(tightened), read_only=True) as con:
        listed, most_overdue = con.execute(sql, [D]).fetchone()
    assert listed > 0 and most_overdue >= 3
    dbt(tightened, root / "target_tightened", "run", "--select", "fct_audience_repurchase_due",
        extra_vars={"repurchase_grace_days": 3})  # fmt: skip
    with duckdb.connect(str(tightened), read_only=True) as con:
        relisted, most_overdue = con.execute(sql, [D]).fetchone()
        due_dates_agree = con.execute(
            "select count(*) from marts.fct_audience_repurchase_due as audience"
            " join intermediate.int_customer_states_daily as states using (as_of_date, customer_id)"
            " where audience.repurchase_due_date is distinct from states.repurchase_due_date"
        ).fetchone()[0]
    assert 0 < relisted < listed and most_overdue < 3
    assert due_dates_agree == 0  # one definition of the due date: the 360's
