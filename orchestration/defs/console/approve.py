"""The job a marketer answers a held send list with: record the answer, plan the day again, deliver.

An asset job over the plan and what follows it (the decision and send tables, their checks, delivery),
so the answer goes through the same policy, checks and hand-off as the nightly run: an approved list goes
out at once if its time has come (or at the campaign's next send time, handed off by due_sends), a
rejected one is dropped, and fct_send_decisions and `explain` say who decided. The day is the partition;
the campaign and the answer are the run config of the `send_plan` step (PlanConfig.answer).
"""

from collections.abc import Iterable
from datetime import date

import dagster as dg

from orchestration.campaigns.policy import release_hint
from orchestration.defs.campaigns.plan import APPROVE_JOB, DECISIONS_RAW_KEY, PLANNED_RENDERED_KEY

approve_send_list_job = dg.define_asset_job(
    name=APPROVE_JOB,
    selection=dg.AssetSelection.assets(PLANNED_RENDERED_KEY, DECISIONS_RAW_KEY).downstream(),
    description="Approve or reject a send list the audience guard held. Pick the day (partition), then in the"
    " launchpad set ops.send_plan.config.answer: the campaign (from the list), APPROVE or REJECT, and your"
    " name. The day is planned again with the answer and what is due is delivered.",
    tags={"dangol/console": "approve"},
)


def launch_config(campaign_id: str) -> str:
    """The launchpad config that approves one held list (the person fills in the name)."""
    return (
        "ops:\n  send_plan:\n    config:\n      answer:\n"
        f"        campaign: {campaign_id}\n        decision: APPROVE   # or REJECT\n"
        "        decided_by: your name\n        note: ''\n"
    )


def how_to_release_md(held: Iterable[tuple[str, date]]) -> str:
    """Markdown for a hold's metadata: which job answers it, with the config to paste."""
    lines = []
    for campaign_id, day in held:
        lines.append(f"- **{campaign_id} on {day}**: {release_hint(campaign_id, day)}")
        lines.append(f"\n  Launchpad of `{APPROVE_JOB}`, partition `{day}`:")
        lines.append(f"\n```yaml\n{launch_config(campaign_id)}```")
    return "\n".join(lines)
