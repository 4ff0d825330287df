"""The send policy over all campaigns of the window at once (caps and collisions need all of them)."""

import re
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from channels.masking import mask_address, mask_name, mask_text
from channels.tracking.links import LinkStore
from orchestration.campaigns.config import check_campaigns, load_policy
from orchestration.campaigns.planning import (
    ensure_tables,
    load_inputs,
    read_send_lists,
    record_approval,
    reschedule_approved,
    write_catalogue,
    write_plan,
)
from orchestration.campaigns.policy import Decision, PolicyInputs, PolicyResult, plan, release_hint
from orchestration.campaigns.spec import load_campaigns
from orchestration.defs.campaigns.send_lists import send_list_key
from orchestration.lib.choices import Answer, CampaignChoice
from orchestration.lib.clock import ClockResource
from orchestration.lib.figures import of_day, report_days
from orchestration.lib.partitions import daily_partitions, days_between, window_backfill, window_days
from orchestration.lib.resources import ChannelsResource, WarehouseResource
from orchestration.settings import load_settings

PLANNED_RENDERED_KEY = dg.AssetKey(["sends", "planned_sends_rendered"])
DECISIONS_RAW_KEY = dg.AssetKey(["sends", "send_decisions_raw"])
# What the policy reads besides the send lists: names, eligibility (steps 1-2), the 360's customer count.
_READS = [
    dg.AssetKey(["staging", "stg_shop__customers"]),
    dg.AssetKey(["intermediate", "int_customer_eligibility_daily"]),
    dg.AssetKey(["intermediate", "int_customer_states_daily"]),
]
_GREETING = re.compile(r"([가-힣A-Za-z]{1,12})(님)")


APPROVE_JOB = "approve_send_list"


class HeldListAnswer(dg.Config):
    """A person's answer to a send list the audience guard held (for the day of the run's partition)."""

    campaign: CampaignChoice = Field(description="The campaign whose send list was held (pick from the list).")
    decision: Answer = Field(
        description="APPROVE: the held sends go out (at the campaign's next send time if theirs has passed)."
        " REJECT: none of them goes out."
    )
    decided_by: str = Field(min_length=1, description="Your name: recorded with the answer and shown by explain.")
    note: str = Field(default="", description="Why (recorded with the answer).")


class PlanConfig(dg.Config):
    """The plan's run config. Only the approve_send_list job needs it: the nightly run plans without it."""

    answer: HeldListAnswer | None = Field(
        default=None,
        description="Approve or reject a held send list before planning the day again (the approve_send_list"
        " job requires it).",
    )


def masked_preview(text: str | None, name: str | None, limit: int = 120) -> str:
    """A message as a marketer may see it in the UI: no name, address or token in clear."""
    if not text:
        return ""
    if isinstance(name, str) and name:
        text = text.replace(name, mask_name(name))
    text = _GREETING.sub(lambda m: mask_name(m.group(1)) + m.group(2), text)
    text = mask_text(text).replace("\n", " ⏎ ")
    return text[:limit] + ("…" if len(text) > limit else "")


def plan_metadata(result: PolicyResult, names: pd.Series, first: object, last: object) -> dict[str, Any]:
    decisions, planned = result.decisions, result.planned
    scheduled = planned[planned["state"] == "scheduled"]
    excluded = decisions[decisions["decision"] == Decision.EXCLUDED]
    by_campaign = (
        decisions.groupby(["campaign_id", "decision"]).size().unstack(fill_value=0)
        if len(decisions)
        else pd.DataFrame()
    )
    by_campaign_md = by_campaign.reset_index().to_markdown(index=False) if len(by_campaign) else "no candidates"
    previews = []
    for campaign_id, group in scheduled.groupby("campaign_id"):
        for row in group.head(2).itertuples(index=False):
            name = names.get(row.customer_id)
            previews.append(
                {
                    "campaign": campaign_id,
                    "channel": f"{row.channel} ({row.message_type})",
                    "to": mask_address(row.channel, row.address),
                    "at": f"{row.scheduled_at:%Y-%m-%d %H:%M}",
                    "subject": masked_preview(row.subject, name, 40),
                    "body": masked_preview(row.body, name),
                }
            )
    guard = result.campaign_days[result.campaign_days["guard_state"].isin(["held", "approved", "rejected"])]
    return {
        "window": f"{first} .. {last}",
        "audience_size": len(decisions),
        "audience_by_campaign": dg.MetadataValue.json(
            {str(k): int(v) for k, v in decisions.groupby("campaign_id").size().items()}
        ),
        "scheduled": len(scheduled),
        "held_for_approval": int((planned["state"] == "held_for_approval").sum()),
        "by_channel": dg.MetadataValue.json(
            {str(k): int(v) for k, v in scheduled.groupby("message_type").size().items()}
        ),
        "by_exclusion_reason": dg.MetadataValue.json(
            {str(k): int(v) for k, v in excluded.groupby("reason").size().sort_values(ascending=False).items()}
        ),
        "by_campaign_and_decision": dg.MetadataValue.md(by_campaign_md),
        # An empty frame of object dtype sums to "" rather than 0 (a shop with no contactable customers).
        "estimated_cost_krw": float(pd.to_numeric(scheduled["cost_krw"], errors="coerce").fillna(0).sum()),
        "audience_guard": dg.MetadataValue.md(
            guard[["campaign_id", "as_of_date", "eligible", "baseline", "guard_state"]].to_markdown(index=False)
            if len(guard)
            else "every send list within its guard"
        ),
        "preview": dg.MetadataValue.md(pd.DataFrame(previews).to_markdown(index=False) if previews else "none"),
    }


def register_addresses(result: PolicyResult, inputs: PolicyInputs) -> None:
    """Tell the tracking service which address each planned send goes to (hashed), and the customers'
    other addresses (from the eligibility model), so an unsubscribe reaches the suppression list of
    every channel the customer picks."""
    planned = result.planned[["send_key", "channel", "address", "customer_id"]]
    eligibility = inputs.eligibility
    known = eligibility[eligibility["customer_id"].isin(set(planned["customer_id"])) & eligibility["address"].notna()]
    pairs = list(known[["customer_id", "channel", "address"]].drop_duplicates().itertuples(index=False, name=None))
    with LinkStore(load_settings().link_store) as links:
        links.register_addresses(planned[["send_key", "channel", "address"]].itertuples(index=False), pairs)


_specs = load_campaigns()


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            PLANNED_RENDERED_KEY,
            deps=[send_list_key(s.id) for s in _specs] + _READS,
            description="Every send the policy planned (or held for approval), rendered with its legal form,"
            " channel, time, cost and idempotency key. Read through fct_planned_sends.",
            kinds={"python", "duckdb"},
        ),
        dg.AssetSpec(
            DECISIONS_RAW_KEY,
            deps=[send_list_key(s.id) for s in _specs],
            description="Every customer considered by every campaign, and why they were or were not included."
            " Read through fct_send_decisions.",
            kinds={"python", "duckdb"},
        ),
    ],
    group_name="campaigns",
    partitions_def=daily_partitions,
    backfill_policy=window_backfill,
    pool="warehouse",
)
def send_plan(
    context: dg.AssetExecutionContext,
    config: PlanConfig,
    warehouse: WarehouseResource,
    channels: ChannelsResource,
    clock: ClockResource,
):
    """Consent -> suppression -> night -> caps -> collisions -> control/holdout -> already sent -> guard."""
    first, last = window_days(context)
    specs = {s.id: s for s in load_campaigns()}
    policy = load_policy()
    check_campaigns(list(specs.values()), policy)
    answer = config.answer
    if answer is None and context.run.job_name == APPROVE_JOB:
        raise dg.Failure(
            f"{APPROVE_JOB} needs an answer: set ops.send_plan.config.answer (campaign, decision, decided_by)"
        )
    with warehouse.write() as con:
        ensure_tables(con)
        if answer is not None:
            campaign_id = str(answer.campaign.value)
            if campaign_id not in specs:
                raise dg.Failure(f"no campaign {campaign_id!r} in the campaign files any more")
            for day in days_between(first, last):
                record_approval(
                    con, campaign_id, day, str(answer.decision), answer.decided_by, answer.note, at=clock.now()
                )
        send_list = read_send_lists(con, first, last, specs)
        inputs = load_inputs(con, first, last, send_list, Path(channels.ledger_path), policy)
        result = plan(reschedule_approved(send_list, inputs.approvals, specs), inputs, specs, policy)
        write_plan(con, first, last, result)
        write_catalogue(con, specs.values())
    register_addresses(result, inputs)
    names = inputs.contacts.set_index("customer_id")["customer_name"]
    metadata = plan_metadata(result, names, first, last)
    held = result.campaign_days[result.campaign_days["guard_state"] == "held"]
    for row in held.itertuples(index=False):
        context.log.warning(
            f"{row.campaign_id} on {row.as_of_date}: {row.held} new sends held by the audience guard (baseline"
            f" {row.baseline}); {release_hint(row.campaign_id, pd.Timestamp(row.as_of_date).date())}"
        )
    # Each day of the window its own figures; the window's result keeps only the window.
    days = {day: plan_metadata(of_day_result(result, day), names, day, day) for day in days_between(first, last)}
    report_days(context, days.__getitem__, asset_key=PLANNED_RENDERED_KEY)
    report_days(
        context,
        lambda day: {k: days[day][k] for k in ("audience_size", "by_exclusion_reason")},
        asset_key=DECISIONS_RAW_KEY,
    )
    yield dg.MaterializeResult(asset_key=PLANNED_RENDERED_KEY, metadata={"window": metadata["window"]})
    answered = (
        {"answer": f"{answer.campaign.value} {answer.decision} by {answer.decided_by} at {clock.now():%Y-%m-%d %H:%M}"}
        if answer is not None
        else {}
    )
    yield dg.MaterializeResult(asset_key=DECISIONS_RAW_KEY, metadata={"window": metadata["window"], **answered})


def of_day_result(result: PolicyResult, day: date) -> PolicyResult:
    """The part of a window's plan that is one day's."""
    return PolicyResult(*(of_day(frame, day) for frame in (result.decisions, result.planned, result.campaign_days)))
