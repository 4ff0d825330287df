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
