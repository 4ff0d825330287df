"""Alerts a marketer is told about, posted as Slack-compatible JSON to a webhook (DANGOL_ALERT_WEBHOOK).

Two sensors, both visible under Automation in the UI with their ticks (posted / skipped and why):

* `alert_on_failed_run`: any run of the code location that fails (the nightly run, a hand-off, an
  approval, a test send); a channel configuration error (delivery's `channel_configuration_errors`) is
  named as such, since it needs a person, not a retry.
* `alert_on_held_send_list`: each campaign-day the audience guard holds, once, with the job that answers it.

Running by default once the webhook is set; without it they stay stopped (and skip, saying so).
Messages carry ids and counts only, masked like every log line: no customer's name or address.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import dagster as dg
import requests
from pydantic import Field

from channels.masking import mask_text
from orchestration.campaigns.policy import release_hint
from orchestration.defs.deliver.deliveries import CONFIG_ERRORS
from orchestration.lib.resources import WarehouseResource
from orchestration.lib.warehouse import WarehouseBusy, scalar

WEBHOOK_ENV = "DANGOL_ALERT_WEBHOOK"


class AlertWebhook(dg.ConfigurableResource):
    """Where alerts go: an incoming-webhook URL (Slack, or anything that takes Slack's JSON). A secret."""

    url: str = Field(default="", description="The webhook URL (from DANGOL_ALERT_WEBHOOK); empty: no alerts.")
    timeout_seconds: float = 10.0

    def post(self, title: str, lines: list[str]) -> None:
        """One alert: `text` for plain clients and notifications, `blocks` for Slack's layout."""
        text = mask_text(f"{title}\n" + "\n".join(lines))
        payload = {
            "text": text,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": mask_text(title)[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": mask_text("\n".join(lines))[:3000]}},
            ],
        }
        response = requests.post(
            self.url,
            data=json.dumps(payload, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
            timeout=self.timeout_seconds,
        )
        response.raise_for_status()


_DEFAULT = dg.DefaultSensorStatus.RUNNING if os.environ.get(WEBHOOK_ENV) else dg.DefaultSensorStatus.STOPPED


def failure_alert(run: dg.DagsterRun, steps: Sequence[dg.DagsterEvent]) -> tuple[str, list[str]]:
    """Title and lines for a failed run: which job and day, which steps and why, and config errors apart."""
    day = run.tags.get("dagster/partition") or run.tags.get("dagster/asset_partition_range_start") or "-"
    configuration: list[str] = []
    lines = [f"job `{run.job_name}`, day {day}, run {run.run_id[:8]}"]
    for event in steps:
        data = event.step_failure_data
        message = (data.error.message.strip() if data and data.error else "(no error)").splitlines()[0]
        lines.append(f"- step `{event.step_key}`: {message[:300]}")
        metadata = data.user_failure_data.metadata if data and data.user_failure_data else {}
        if CONFIG_ERRORS in metadata:
            configuration.extend(metadata[CONFIG_ERRORS].value)  # type: ignore[arg-type]
    if configuration:
        lines.append(f"channel configuration error on {', '.join(sorted(configuration))}: fix the settings, then rerun")
        return f"dangol: channel configuration error ({', '.join(sorted(configuration))})", lines
    return f"dangol: run failed: {run.job_name} {day}", lines


@dg.run_failure_sensor(
    name="alert_on_failed_run",
    default_status=_DEFAULT,
    description="Posts an alert to DANGOL_ALERT_WEBHOOK when a run fails (nightly, hand-off, approval, test"
    " send), naming a channel configuration error as such.",
)
def alert_on_failed_run(context: dg.RunFailureSensorContext, alert_webhook: AlertWebhook) -> dg.SkipReason | None:
    if not alert_webhook.url:
        return dg.SkipReason(f"no webhook: set {WEBHOOK_ENV}")
    title, lines = failure_alert(context.dagster_run, context.get_step_failure_events())
    alert_webhook.post(title, lines)
    context.log.info(f"alert posted: {title}")
    return None


@dg.sensor(
    name="alert_on_held_send_list",
    minimum_interval_seconds=60,
    default_status=_DEFAULT,
    description="Posts an alert to DANGOL_ALERT_WEBHOOK for each send list the audience guard holds (once per"
    " campaign and day), with how to approve or reject it.",
)
def alert_on_held_send_list(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, alert_webhook: AlertWebhook
) -> dg.SensorResult | dg.SkipReason:
    if not alert_webhook.url:
        return dg.SkipReason(f"no webhook: set {WEBHOOK_ENV}")
    if not warehouse.file.exists():
        return dg.SkipReason("no warehouse yet")
    try:
        with warehouse.read(timeout=20) as con:
            if not scalar(
                con,
                "select count(*) from information_schema.tables where table_schema = 'sends'"
                " and table_name = 'campaign_days'",
            ):
                return dg.SkipReason("nothing planned yet")
            held = con.execute(
                "select campaign_id, as_of_date, held, eligible, baseline from sends.campaign_days"
                " where guard_state = 'held' order by as_of_date, campaign_id"
            ).fetchall()
    except WarehouseBusy:
        return dg.SkipReason("the warehouse is busy; next tick")
    told = set(json.loads(context.cursor)) if context.cursor else set()
    now_held = {f"{c}|{d}" for c, d, *_ in held}
    new = [row for row in held if f"{row[0]}|{row[1]}" not in told]
    for campaign_id, day, count, eligible, baseline in new:
        alert_webhook.post(
            f"dangol: send list held: {campaign_id} {day}",
            [
                f"{count:,} new sends held by the audience guard ({eligible:,} eligible, baseline {baseline or '-'})",
                release_hint(campaign_id, day),
            ],
        )
    # Only what is still held is remembered: an answered list that is held again (a rerun) is told again.
    cursor = json.dumps(sorted(now_held))
    if not new:
        return dg.SensorResult(skip_reason=dg.SkipReason(f"{len(now_held)} held, all told"), cursor=cursor)
    context.log.info(f"{len(new)} held send lists posted")
    return dg.SensorResult(cursor=cursor)
