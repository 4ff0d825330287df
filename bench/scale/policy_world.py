"""A synthetic day for the send policy: send lists, eligibility and a planned history of any size.

The policy is pure (DataFrames in, DataFrames out), so its cost can be measured without a warehouse:
`n` customers, each on one to three of the shop's campaigns, a mix of consent answers, night times,
render errors, and `history_days` of earlier plans of which some keys come back (already planned) and
some are in the ledger (already sent).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd

from orchestration.campaigns.eligibility import ELIGIBILITY_COLUMNS
from orchestration.campaigns.policy import HISTORY_COLUMNS, PolicyInputs
from orchestration.campaigns.send_list import SEND_LIST_COLUMNS, send_key
from orchestration.campaigns.spec import CampaignSpec, load_campaigns

DAY = date(2025, 6, 15)
_HOURS = (10, 19, 22, 7)


def world(
    n: int, history_days: int = 30, seed: int = 7, day: date = DAY
) -> tuple[pd.DataFrame, PolicyInputs, dict[str, CampaignSpec]]:
    """(send list, inputs, specs) for one day of `n` customers."""
    rng = np.random.default_rng(seed)
    specs = {s.id: s for s in load_campaigns()}
    ids = sorted(specs)
    customers = [f"C{i:07d}" for i in range(n)]
    rows: list[dict[str, object]] = []
    elig: list[dict[str, object]] = []
    history: list[dict[str, object]] = []
    sent: dict[str, date | None] = {}
    for i, customer in enumerate(customers):
        chosen = rng.choice(len(ids), size=int(rng.integers(1, 4)), replace=False)
        for j in chosen:
            spec = specs[ids[int(j)]]
            repeat = rng.random()
            cycle = "c-old" if repeat < 0.2 else day.isoformat()
            key = send_key(spec.id, 1, customer, cycle)
            at = datetime.combine(day, time(int(_HOURS[int(rng.integers(0, len(_HOURS)))])))
            if repeat < 0.1:  # planned on an earlier day
                earlier = day - timedelta(days=int(rng.integers(1, history_days + 1)))
                history.append(_history(spec, customer, key, earlier))
            elif repeat < 0.15:  # in the ledger only
                sent[key] = None
            elif repeat < 0.17:  # this day's own, sent on an earlier run of it
                sent[key] = day
            for rank, channel in enumerate(spec.channels, start=1):
                broken = rng.random() < 0.02
                rows.append(
                    {
                        "campaign_id": spec.id,
                        "step": 1,
                        "customer_id": customer,
                        "as_of_date": day,
                        "cycle": cycle,
                        "send_key": key,
                        "base_scheduled_at": at,
                        "advertised_category": "skincare" if i % 3 else None,
                        "channel": str(channel),
                        "channel_rank": rank,
                        "message_type": None if broken else ("email" if channel == "email" else "sms"),
                        "subject": None if broken else "제목",
                        "body": None if broken else f"{customer}님 본문",
                        "data": None if broken else "{}",
                        "content_bytes": None if broken else 20,
                        "render_error": "too long for sms" if broken else None,
                        "render_warnings": None,
                    }
                )
        for k in range(int(rng.integers(0, 3))):  # earlier ads that count against the caps
            spec = specs[ids[int(rng.integers(0, len(ids)))]]
            earlier = day - timedelta(days=int(rng.integers(1, history_days + 1)))
            history.append(_history(spec, customer, send_key(spec.id, 1, customer, f"h{k}{earlier}"), earlier))
        for channel in ("email", "sms", "kakao", "app_push"):
            for purpose in ("ad", "info", "legal_notice"):
                elig.append(_eligibility(rng, day, customer, channel, purpose))
    send_list = pd.DataFrame(rows, columns=SEND_LIST_COLUMNS)
    inputs = PolicyInputs(
        contacts=pd.DataFrame({"customer_id": customers, "customer_name": ["김민지"] * n}),
        eligibility=pd.DataFrame(elig, columns=ELIGIBILITY_COLUMNS),
        history=pd.DataFrame(history, columns=HISTORY_COLUMNS),
        sent_keys=sent,
        customers_known={day: n},
    )
    return send_list, inputs, specs


def _history(spec: CampaignSpec, customer: str, key: str, day: date) -> dict[str, object]:
    return {
        "send_key": key,
        "campaign_id": spec.id,
        "customer_id": customer,
        "as_of_date": day,
        "scheduled_at": pd.Timestamp(datetime.combine(day, time(10))),
        "purpose": str(spec.purpose),
        "cap_class": spec.frequency_cap_class,
    }


def _eligibility(rng: np.random.Generator, day: date, customer: str, channel: str, purpose: str) -> dict[str, object]:
    draw = rng.random()
    reason = (
        None
        if draw < 0.7
        else "no_consent"
        if draw < 0.8
        else "consent_withdrawn"
        if draw < 0.87
        else "no_address"
        if draw < 0.95
        else "suppressed"
    )
    state = {"no_consent": "none", "consent_withdrawn": "withdrawn"}.get(reason or "", "granted")
    return {
        "as_of_date": day,
        "customer_id": customer,
        "channel": channel,
        "purpose": purpose,
        "address": None if reason == "no_address" else f"{customer}@example.com",
        "is_address_valid": reason != "no_address",
        "consent_state": state,
        "consent_recorded_at": None if state == "none" else pd.Timestamp("2024-01-01 10:00"),
        "consent_source": None if state == "none" else "signup_form",
        "consent_scope": None if state == "none" else "customer",
        "has_night_consent": bool(rng.random() < 0.3),
        "night_consent_recorded_at": None,
        "suppression_kind": "hard_bounce" if reason == "suppressed" else None,
        "suppression_reason": "bounced" if reason == "suppressed" else None,
        "exception_categories": "skincare" if draw > 0.97 else None,
        "is_eligible": reason is None,
        "ineligible_reason": reason,
    }
