"""All eight campaigns end to end through the real CLI, Dagster, dbt and DuckDB on a designed shop where
each campaign has its own customer, and the audience guard holding a broken audience model."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from orchestration.campaigns.config import load_policy
from orchestration.campaigns.policy import in_control_group, in_holdout
from orchestration.campaigns.spec import CAMPAIGNS_DIR, load_campaigns
from tests.conftest import ShopEnv

D = date(2025, 6, 15)
SIGNUP = "2024-01-01 10:00"


def _at(offset: int, clock: str = "11:00") -> str:
    return f"{D + timedelta(days=offset)} {clock}"


# customer: (signed up, [(order day offset, amount)], [(channel, purpose, granted, at)], campaign, channel, why)
CUSTOMERS = {
    "r01": (
        SIGNUP,
        [(-90, 30_000), (-60, 30_000), (-30, 30_000)],
        [("email", "ad", True, SIGNUP)],
        "repurchase_reminder",
        "email",
        "bought every 30 days; due today",
    ),
    "w01": (
        _at(-2, "15:00"),
        [],
        [("email", "ad", True, _at(-2, "15:00"))],
        "welcome_coupon",
        "email",
        "signed up two days ago, has not bought",
    ),
    "s02": (
        "",
        [],
        [("email", "ad", True, _at(-5))],
        "signup_benefit",
        "email",
        "a lead (no sign-up) whose linked visit came from a paid ad yesterday",
    ),
    "h01": (
        SIGNUP,
        [(-200, 30_000)],
        [("sms", "ad", True, SIGNUP)],
        "help_offer",
        "sms",
        "carted a 250,000 won item at 20:30 and did not buy it: deferred to 08:00",
    ),
    "b01": (
        SIGNUP,
        [(-130, 30_000), (-100, 30_000), (-70, 30_000)],
        [("email", "ad", True, SIGNUP)],
        "win_back",
        "email",
        "70 days since the last purchase, twice the 30-day interval",
    ),
    "f01": (
        SIGNUP,
        [(-20, 30_000)],
        [("email", "ad", True, SIGNUP)],
        "referral_offer",
        "email",
        "answered the survey with a 5 today",
    ),
    "v01": (
        SIGNUP,
        [(-200, 1_000_000), (-150, 1_000_000), (-100, 1_000_000), (-50, 1_000_000), (-10, 1_000_000)],
        [("email", "ad", True, SIGNUP)],
        "vip_note",
        "email",
        "most of the shop's revenue, bought 10 days ago",
    ),
    "n01": (
        "2023-06-15 09:00",
        [],
        [("email", "ad", True, "2023-06-15 09:00")],
        "consent_reconfirmation",
        "kakao",
        "ad consent given exactly two years ago today",
    ),
}


def write_shop(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    customers = ["customer_id,name,email,phone,signed_up_at"]
    orders = ["order_id,customer_id,ordered_at,amount,status"]
    items = ["order_id,line_no,product_id,quantity,unit_price"]
    consents = ["customer_id,channel,purpose,granted,recorded_at,source"]
    for n, (cid, (signup, order_list, consent_list, *_)) in enumerate(CUSTOMERS.items()):
        customers.append(f"{cid},김{cid},{cid}@naver.com,010-2000-{n:04d},{signup}")
        for k, (offset, amount) in enumerate(order_list):
            orders.append(f"{cid}-{k},{cid},{_at(offset)},{amount},paid")
            items.append(f"{cid}-{k},1,p1,1,{amount}")
        for channel, purpose, granted, at in consent_list:
            consents.append(f"{cid},{channel},{purpose},{str(granted).lower()},{at},signup_form")
    files = {
        "customers": customers,
        "orders": orders,
        "order_items": items,
        "consents": consents,
        "products": [
            "product_id,name,category,price,replenishment_days",
            "p1,선물 세트,gift,30000,",
            "p3,프리미엄 안마의자 쿠션,living,250000,",
        ],
        "events": [
            "event_id,occurred_at,event_type,anonymous_id,customer_id,product_id,utm_source,utm_medium,utm_campaign",
            f"e1,{_at(-1, '13:00')},page_view,anon_s02,,,naver,cpc,summer",
            f"e2,{_at(0, '20:30')},add_to_cart,,h01,p3,,,",
        ],
        "identities": ["anonymous_id,customer_id,linked_at", f"anon_s02,s02,{_at(-1, '13:05')}"],
        "surveys": ["response_id,customer_id,responded_at,score,comment", f"sv1,f01,{_at(0, '14:00')},5,좋아요"],
    }
    for name, rows in files.items():
        (folder / f"{name}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def _outbox(env: ShopEnv) -> list[dict]:
    if not env.outbox_jsonl.exists():
        return []
    return [json.loads(line) for line in env.outbox_jsonl.read_text(encoding="utf-8").splitlines()]


def test_the_designed_customers_are_not_measured_out() -> None:
    """The control group and holdouts are stable hashes: the design must not land a customer in them."""
    specs = {s.id: s for s in load_campaigns(CAMPAIGNS_DIR)}
    policy = load_policy(CAMPAIGNS_DIR / "_policy.yaml")
    for cid, (*_, campaign, _, _) in CUSTOMERS.items():
        assert not in_control_group(cid, policy), cid
        assert not in_holdout(campaign, cid, specs[campaign].holdout_share), cid


def test_every_campaign_reaches_its_designed_customer(shop_env: ShopEnv) -> None:
    data = shop_env.root / "shop"
    write_shop(data)
    shop_env.dangol("run", "--date", D.isoformat(), "--data-dir", str(data), "--deliver-until", _at(1, "23:00"))

    sent = {(m["campaign_id"], m["customer_id"]): m for m in _outbox(shop_env)}
    expected = {(campaign, cid): channel for cid, (*_, campaign, channel, _) in CUSTOMERS.items()}
    # The ad consents given in the last 14 days (w01 at sign-up, the lead s02) are confirmed (제50조⑦).
    expected |= {("consent_change_notice", "w01"): "kakao", ("consent_change_notice", "s02"): "kakao"}
    assert {key: m["channel"] for key, m in sent.items()} == expected
    for (campaign, _), message in sent.items():
        if campaign == "consent_change_notice":
            assert message["purpose"] == "info" and "(광고)" not in message["body"]
            assert "이메일 광고 수신 동의" in message["body"]
        elif campaign == "consent_reconfirmation":
            assert message["purpose"] == "info" and "(광고)" not in message["body"]
            assert message["data"]["template_code"] == "DANGOL_CONSENT_2Y"
            assert "2023-06-15" in message["body"]
        elif message["channel"] == "email":
            assert message["subject"].startswith("(광고) ") and "수신을 원하지 않으시면" in message["body"]
            assert message["data"]["unsubscribe_url"].startswith("https://")
        else:
            assert message["body"].startswith("(광고)") and "무료수신거부 080" in message["body"]

    with duckdb.connect(str(shop_env.warehouse), read_only=True) as con:
        help_offer = con.execute(
            "select scheduled_at, message_type from sends.fct_planned_sends where campaign_id = 'help_offer'"
        ).fetchone()
        assert str(help_offer[0]) == "2025-06-16 08:00:00"  # 20:30 + 2 h is night: deferred to 08:00
        assert help_offer[1] == "lms"  # the copy with its legal form is over 90 bytes
        days = dict(con.execute("select campaign_id, guard_state from sends.campaign_days").fetchall())
        assert set(days) == {campaign for campaign, _ in expected}

    why = shop_env.dangol("explain", "--customer", "h01", "--campaign", "help_offer", "--date", D.isoformat())
    assert "SENT (planned): sms to 010-****-0003 at 2025-06-16 08:00" in why.stdout
    assert "deferred to 2025-06-16 08:00" in why.stdout and "night ad consent" in why.stdout
    why = shop_env.dangol("explain", "--customer", "r01", "--campaign", "win_back", "--date", D.isoformat())
    assert "not in the audience fct_audience_win_back" in why.stdout


@pytest.fixture
def broken_campaigns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped campaigns plus one whose audience model is broken: it lists every customer."""
    folder = tmp_path / "campaigns"
    shutil.copytree(CAMPAIGNS_DIR, folder)
    blast = yaml.safe_load((folder / "vip_note.yaml").read_text(encoding="utf-8"))
    blast.update(id="vip_blast", audience="dim_customers", cycle_column=None, holdout_share=0.0, priority=99, guard={})
    blast = {k: v for k, v in blast.items() if v is not None}
    (folder / "vip_blast.yaml").write_text(yaml.safe_dump(blast, allow_unicode=True), encoding="utf-8")
    policy = yaml.safe_load((folder / "_policy.yaml").read_text(encoding="utf-8"))
    policy["guard"].update(min_count=2, max_share=0.3)  # a designed shop is small
    (folder / "_policy.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    monkeypatch.setenv("DANGOL_CAMPAIGNS_DIR", str(folder))
    return folder


@pytest.mark.slow  # three runs; the policy and the check are covered fast in tests/campaigns
def test_a_broken_audience_model_is_held_until_a_person_approves(shop_env: ShopEnv, broken_campaigns: Path) -> None:
    data = shop_env.root / "shop"
    write_shop(data)
    until = ("--deliver-until", _at(1, "23:00"))
    first = shop_env.dangol("run", "--date", D.isoformat(), "--data-dir", str(data), *until, check=False)
    # A hold is the guard working: the run succeeds, warns with the way out, and delivers the others.
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"dangol approve --campaign vip_blast --date {D}" in first.stdout
    assert "Traceback" not in first.stdout + first.stderr
    assert not [m for m in _outbox(shop_env) if m["campaign_id"] == "vip_blast"]
    with duckdb.connect(str(shop_env.warehouse), read_only=True) as con:
        everyone = con.execute("select count(*) from marts.dim_customers").fetchone()[0]
        blast = dict(
            con.execute(
                "select decision, count(*) from sends.fct_send_decisions where campaign_id = 'vip_blast' group by 1"
            ).fetchall()
        )
        state = con.execute("select guard_state from sends.campaign_days where campaign_id = 'vip_blast'").fetchone()
    assert sum(blast.values()) == everyone >= len(CUSTOMERS) - 1
    assert blast["held_for_approval"] >= 5 and "planned" not in blast
    assert state == ("held",)

    shop_env.dangol("approve", "--campaign", "vip_blast", "--date", D.isoformat(), "--by", "test")
    shop_env.dangol("run", "--date", D.isoformat(), "--data-dir", str(data), *until)
    blasted = {m["customer_id"] for m in _outbox(shop_env) if m["campaign_id"] == "vip_blast"}
    assert len(blasted) == blast["held_for_approval"]  # approved: the held sends go out on the rerun
    with duckdb.connect(str(shop_env.warehouse), read_only=True) as con:
        state = con.execute("select guard_state from sends.campaign_days where campaign_id = 'vip_blast'").fetchone()
    assert state == ("approved",)
