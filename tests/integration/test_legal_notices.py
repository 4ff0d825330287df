"""The law where the customer meets it, through the real CLI, Dagster and dbt on a designed shop: the 2-year
notice that fell due before dangol's first run goes out on it (unless the previous system sent it), the
result of a consent change is notified, and a product without a name never leaves a blank in the copy."""

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

# customer: signed up, ad consent changes (channel, purpose, granted, at), why
CUSTOMERS = {
    "overdue": (
        "2023-05-20 09:00",
        [("email", "ad", True, "2023-05-20 09:00")],
        "2-year notice due 20 May, never sent",
    ),
    "notified": ("2023-05-20 09:00", [("email", "ad", True, "2023-05-20 09:00")], "the previous system sent it"),
    "changed": (
        SIGNUP,
        [("sms", "ad", True, "2025-06-10 09:00"), ("email", "ad", False, "2025-06-14 18:00")],
        "granted sms ads on 10 June, withdrew email ads on 14 June",
    ),
    "told": (SIGNUP, [("sms", "ad", True, "2025-06-12 09:00")], "the previous system notified the change"),
    "carted": (SIGNUP, [("sms", "ad", True, SIGNUP)], "carted a 200,000 won product that has no name"),
}
# What a previous system already sent (the data contract's consent_notices.csv).
NOTICES = [
    "notified,reconfirmation,2025-05-14 10:00,email,old_crm",
    "told,consent_change,2025-06-12 09:05,sms,old_crm",
]


def write_shop(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    customers = ["customer_id,name,email,phone,signed_up_at"]
    consents = ["customer_id,channel,purpose,granted,recorded_at,source"]
    for n, (cid, (signup, changes, _)) in enumerate(CUSTOMERS.items()):
        customers.append(f"{cid},김{cid},{cid}@naver.com,010-3000-{n:04d},{signup}")
        consents += [
            f"{cid},{ch},{purpose},{str(granted).lower()},{at},app_settings" for ch, purpose, granted, at in changes
        ]
    files = {
        "customers": customers,
        "consents": consents,
        "orders": ["order_id,customer_id,ordered_at,amount,status"],
        "products": ["product_id,name,category,price,replenishment_days", "p9,,living,200000,"],
        "events": [
            "event_id,occurred_at,event_type,anonymous_id,customer_id,product_id,utm_source,utm_medium,utm_campaign",
            f"e1,{D} 12:00,add_to_cart,,carted,p9,,,",
        ],
        "consent_notices": ["customer_id,kind,sent_at,channel,source", *NOTICES],
    }
    for name, rows in files.items():
        (folder / f"{name}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def campaigns_with_an_unworded_copy(folder: Path) -> Path:
    """The shipped campaigns, plus help_offer as it was before it worded a missing product name."""
    shutil.copytree(CAMPAIGNS_DIR, folder)
    data = yaml.safe_load((CAMPAIGNS_DIR / "help_offer.yaml").read_text(encoding="utf-8"))
    data["id"], data["priority"], data["coupon"]["prefix"] = "help_offer_unworded", 10, "ASKU"
    for template in data["templates"].values():
        for field in ("subject", "body"):
            template[field] = template[field].replace(
                "hesitated_product_name or '장바구니의 상품'", "hesitated_product_name"
            )
            template[field] = template[field].replace("hesitated_product_name or '상품'", "hesitated_product_name")
    assert "or '상품'" not in json.dumps(data, ensure_ascii=False)
    (folder / "help_offer_unworded.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return folder


def _outbox(env: ShopEnv) -> dict[tuple[str, str], dict]:
    if not env.outbox_jsonl.exists():
        return {}
    messages = [json.loads(line) for line in env.outbox_jsonl.read_text(encoding="utf-8").splitlines()]
    return {(m["campaign_id"], m["customer_id"]): m for m in messages}


def test_the_designed_customers_are_not_measured_out() -> None:
    policy = load_policy(CAMPAIGNS_DIR / "_policy.yaml")
    spec = next(s for s in load_campaigns(CAMPAIGNS_DIR) if s.id == "help_offer")
    assert not in_control_group("carted", policy) and not in_holdout(spec.id, "carted", spec.holdout_share)


def test_legal_notices_and_no_blank_copy(shop_env: ShopEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    data = shop_env.root / "shop"
    write_shop(data)
    campaigns = campaigns_with_an_unworded_copy(shop_env.root / "campaigns")
    monkeypatch.setenv("DANGOL_CAMPAIGNS_DIR", str(campaigns))
    until = f"{D + timedelta(days=1)} 23:00"  # the day's hand-offs at their times, clock fixed at each
    shop_env.dangol("run", "--date", D.isoformat(), "--data-dir", str(data), "--deliver-until", until)
    sent = _outbox(shop_env)

    # 제50조⑧: due on 20 May, before dangol's first run: it goes now, about the consent of 20 May 2023;
    # the one the previous system sent is not sent again.
    notice = sent.pop(("consent_reconfirmation", "overdue"))
    assert notice["purpose"] == "info" and "2023-05-20" in notice["body"] and "(광고)" not in notice["body"]
    # 제50조⑦: each change with its date and what it was, as an informational message.
    change = sent.pop(("consent_change_notice", "changed"))
    assert change["purpose"] == "info" and "(광고)" not in change["body"]
    assert "문자 광고 수신 동의 2025-06-10, 이메일 광고 수신 거부·철회 2025-06-14" in change["body"]
    # No blank in copy: the shipped help_offer words a product without a name.
    offer = sent.pop(("help_offer", "carted"))
    assert "담아 두신 상품 고민되시죠?" in offer["body"] and "  " not in offer["body"]
    assert sent == {}, sorted(sent)  # nothing for the notified ones, nothing unworded

    with duckdb.connect(str(shop_env.warehouse), read_only=True) as con:
        unworded = con.execute(
            "select decision, reason, detail from sends.fct_send_decisions"
            " where campaign_id = 'help_offer_unworded' and customer_id = 'carted'"
        ).fetchone()
    assert unworded[:2] == ("excluded", "unrenderable")
    assert "empty_value: templates.sms.body: hesitated_product_name is empty for this customer" in unworded[2]
    why = shop_env.dangol(
        "explain", "--customer", "carted", "--campaign", "help_offer_unworded", "--date", D.isoformat()
    ).stdout
    assert "hesitated_product_name is empty for this customer" in why
