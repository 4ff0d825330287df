"""Small builders for the policy's inputs: campaign specs, send-list rows and the state of the world."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from orchestration.campaigns.config import PolicyConfig
from orchestration.campaigns.eligibility import ELIGIBILITY_COLUMNS
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
ADDRESSES = {
    "email": "minji@example.com",
    "sms": "01012345678",
    "kakao": "01012345678",
    "app_push": "token-minji-0123456789abcdef",
}


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


def elig(
    customer: str = "c1",
    channel: str = "email",
    purpose: str = "ad",
    *,
    day: date = D,
    reason: str | None = None,
    state: str | None = None,
    at: str | None = "2020-01-01 10:00",
    source: str | None = "form",
    scope: str | None = "customer",
    night: bool = False,
    night_at: str | None = None,
    suppression: str | None = None,
    exception: str | None = None,
) -> dict[str, Any]:
    """One row of int_customer_eligibility_daily, as the model would answer (the tests of the rule itself
    are the model's dbt unit tests; these say what the policy does with an answer)."""
    if state is None:
        state = {"consent_withdrawn": "withdrawn", "no_consent": "none"}.get(reason or "", "granted")
    address = None if reason == "no_address" else ADDRESSES[channel].replace("minji", customer)
    return {
        "as_of_date": day,
        "customer_id": customer,
        "channel": channel,
        "purpose": purpose,
        "address": address,
        "is_address_valid": reason not in ("no_address", "invalid_address"),
        "consent_state": state,
        "consent_recorded_at": None if state == "none" or at is None else pd.Timestamp(at),
        "consent_source": None if state == "none" else source,
        "consent_scope": None if state == "none" else scope,
        "has_night_consent": night,
        "night_consent_recorded_at": pd.Timestamp(night_at) if night_at else None,
        "suppression_kind": suppression,
        "suppression_reason": "test" if suppression else None,
        "exception_categories": exception,
        "is_eligible": reason is None,
        "ineligible_reason": reason,
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


@dataclass(frozen=True)
class World(PolicyInputs):
    """PolicyInputs whose eligibility rows are completed by `run` for the rows' customers and days."""

    ads_granted: bool = True
    no_phone: frozenset[str] = frozenset()


def world(
    customers: Iterable[str] = ("c1",),
    *,
    eligibility: Iterable[dict] = (),
    all_ads_consented: bool = True,
    no_phone: Iterable[str] = (),
    history: Iterable[dict] = (),
    sent_keys: dict[str, date | None] | None = None,
    guard_history: Iterable[tuple[str, date, int]] = (),
    approvals: Iterable[tuple[str, date, str]] = (),
    customers_known: dict[date, int] | None = None,
) -> World:
    """Customers with an email and a phone. Unless `eligibility` says otherwise for a (customer, channel,
    purpose, day): ads eligible on email, sms and kakao (ad consent since 2020-01-01), informational
    messages not (no info consent), legal notices eligible."""
    customers = list(customers)
    return World(
        contacts=pd.DataFrame({"customer_id": customers, "customer_name": ["김민지"] * len(customers)}),
        eligibility=pd.DataFrame(list(eligibility), columns=ELIGIBILITY_COLUMNS),
        history=pd.DataFrame(list(history), columns=HISTORY_COLUMNS),
        sent_keys=sent_keys or {},
        guard_history=pd.DataFrame(
            [(c, d, n, "ok") for c, d, n in guard_history],
            columns=["campaign_id", "as_of_date", "eligible", "guard_state"],
        ),
        approvals=pd.DataFrame(list(approvals), columns=["campaign_id", "as_of_date", "decision"]),
        customers_known=customers_known or {},
        ads_granted=all_ads_consented,
        no_phone=frozenset(no_phone),
    )


def _completed(frame: pd.DataFrame, inputs: PolicyInputs) -> PolicyInputs:
    """The world's default eligibility rows for every (customer, day) listed, under its explicit ones."""
    if not isinstance(inputs, World):
        return inputs
    defaults = []
    for customer, day in sorted(set(zip(frame["customer_id"], frame["as_of_date"], strict=True))):
        for channel in ("email", "sms", "kakao"):
            no_address = channel != "email" and customer in inputs.no_phone
            for purpose, reason in (
                ("ad", None if inputs.ads_granted else "no_consent"),
                ("info", "no_consent"),
                ("legal_notice", None),
            ):
                defaults.append(
                    elig(customer, channel, purpose, day=day, reason="no_address" if no_address else reason)
                )
    key = ["as_of_date", "customer_id", "channel", "purpose"]
    given = inputs.eligibility
    rows = pd.DataFrame(defaults, columns=ELIGIBILITY_COLUMNS)
    if len(given):
        rows = rows[~rows.set_index(key).index.isin(given.set_index(key).index)]
        rows = pd.concat([rows, given], ignore_index=True)
    return replace(inputs, eligibility=rows)


def no_control(config: PolicyConfig | None = None) -> PolicyConfig:
    """The policy without a control group, so each test chooses who is measured out."""
    base = config or PolicyConfig()
    return base.model_copy(update={"control_group": base.control_group.model_copy(update={"share": 0.0})})


def run(
    rows: Iterable[dict], inputs: PolicyInputs, specs: Iterable[CampaignSpec], config: PolicyConfig | None = None
) -> PolicyResult:
    frame = pd.DataFrame(list(rows), columns=SEND_LIST_COLUMNS)
    return plan(frame, _completed(frame, inputs), {s.id: s for s in specs}, config or no_control())


def decision_of(result: PolicyResult, customer: str = "c1", campaign: str = "promo", day: date = D) -> dict:
    d = result.decisions
    row = d[(d["customer_id"] == customer) & (d["campaign_id"] == campaign) & (d["as_of_date"] == day)]
    assert len(row) == 1, result.decisions
    return row.iloc[0].to_dict()


@pytest.fixture(autouse=True)
def _parsed_dbt(dbt_manifest: Path) -> None:
    """These tests load the Dagster definitions or run dbt: the manifest must be parsed first."""
