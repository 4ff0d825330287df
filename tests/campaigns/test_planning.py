"""What the policy reads from the warehouse (orchestration/campaigns/planning.py), on a real DuckDB file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.campaigns.config import PolicyConfig
from orchestration.campaigns.eligibility import ELIGIBILITY_COLUMNS
from orchestration.campaigns.planning import ensure_tables, load_inputs
from orchestration.campaigns.send_list import SEND_LIST_COLUMNS
from tests.campaigns.conftest import D, elig


def test_the_guard_base_is_the_360s_customers_and_eligibility_is_the_models(tmp_path: Path) -> None:
    """A lead (a contact without sign-up or order) is not a customer: the audience guard's share rule
    counts the customer 360's customers of the day, not the rows of the customer file."""
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_tables(con)
    con.execute("create schema staging; create schema intermediate")
    con.execute(
        "create table staging.stg_shop__customers as select * from (values"
        " ('c1', '김민지', timestamp '2025-01-01 10:00'), ('c2', '이서연', null), ('lead', '박리드', null))"
        " as t(customer_id, customer_name, signed_up_at)"
    )
    # c2 has no sign-up date but ordered: a customer all the same (the 360 knows them from the order)
    con.execute(
        "create table intermediate.int_customer_states_daily as select * from (values"
        " (date '2025-06-14', 'c1'), (date '2025-06-15', 'c1'), (date '2025-06-15', 'c2'))"
        " as t(as_of_date, customer_id)"
    )
    model = pd.DataFrame(
        [elig("c1", "email"), elig("lead", "email", day=date(2025, 6, 14))], columns=ELIGIBILITY_COLUMNS
    )
    con.register("_model", model)
    con.execute("create table intermediate.int_customer_eligibility_daily as select * from _model")
    send_list = pd.DataFrame([{"customer_id": "c1", "send_key": "k1"}], columns=SEND_LIST_COLUMNS)

    inputs = load_inputs(con, D, D, send_list, tmp_path / "no-ledger.sqlite", PolicyConfig())

    assert inputs.customers_known == {D: 2}
    assert inputs.eligibility[["customer_id", "channel", "purpose"]].values.tolist() == [["c1", "email", "ad"]]


def test_the_policy_reads_only_the_history_its_window_can_see(tmp_path: Path) -> None:
    """The planned history grows every day; the policy reads its own keys (however old) and its customers'
    capped ads within the longest cap window (30 days), not the rest of the shop's past."""
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_tables(con)
    con.execute("create schema staging; create schema intermediate")
    con.execute("create table staging.stg_shop__customers (customer_id varchar, customer_name varchar)")
    con.execute("create table intermediate.int_customer_states_daily (as_of_date date, customer_id varchar)")
    con.register("_model", pd.DataFrame(columns=ELIGIBILITY_COLUMNS))
    con.execute("create table intermediate.int_customer_eligibility_daily as select * from _model")

    def planned(key: str, customer: str, day: str, purpose: str = "ad", cap_class: str = "promotional") -> None:
        con.execute(
            "insert into sends.planned_sends_rendered values (?, 'promo', 1, ?, ?, 'c', 'email', 'email', ?, 50,"
            " ?, 'a@example.com', null, 'b', '{}', 1, null, ?::date + interval 10 hour, 0, 'scheduled', now())",
            [key, customer, day, purpose, cap_class, day],
        )

    planned("k-own-old", "c1", "2024-01-10")  # the window's own key, long ago: already planned
    planned("k-cap-near", "c1", "2025-05-20")  # c1's ad 26 days before: counts against the 30-day cap
    planned("k-cap-far", "c1", "2025-05-10")  # 36 days before: no cap window reaches it
    planned("k-service", "c1", "2025-06-14", purpose="info", cap_class="service")  # uncapped
    planned("k-other", "c9", "2025-06-14")  # a customer not in the window
    send_list = pd.DataFrame([{"customer_id": "c1", "send_key": "k-own-old"}], columns=SEND_LIST_COLUMNS)

    inputs = load_inputs(con, D, D, send_list, tmp_path / "no-ledger.sqlite", PolicyConfig())

    assert sorted(inputs.history["send_key"]) == ["k-cap-near", "k-own-old"]
