"""Eligibility at hand-off: the freshest consent and suppression state, through the one dbt model.

A real generated shop, a real DuckDB file, real dbt and a real SQLite ledger: a withdrawal appended to
consents.csv after the plan, and an unsubscribe the ledger recorded, both win at hand-off.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from channels.ledger import Ledger, SuppressionKind
from orchestration.campaigns.eligibility import (
    ELIGIBILITY_TABLE,
    HandoffSource,
    eligibility_at_handoff,
    read_eligibility,
)
from orchestration.demo.shop import ShopSpec, generate_shop
from orchestration.ingest.loader import load_folder
from orchestration.lib.dbt import DBT_EXECUTABLE, DBT_PROJECT_DIR

H = date(2025, 6, 15)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> HandoffSource:
    root = tmp_path_factory.mktemp("handoff")
    data = root / "shop"
    generate_shop(ShopSpec(customers=120, days=120, seed=5, end_date=H), data)
    warehouse = root / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("set TimeZone = 'Asia/Seoul'")
        load_folder(con, data, "Asia/Seoul", datetime(2025, 7, 1, 12, 0))
    env = os.environ | {"DANGOL_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    target = root / "target"
    result = subprocess.run(
        [DBT_EXECUTABLE, "run", "--select", "+int_customer_eligibility_daily", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(target / "logs"),
         "--vars", json.dumps({"start_date": str(H - timedelta(days=1)), "end_date": str(H - timedelta(days=1))})],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    return HandoffSource(warehouse=warehouse, ledger_path=root / "ledger.sqlite", data_dir=data)


def _eligible_on(source: HandoffSource, channel: str, day: date) -> list[tuple[str, str]]:
    with duckdb.connect(str(source.warehouse), read_only=True) as con:
        return con.execute(
            f"select customer_id, address from {ELIGIBILITY_TABLE} where as_of_date = ? and channel = ?"
            " and purpose = 'ad' and is_eligible order by customer_id",
            [day, channel],
        ).fetchall()


def test_a_withdrawal_and_an_unsubscribe_recorded_after_the_plan_win_at_hand_off(shop: HandoffSource) -> None:
    planned_day = H - timedelta(days=1)
    sms = _eligible_on(shop, "sms", planned_day)
    email = _eligible_on(shop, "email", planned_day)
    assert len(sms) >= 2 and email
    withdrawn, kept = sms[0][0], sms[1][0]
    unsubscribed, address = email[0]
    # After the plan: the customer withdraws in the shop (consents.csv grows), another unsubscribes by link.
    with (shop.data_dir / "consents.csv").open("a", encoding="utf-8") as f:
        f.write(f"{withdrawn},sms,ad,false,{H} 09:30:00,mypage\n")
    with Ledger(shop.ledger_path) as ledger:
        ledger.suppress("email", address, "unsubscribe link", SuppressionKind.OPTED_OUT)

    rows = eligibility_at_handoff(
        shop, H, [(withdrawn, "sms", "ad"), (kept, "sms", "ad"), (unsubscribed, "email", "ad"), ("nobody", "sms", "ad")]
    ).set_index(["customer_id", "channel"])

    assert rows.loc[(withdrawn, "sms"), "ineligible_reason"] == "consent_withdrawn"
    assert rows.loc[(withdrawn, "sms"), "consent_recorded_at"] == datetime(2025, 6, 15, 9, 30)
    assert bool(rows.loc[(kept, "sms"), "is_eligible"])
    assert rows.loc[(unsubscribed, "email"), "ineligible_reason"] == "suppressed"
    assert rows.loc[(unsubscribed, "email"), "suppression_kind"] == "opted_out"
    assert rows.loc[("nobody", "sms"), "ineligible_reason"] == "unknown_customer"
    # The planned day's rows are kept as they were: the hand-off rebuilt its own day only.
    with duckdb.connect(str(shop.warehouse), read_only=True) as con:
        before = read_eligibility(con, planned_day, planned_day, [withdrawn])
    assert bool(before.set_index(["channel", "purpose"]).loc[("sms", "ad"), "is_eligible"])


def test_an_unchanged_consents_file_is_not_reloaded(shop: HandoffSource) -> None:
    from orchestration.campaigns.eligibility import reload_consents_if_changed
    from orchestration.lib.warehouse import connect

    with connect(shop.warehouse) as con:
        reload_consents_if_changed(con, shop.data_dir, "Asia/Seoul")
        assert not reload_consents_if_changed(con, shop.data_dir, "Asia/Seoul")
        with (shop.data_dir / "consents.csv").open("a", encoding="utf-8") as f:
            f.write(f"C0000001,email,info,true,{H} 10:00:00,mypage\n")
        assert reload_consents_if_changed(con, shop.data_dir, "Asia/Seoul")


def test_a_shared_phone_number_refused_through_080_stops_ads_to_every_record(shop: HandoffSource) -> None:
    """The opt-out belongs to the number: a second customer record with it gets no more ads either."""
    with duckdb.connect(str(shop.warehouse)) as con:
        (a, phone), (b, _) = con.execute(
            f"select customer_id, address from {ELIGIBILITY_TABLE} where as_of_date = ? and channel = 'sms'"
            " and purpose = 'ad' and is_eligible order by customer_id limit 2",
            [H],
        ).fetchall()
        con.execute("update raw.customers set phone = ? where customer_id = ?", [phone, b])
    with (shop.data_dir / "consents.csv").open("a", encoding="utf-8") as f:
        f.write(f"{a},sms,ad,false,{H} 11:00:00,080_optout\n")
    rows = eligibility_at_handoff(shop, H, [(a, "sms", "ad"), (b, "sms", "ad")]).set_index("customer_id")
    assert rows.loc[a, "consent_scope"] == "customer" and rows.loc[b, "consent_scope"] == "address"
    assert not rows["is_eligible"].any()
    assert (rows["ineligible_reason"] == "consent_withdrawn").all()


def test_opening_the_ledger_for_the_copy_leaves_it_usable(shop: HandoffSource, tmp_path: Path) -> None:
    from orchestration.campaigns.eligibility import copy_suppressions
    from orchestration.lib.warehouse import connect

    with connect(shop.warehouse) as con:
        assert copy_suppressions(con, tmp_path / "no-ledger-yet.sqlite", "Asia/Seoul") == 0
        assert copy_suppressions(con, shop.ledger_path, "Asia/Seoul") >= 1
