"""`dangol explain` answers from the decision and send tables, naming the step, reason and values."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from orchestration.campaigns.explain import explain
from tests.campaigns.conftest import D, elig, listing, run, spec, world

PROMO = spec("promo", channels=["email", "sms"], description="everyone who tests")


@pytest.fixture
def warehouse() -> duckdb.DuckDBPyConnection:
    rival = spec("rival", priority=90)
    rows = listing(PROMO, "c1") + listing(PROMO, "c2") + listing(PROMO, "c3") + listing(rival, "c3")
    model = [
        elig("c2", channel, reason="consent_withdrawn", at="2025-06-15 09:00", source="080_optout")
        for channel in ("email", "sms")
    ]
    result = run(rows, world(["c1", "c2", "c3", "c4"], eligibility=model), [PROMO, rival])
    con = duckdb.connect()
    con.execute("create schema sends; create schema staging")
    con.register("decisions", result.decisions.astype({"scheduled_at": "datetime64[us]"}))
    con.execute("create table sends.fct_send_decisions as select * from decisions")
    con.register("planned", result.planned)
    con.execute("create table sends.fct_planned_sends as select * from planned")
    con.register("customers", pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"]}))
    con.execute("create table staging.stg_shop__customers as select * from customers")
    return con


def test_a_planned_message(warehouse: duckdb.DuckDBPyConnection) -> None:
    text = explain(warehouse, "c1", PROMO, D)
    assert "SENT (planned): email to c*@example.com at 2025-06-15 10:00" in text
    assert "ad consent given 2020-01-01 10:00" in text
    assert "delivery" not in text or "not delivered yet" in text


def test_an_exclusion_names_the_step_reason_and_values(warehouse: duckdb.DuckDBPyConnection) -> None:
    text = explain(warehouse, "c2", PROMO, D)
    assert "NOT SENT: excluded at step 1 (consent), reason no_consent." in text
    assert "email: ad consent withdrawn 2025-06-15 09:00 via 080_optout" in text
    text = explain(warehouse, "c3", PROMO, D)
    assert "step 5 (collisions), reason collision" in text and "lost to rival (priority 90)" in text


def test_someone_not_in_the_audience(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert "not in the audience fct_audience_test that day (everyone who tests)" in explain(warehouse, "c4", PROMO, D)
    assert "no customer c9" in explain(warehouse, "c9", PROMO, D)
    assert "has no candidates on 2025-06-14" in explain(warehouse, "c1", PROMO, date(2025, 6, 14))
