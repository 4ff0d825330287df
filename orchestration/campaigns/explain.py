"""`dangol explain`: why did (or didn't) this customer get this campaign's message on this day.

Reads fct_send_decisions, fct_planned_sends and the delivery record, read-only; names the policy step
that decided, its reason and the values that decided it, or what the hand-off decided (expired, blocked,
withheld).
Contact details stay masked.
"""

from __future__ import annotations

from datetime import date

import duckdb

from channels.masking import mask_address, mask_text
from orchestration.campaigns.policy import Step
from orchestration.campaigns.spec import CampaignSpec
from orchestration.lib.warehouse import scalar, table_exists

# The numbering of the policy steps (render shares step 2 with suppression: both pick the channel).
STEP_NUMBER = {
    Step.CONSENT: "1 (consent)",
    Step.SUPPRESSION: "2 (suppression)",
    Step.RENDER: "2 (rendering on the channel)",
    Step.NIGHT: "3 (night rule)",
    Step.FREQUENCY_CAP: "4 (frequency caps)",
    Step.COLLISION: "5 (collisions)",
    Step.CONTROL_GROUP: "6 (global control group)",
    Step.HOLDOUT: "6 (campaign holdout)",
    Step.ALREADY_SENT: "7 (already sent)",
    Step.AUDIENCE_GUARD: "8 (audience guard)",
}


def explain(con: duckdb.DuckDBPyConnection, customer_id: str, campaign: CampaignSpec | str, day: date) -> str:
    """A few plain lines answering the question; never raises for a missing row."""
    campaign_id = campaign.id if isinstance(campaign, CampaignSpec) else campaign
    title = f"{campaign_id}" + (f" ({campaign.name})" if isinstance(campaign, CampaignSpec) else "")
    head = f"{title}, customer {customer_id}, {day}:"
    if not table_exists(con, "sends", "fct_send_decisions"):
        return f"{head}\n  no decisions in this warehouse yet: run the day first (dangol run --date {day})."
    row = con.execute(
        "select decision, policy_step, reason, detail, channels_considered, send_key, cycle"
        " from sends.fct_send_decisions where customer_id = ? and campaign_id = ? and as_of_date = ?",
        [customer_id, campaign_id, day],
    ).fetchone()
    if row is None:
        return f"{head}\n" + _not_considered(con, customer_id, campaign, campaign_id, day)
    decision, step, reason, detail, considered, key, cycle = row
    lines = [head]
    if decision == "planned":
        lines.append(f"  SENT (planned): {detail}")
        lines.extend(_planned_message(con, key))
    elif decision == "held_for_approval":
        lines.append(f"  HELD at step {STEP_NUMBER[Step.AUDIENCE_GUARD]}: {detail}")
        lines.append("  it goes out only once a person approves it and the day is planned again")
    elif decision == "expired":
        lines.append(f"  NOT SENT: expired at hand-off, {detail}.")
        lines.append("  a run may deliver it only with an explicit opt-in (deliver_past: max_age_hours, requested_by)")
    elif decision == "blocked":
        lines.append(f"  NOT SENT: blocked at hand-off, {detail}.")
    elif decision == "withheld":
        lines.append(f"  NOT SENT: withheld at hand-off, {detail}.")
    else:
        lines.append(f"  NOT SENT: excluded at step {STEP_NUMBER.get(Step(step), step)}, reason {reason}.")
        lines.append(f"  why: {detail}")
    lines.extend(_answer(con, campaign_id, day))
    if considered != detail:
        lines.append(f"  channels considered, in the plan's order: {considered}")
    lines.append(f"  cycle {cycle}, idempotency key {key}")
    return "\n".join(lines)


def _answer(con: duckdb.DuckDBPyConnection, campaign_id: str, day: date) -> list[str]:
    """Who answered the audience guard for this campaign-day, if anyone did."""
    if not table_exists(con, "sends", "approvals"):
        return []
    row = con.execute(
        "select decision, decided_by, recorded_at, note from sends.approvals where campaign_id = ? and as_of_date = ?",
        [campaign_id, day],
    ).fetchone()
    if row is None:
        return []
    decision, by, at, note = row
    return [f"  the held send list was {decision} by {by} at {at:%Y-%m-%d %H:%M}" + (f": {note}" if note else "")]


def _planned_message(con: duckdb.DuckDBPyConnection, key: str) -> list[str]:
    lines = []
    message = con.execute(
        "select channel, message_type, address, subject, body, cost_krw from sends.fct_planned_sends"
        " where send_key = ?",
        [key],
    ).fetchone()
    if message:
        channel, kind, address, subject, body, cost = message
        lines.append(f"  message: {kind} to {mask_address(channel, address)}, estimated {cost} KRW")
        if subject:
            lines.append(f"  subject: {mask_text(subject)}")
        lines.append("  body: " + mask_text(body).replace("\n", " / ")[:200])
    if table_exists(con, "sends", "deliveries"):
        delivered = con.execute(
            "select state, adapter, attempts, reason from sends.deliveries where send_key = ?", [key]
        ).fetchone()
        if delivered:
            state, adapter, attempts, why = delivered
            lines.append(
                f"  delivery: {state} via {adapter} after {attempts} attempt(s)" + (f" ({why})" if why else "")
            )
        else:
            lines.append("  delivery: not delivered yet")
    return lines


def _not_considered(
    con: duckdb.DuckDBPyConnection, customer_id: str, campaign: CampaignSpec | str, campaign_id: str, day: date
) -> str:
    ran = scalar(
        con,
        "select count(*) from sends.fct_send_decisions where campaign_id = ? and as_of_date = ?",
        [campaign_id, day],
    )
    known = table_exists(con, "staging", "stg_shop__customers") and scalar(
        con, "select count(*) from staging.stg_shop__customers where customer_id = ?", [customer_id]
    )
    if not known:
        return f"  NOT SENT: there is no customer {customer_id} in the shop's customer file."
    if not ran:
        return (
            f"  no decision: {campaign_id} has no candidates on {day} in this warehouse (the day was not run,"
            " or nobody was in the audience)."
        )
    rule = f" ({campaign.description})" if isinstance(campaign, CampaignSpec) and campaign.description else ""
    audience = campaign.audience if isinstance(campaign, CampaignSpec) else "its audience model"
    return f"  NOT SENT: the customer was not in the audience {audience} that day{rule}; the policy never saw them."
