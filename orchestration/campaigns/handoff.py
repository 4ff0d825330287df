"""The hand-off: which planned sends go to a provider now, and what happens to the others.

Judged at the moment of hand-off, on the shop's clock, for every job that delivers (the nightly run, the
`deliver` job the due-sends sensor launches, a retry, a backfill):

- not due yet       its scheduled time is still ahead: it waits (the due-sends sensor comes back for it)
- expired           more than the catch-up window past its time: never sent, recorded with the reason
- blocked           its day's plan failed a blocking check: never sent, recorded with the failing rules
- night             an ad on a night-restricted channel while the shop's clock is in the night window:
                    it waits for the morning (deferring never needs consent, so this is always legal),
                    unless the eligibility model says the customer has night consent on that channel now
- withheld          the eligibility model, rebuilt right before hand-off on the freshest consents file and
                    every opt-out recorded since, no longer allows it (a withdrawal after the plan wins)
- hand off          everything else, handed to `channels.delivery.deliver`

Pure functions over frames; the asset (orchestration/defs/deliver/deliveries.py) reads and writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum

import pandas as pd

from orchestration.campaigns.config import PolicyConfig
from orchestration.campaigns.policy import is_night

# sends.deliveries: what the hand-off did with each send key. Ledger states for what reached a provider
# (accepted, retry, failed, unknown, ...); `expired` and `blocked` for what the hand-off refused.
DELIVERIES_DDL = """
create schema if not exists sends;
create table if not exists sends.deliveries (
    send_key varchar primary key,
    campaign_id varchar not null,
    customer_id varchar not null,
    send_date date not null,
    channel varchar not null,
    adapter varchar not null,
    state varchar not null,
    attempts integer not null,
    provider_id varchar,
    reason varchar,
    recorded_at timestamp not null
);
create table if not exists sends.delivery_runs (
    run_id varchar primary key,
    first_day date not null,
    last_day date not null,
    mode varchar not null,
    clock timestamp not null,
    max_age_hours double not null,
    requested_by varchar,
    note varchar,
    recorded_at timestamp not null
);
"""
# send_date is the planned row's as_of_date (the partition day that planned it).
DELIVERY_COLUMNS = [
    "send_key",
    "campaign_id",
    "customer_id",
    "send_date",
    "channel",
    "adapter",
    "state",
    "attempts",
    "provider_id",
    "reason",
]


class RunMode(StrEnum):
    """What a run does with the sends it planned."""

    PLAN = "plan"  # compute send lists and previews, deliver nothing
    SEND = "send"  # hand the due sends to providers


class Verdict(StrEnum):
    NOT_DUE = "not_due"
    EXPIRED = "expired"
    BLOCKED = "blocked"
    NIGHT = "night"
    WITHHELD = "withheld"
    HAND_OFF = "hand_off"


# Verdicts recorded in sends.deliveries (and so in fct_send_decisions and `dangol explain`).
REFUSED = (Verdict.EXPIRED, Verdict.BLOCKED, Verdict.WITHHELD)


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def judge(
    planned: pd.DataFrame,
    now: datetime,
    max_age: timedelta,
    policy: PolicyConfig,
    blocked_days: Mapping[date, str] | None = None,
) -> pd.DataFrame:
    """One verdict and reason per planned row (send_key, as_of_date, purpose, channel, scheduled_at) at `now`.

    Order: blocked (the day's plan failed its checks) -> not due -> expired -> night -> hand off.
    """
    blocked_days = blocked_days or {}
    out = pd.DataFrame(index=planned.index, columns=["verdict", "reason"], dtype="object")
    if not len(planned):
        return out
    scheduled = pd.to_datetime(planned["scheduled_at"])
    day = pd.to_datetime(planned["as_of_date"]).dt.date
    exempt = {str(c) for c in policy.night.exempt_channels}
    night_now = is_night(now, policy)
    for idx, at, d, purpose, channel in zip(
        planned.index, scheduled, day, planned["purpose"], planned["channel"], strict=True
    ):
        late = now - at.to_pydatetime()
        if d in blocked_days:
            out.loc[idx] = [Verdict.BLOCKED, f"the plan of {d} failed its blocking checks: {blocked_days[d]}"]
        elif late < timedelta(0):
            out.loc[idx] = [Verdict.NOT_DUE, f"due at {at:%Y-%m-%d %H:%M}"]
        elif late > max_age:
            out.loc[idx] = [
                Verdict.EXPIRED,
                f"scheduled {at:%Y-%m-%d %H:%M}, {_hours(late)} before the hand-off at {now:%Y-%m-%d %H:%M}:"
                f" older than the catch-up window of {_hours(max_age)}",
            ]
        elif night_now and purpose == "ad" and channel not in exempt:
            out.loc[idx] = [Verdict.NIGHT, f"an ad on {channel} at {now:%H:%M}: waits for the end of the night"]
        else:
            out.loc[idx] = [Verdict.HAND_OFF, None]
    return out


def apply_eligibility(planned: pd.DataFrame, verdicts: pd.DataFrame, eligible: pd.DataFrame) -> pd.DataFrame:
    """The last word before hand-off: `eligible` has, per planned row (same index), `may_send`,
    `has_night_consent` and `why` from the eligibility model as it is now. A send it no longer allows is
    withheld; a night ad whose customer has night consent on its channel may go."""
    out = verdicts.copy()
    asked = out["verdict"].isin([Verdict.HAND_OFF, Verdict.NIGHT]) & out.index.isin(eligible.index)
    for idx in out.index[asked]:
        row = eligible.loc[idx]
        if not bool(row["may_send"]):
            out.loc[idx] = [Verdict.WITHHELD, f"no longer eligible at hand-off: {row['why']}"]
        elif out.at[idx, "verdict"] == Verdict.NIGHT and bool(row["has_night_consent"]):
            out.loc[idx] = [Verdict.HAND_OFF, None]
    return out


def refusal_rows(planned: pd.DataFrame, verdicts: pd.DataFrame) -> pd.DataFrame:
    """sends.deliveries rows for the sends the hand-off refused (expired, blocked)."""
    refused = verdicts["verdict"].isin(list(REFUSED))
    rows = planned[refused]
    return pd.DataFrame(
        {
            "send_key": rows["send_key"],
            "campaign_id": rows["campaign_id"],
            "customer_id": rows["customer_id"],
            "send_date": pd.to_datetime(rows["as_of_date"]).dt.date,
            "channel": rows["channel"],
            "adapter": "-",
            "state": verdicts.loc[refused, "verdict"].astype(str),
            "attempts": 0,
            "provider_id": None,
            "reason": verdicts.loc[refused, "reason"],
        },
        columns=DELIVERY_COLUMNS,
    )


def delivery_counts(outcomes: pd.DataFrame) -> dict[str, int]:
    """What a delivery run did, from its outcomes (one row per planned send: channel, verdict, state).

    A small function over a frame so that the figures can be computed per day as well as per run.
    """
    verdict = outcomes["verdict"].astype(str) if len(outcomes) else pd.Series(dtype="object")
    state = outcomes["state"].astype(str) if len(outcomes) else pd.Series(dtype="object")
    return {
        "to_hand_off": len(outcomes),
        "handed_off": int((verdict == Verdict.HAND_OFF).sum()),
        "sent_now": int(((verdict == Verdict.HAND_OFF) & (state == "accepted")).sum()),
        "not_due_yet": int((verdict == Verdict.NOT_DUE).sum()),
        "waiting_for_morning": int((verdict == Verdict.NIGHT).sum()),
        "expired": int((verdict == Verdict.EXPIRED).sum()),
        "blocked_by_checks": int((verdict == Verdict.BLOCKED).sum()),
        "withheld_consent_changed": int((verdict == Verdict.WITHHELD).sum()),
    }


def by_channel_and_state(outcomes: pd.DataFrame) -> dict[str, int]:
    """What the providers said about the sends handed off, per channel (`email:accepted`: 3)."""
    if not len(outcomes):
        return {}
    handed = outcomes[outcomes["verdict"].astype(str) == Verdict.HAND_OFF]
    return {f"{c}:{s}": int(n) for (c, s), n in sorted(handed.groupby(["channel", "state"]).size().items())}
