"""Small builders for the policy's inputs: campaign specs, send-list rows and the state of the world."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from channels.ledger import address_hash
from orchestration.campaigns.config import PolicyConfig
from orchestration.campaigns.policy import HISTORY_COLUMNS, PolicyInputs, PolicyResult, plan
from orchestration.campaigns.send_list import SEND_LIST_COLUMNS, send_key
from orchestration.campaigns.spec import CampaignSpec

D = date(2025, 6, 15)
_TEMPLATES = {
    "email": {"subject": "{{ name }}님께", "body": "{{ name }}님, 안녕하세요."},
    "sms": {"body": "{{ name }}님, 안녕하세요."},
    "kakao": {"template_code": "T1", "variables": {"name": "{{ name }}"}, "body": "{{ name }}님, 안내드려요."},
    "app_push": {"subject": "{{ name }}님", "body": "새 소식"},
    "web_push": {"subject": "{{ name }}님", "body": "새 소식"},
}
ADDRESSES = {"email": "minji@example.com", "sms": "01012345678", "kakao": "01012345678"}


def spec(
    campaign_id: str = "promo",
    *,
    purpose: str = "ad",
    channels: Iterable[str] = ("email", "sms"),
    priority: int = 50,
    cap: str | None = None,
    holdout: float = 0.0,
    night: str = "defer",
    legally_required: bool = False,
    **extra: Any,
) -> CampaignSpec:
    channels = list(channels)
    return CampaignSpec.model_validate(
        {
            "id": campaign_id,
            "name": campaign_id,
            "owner": "test",
            "purpose": purpose,
            "audience": "fct_audience_test",
            "schedule": {"daily_at": "10:00"},
            "night": night,
            "priority": priority,
            "frequency_cap_class": cap or ("promotional" if purpose == "ad" else "service"),
            "holdout_share": holdout,
            "legally_required": legally_required,
            "channels": channels,
            "templates": {c: _TEMPLATES[c] for c in channels},
            **extra,
        }
    )


def listing(
    campaign: CampaignSpec,
    customer: str = "c1",
    day: date = D,
    at: str = "10:00",
    *,
    cycle: str | None = None,
    errors: dict[str, str] | None = None,
    category: str | None = None,
) -> list[dict[str, Any]]:
    """A customer's send-list rows for one campaign and day: one per channel of the plan."""
    cycle = cycle or day.isoformat()
    scheduled = datetime.combine(day, datetime.strptime(at, "%H:%M").time())
    rows = []
    for rank, channel in enumerate(campaign.channels, start=1):
        error = (errors or {}).get(str(channel))
        rows.append(
            {
                "campaign_id": campaign.id,
                "step": 1,
                "customer_id": customer,
                "as_of_date": day,
                "cycle": cycle,
                "send_key": send_key(campaign.id, 1, customer, cycle),
                "base_scheduled_at": scheduled,
                "advertised_category": category,
                "channel": str(channel),
                "channel_rank": rank,
                "message_type": None if error else ("email" if channel == "email" else "sms"),
                "subject": None if error else "제목",
                "body": None if error else "본문",
                "data": None if error else "{}",
                "content_bytes": None if error else 10,
                "render_error": error,
                "render_warnings": None,
            }
        )
    return rows


def consent(customer: str, channel: str, granted: bool, at: str, purpose: str = "ad", source: str = "form") -> dict:
    return {
        "customer_id": customer,
        "channel": channel,
        "purpose": purpose,
        "is_granted": granted,
        "recorded_at": pd.Timestamp(at),
        "source": source,
    }


def sent_before(campaign: CampaignSpec, customer: str, day: date, at: str = "10:00", cycle: str | None = None) -> dict:
    """A history row: an ad planned on an earlier day (outside the run's window)."""
    return {
        "send_key": send_key(campaign.id, 1, customer, cycle or day.isoformat()),
        "campaign_id": campaign.id,
        "customer_id": customer,
        "as_of_date": day,
        "scheduled_at": pd.Timestamp(f"{day} {at}"),
        "purpose": str(campaign.purpose),
        "cap_class": campaign.frequency_cap_class,
    }


def world(
    customers: Iterable[str] = ("c1",),
    *,
    consents: Iterable[dict] = (),
    all_ads_consented_on: str | None = "2020-01-01 10:00",
    no_phone: Iterable[str] = (),
    suppressions: Iterable[tuple[str, str, str]] = (),
    purchases: Iterable[tuple[str, str, str]] = (),
    history: Iterable[dict] = (),
    sent_keys: dict[str, date | None] | None = None,
    guard_history: Iterable[tuple[str, date, int]] = (),
    approvals: Iterable[tuple[str, date, str]] = (),
    customers_known: dict[date, int] | None = None,
) -> PolicyInputs:
    """Customers with an email and a phone; by default ad consent on every channel since 2020-01-01."""
    customers = list(customers)
    log = list(consents)
    if all_ads_consented_on:
        log = [consent(c, ch, True, all_ads_consented_on) for c in customers for ch in ("email", "sms", "kakao")] + log
    no_phone = set(no_phone)
    empty = PolicyInputs.empty()
    return PolicyInputs(
        contacts=pd.DataFrame(
            {
                "customer_id": customers,
                "customer_name": ["김민지"] * len(customers),
                "email": [ADDRESSES["email"].replace("minji", c) for c in customers],
                "phone": [None if c in no_phone else ADDRESSES["sms"] for c in customers],
            }
        ),
        push_addresses=empty.push_addresses,
        consents=pd.DataFrame(log, columns=list(empty.consents.columns)),
        suppressions=pd.DataFrame(
            [(ch, address_hash(a), kind, "test") for ch, a, kind in suppressions],
            columns=["channel", "address_hash", "kind", "reason"],
        ),
        purchases=pd.DataFrame(
            [(c, pd.Timestamp(at), cat) for c, at, cat in purchases], columns=["customer_id", "ordered_at", "category"]
        ),
        history=pd.DataFrame(list(history), columns=HISTORY_COLUMNS),
        sent_keys=sent_keys or {},
        guard_history=pd.DataFrame(
            [(c, d, n, "ok") for c, d, n in guard_history],
            columns=["campaign_id", "as_of_date", "eligible", "guard_state"],
        ),
        approvals=pd.DataFrame(list(approvals), columns=["campaign_id", "as_of_date", "decision"]),
        customers_known=customers_known or {},
    )


def no_control(config: PolicyConfig | None = None) -> PolicyConfig:
    """The policy without a control group, so each test chooses who is measured out."""
    base = config or PolicyConfig()
    return base.model_copy(update={"control_group": base.control_group.model_copy(update={"share": 0.0})})


def run(
    rows: Iterable[dict], inputs: PolicyInputs, specs: Iterable[CampaignSpec], config: PolicyConfig | None = None
) -> PolicyResult:
    frame = pd.DataFrame(list(rows), columns=SEND_LIST_COLUMNS)
    return plan(frame, inputs, {s.id: s for s in specs}, config or no_control())


def decision_of(result: PolicyResult, customer: str = "c1", campaign: str = "promo", day: date = D) -> dict:
    d = result.decisions
    row = d[(d["customer_id"] == customer) & (d["campaign_id"] == campaign) & (d["as_of_date"] == day)]
    assert len(row) == 1, result.decisions
    return row.iloc[0].to_dict()


@pytest.fixture(autouse=True)
def _parsed_dbt(dbt_manifest: Path) -> None:
    """These tests load the Dagster definitions or run dbt: the manifest must be parsed first."""
