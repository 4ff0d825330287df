"""End to end through the real CLI, Dagster, dbt and DuckDB: a designed shop where every customer exercises
one rule, so who must get the repurchase reminder follows from the design, not from a previous run."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import duckdb

from orchestration.campaigns.config import load_policy
from orchestration.campaigns.policy import in_control_group, in_holdout
from orchestration.campaigns.spec import load_campaigns
from tests.conftest import ShopEnv

D = date(2025, 6, 15)


def _day(offset: int, hour: int = 11) -> str:
    return f"{D + timedelta(days=offset)} {hour:02d}:00"


EVERY_30_DAYS = [(-90, "paid"), (-60, "paid"), (-30, "paid")]
SIGNUP = "2024-01-01 10:00"

# customer, phone, orders (day offset from D, status), ad consents (channel, granted, recorded at),
# the channel they must be reminded on (None: not reminded), and why.
CASES = [
    ("c01", "010-1000-0001", EVERY_30_DAYS, [("email", True, SIGNUP)], "email", "due today, email consent"),
    ("c02", "010-1000-0002", EVERY_30_DAYS, [], None, "due today, no consent at all"),
    ("c03", "010-1000-0003", EVERY_30_DAYS, [("sms", True, SIGNUP)], "sms", "due today, sms consent only"),
    (
        "c04",
        "010-1000-0004",
        EVERY_30_DAYS,
        [("email", True, SIGNUP), ("email", False, _day(0, 9))],
        None,
        "withdrew consent on the day itself",
    ),
    (
        "c05",
        "010-1000-0005",
        [*EVERY_30_DAYS, (3, "paid")],
        [("email", True, SIGNUP)],
        "email",
        "bought again after D, which D cannot see",
    ),
    ("c06", "010-1000-0006", [(-40, "paid"), (-10, "paid")], [("email", True, SIGNUP)], None, "not due yet"),
    (
        "c07",
        "010-1000-0007",
        [(-30, "paid:p1")],
        [("email", True, SIGNUP)],
        "email",
        "one purchase of a 30-day replenishment product",
    ),
    (
        "c08",
        "010-1000-0008",
        [(-90, "paid"), (-60, "paid"), (-30, "cancelled")],
        [("email", True, SIGNUP)],
        None,
        "a cancelled order is no purchase: overdue past the grace period",
    ),
    (
        "c09",
        "010-1000-0009",
        [(-60, "paid"), (-30, "paid"), (-30, "paid")],
        [("email", True, SIGNUP)],
        "email",
        "two orders on one day are one purchase day",
    ),
    ("c10", "02-123-4567", EVERY_30_DAYS, [("email", True, SIGNUP)], None, "landline phone: row quarantined"),
    ("c11", "010-123-4567", EVERY_30_DAYS, [("sms", True, SIGNUP)], None, "010 with 7 digits: row quarantined"),
]


def write_designed_shop(folder: Path, extra_buyers: int = 0) -> dict[str, str]:
    """Write the shop; return the customers who must be reminded on D, with their channel.

    `extra_buyers` adds buyers without any consent (messaged by nothing) whose varied histories give the
    BG/NBD fit enough repeat buyers to fit on (it skips below 20 buyers)."""
    folder.mkdir(parents=True, exist_ok=True)
    customers = ["customer_id,name,email,phone,signed_up_at"]
    orders = ["order_id,customer_id,ordered_at,amount,status"]
    items = ["order_id,line_no,product_id,quantity,unit_price"]
    consents = ["customer_id,channel,purpose,granted,recorded_at,source"]
    products = [
        "product_id,name,category,price,replenishment_days",
        "p1,수분크림,skincare,30000,30",
        "p2,향수,fragrance,30000,",
    ]
    for cid, phone, order_list, consent_list, _, _ in CASES:
        customers.append(f"{cid},김{cid},{cid}@naver.com,{phone},{SIGNUP}")
        for k, (offset, what) in enumerate(order_list):
            status, _, product = what.partition(":")
            orders.append(f"{cid}-{k},{cid},{_day(offset, 11 + k)},30000,{status}")
            items.append(f"{cid}-{k},1,{product or 'p2'},1,30000")
        for channel, granted, at in consent_list:
            consents.append(f"{cid},{channel},ad,{str(granted).lower()},{at},signup_form")
    for i in range(extra_buyers):
        cid = f"b{i:03d}"
        customers.append(f"{cid},이{cid},,,{SIGNUP}")
        for k in range(i % 5 + 1):
            offset = -(i * i % 11) - k * (11 + i % 13)  # latest orders on D (4), D-1 (7), none on D-2
            orders.append(f"{cid}-{k},{cid},{_day(offset, 10 + k % 8)},30000,paid")
            items.append(f"{cid}-{k},1,p2,1,30000")
    for name, rows in [
        ("customers", customers),
        ("orders", orders),
        ("consents", consents),
        ("order_items", items),
        ("products", products),
    ]:
        (folder / f"{name}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return {cid: channel for cid, _, _, _, channel, _ in CASES if channel}


def measured_out(customer_id: str) -> bool:
    """The control group and the reminder's holdout are stable hashes of the customer: a designed customer
    who lands in one is rightly not messaged (c05 is in the reminder's 10% holdout)."""
    spec = next(s for s in load_campaigns() if s.id == "repurchase_reminder")
    return in_control_group(customer_id, load_policy()) or in_holdout(spec.id, customer_id, spec.holdout_share)


def _outbox(env: ShopEnv, campaign_id: str | None = "repurchase_reminder") -> list[dict]:
    """The reminder's messages (the other campaigns may rightly write to some designed customers too:
    c08, 60 days past its last real purchase, is at high churn risk for the win-back)."""
    if not env.outbox_jsonl.exists():
        return []
    messages = [json.loads(line) for line in env.outbox_jsonl.read_text(encoding="utf-8").splitlines()]
    return [m for m in messages if campaign_id is None or m["campaign_id"] == campaign_id]


# The nightly run for D at 02:00 on D+1, then the day's hand-offs at each send's time (the due_sends sensor's
# job, replayed with the clock fixed at each due time).
UNTIL = ("--deliver-until", f"{D + timedelta(days=1)} 23:00")


def test_nightly_run_delivers_exactly_the_due_and_consented_customers_once(designed) -> None:
    env, data, expected = designed
    first = env.dangol("run", "--date", D.isoformat(), "--data-dir", str(data), *UNTIL)
    assert "succeeded" in first.stdout
    assert "hand-off at 10:00" in first.stdout  # the reminder's daily_at, on the day after the one planned

    sent = _outbox(env)
    assert {m["customer_id"]: m["channel"] for m in sent} == expected
    for message in sent:
        assert message["purpose"] == "ad"
        if message["channel"] == "email":
            assert message["subject"].startswith("(광고) ")
            assert "수신을 원하지 않으시면" in message["body"]
        else:
            assert message["body"].startswith("(광고)")
            assert "무료수신거부 080" in message["body"]
        assert "님" in message["body"] and not message["body"].startswith("님")

    with duckdb.connect(str(env.warehouse), read_only=True) as con:
        quarantined = set(con.execute("select file, rule from raw.quarantine").fetchall())
        assert ("customers.csv", "invalid_phone") in quarantined
        # c11's 010 number is a digit short: its line (the header is line 1) is named, not silently dropped.
        c11_line = 2 + [c[0] for c in CASES].index("c11")
        assert con.execute(
            "select column_name, rule from raw.quarantine where file = 'customers.csv' and line = ?", [c11_line]
        ).fetchall() == [("phone", "invalid_phone")]
        assert ("orders.csv", "unknown_customer") in quarantined
        states = con.execute(
            "select state, count(*) from sends.deliveries where campaign_id = 'repurchase_reminder' group by 1"
        ).fetchall()
        assert states == [("accepted", len(expected))]

    # The same day again: nothing new reaches the outbox, and the ledger still has one attempt per message.
    env.dangol("run", "--date", D.isoformat(), "--data-dir", str(data), *UNTIL)
    assert len(_outbox(env)) == len(expected)
    with sqlite3.connect(env.ledger) as ledger:
        assert ledger.execute(
            "select count(*), max(attempts) from messages where campaign_id = 'repurchase_reminder'"
        ).fetchone() == (len(expected), 1)
