"""Delivery of the window's planned sends at their time, exactly once per key, recorded in the ledger.

Every job that hands messages to a provider runs this asset: the nightly run, the `deliver` job the
due-sends sensor launches when sends fall due, a retry, a backfill. So the gate is here, not in a job's
selection: the blocking checks' rules are evaluated again over the plan it is about to send (a plan that
failed at 02:00 is not sent at 10:00 by another job), and each send is judged at hand-off time on the
shop's clock (orchestration/campaigns/handoff.py): not due yet, expired, waiting for the morning, or
handed off. It sends `scheduled` rows only: rows held by the audience guard wait for a person.
"""

import json
from datetime import date, datetime

import dagster as dg
import duckdb
import pandas as pd

from channels.delivery import deliver
from channels.errors import ChannelConfigError, ChannelError
from channels.models import Channel, Message, Purpose
from orchestration.campaigns.checks import failures_by_day, prepare, read_window, validate
from orchestration.campaigns.config import load_policy
from orchestration.campaigns.eligibility import HandoffSource, eligibility_at_handoff, may_send, message_purpose
from orchestration.campaigns.handoff import (
    DELIVERIES_DDL,
    DELIVERY_COLUMNS,
    REFUSED,
    RunMode,
    Verdict,
    apply_eligibility,
    by_channel_and_state,
    delivery_counts,
    judge,
    refusal_rows,
)
from orchestration.campaigns.legal import Sender
from orchestration.campaigns.render import unpack_template
from orchestration.campaigns.spec import load_campaigns
from orchestration.defs.deliver.config import DeliveryConfig, decide_run
from orchestration.lib.clock import ClockResource
from orchestration.lib.figures import of_day, report_days
from orchestration.lib.partitions import daily_partitions, window_backfill, window_days
from orchestration.lib.resources import ChannelsResource, ShopDataResource, WarehouseResource
from orchestration.lib.warehouse import scalar

PLANNED_SENDS_KEY = dg.AssetKey(["sends", "fct_planned_sends"])
# A key a provider has (or may have) had: never handed off or judged again. `retry` goes on being delivered.
_HANDED = "delivered.adapter <> '-' and delivered.state not in ('planned', 'retry')"
_PLANNED_SQL = f"""
select planned.*, lists.advertised_category from sends.fct_planned_sends as planned
left join sends.deliveries as delivered on delivered.send_key = planned.send_key and {_HANDED}
left join sends.send_lists as lists
    on lists.send_key = planned.send_key and lists.as_of_date = planned.as_of_date and lists.channel = planned.channel
where planned.as_of_date between ? and ? and planned.state = 'scheduled' and delivered.send_key is null
order by planned.scheduled_at, planned.send_key
"""
CONFIG_ERRORS = "channel_configuration_errors"
# The audience guard is not a reason to block a day: held rows are never sent (state), the rest may go.
_NOT_GATING = frozenset({"audience_guard"})


def failed_checks(con: duckdb.DuckDBPyConnection, first: date, last: date) -> dict[date, str]:
    """Per day of the window whose plan breaks a blocking check's rule: the rules broken and how often.

    The same rules as the asset checks on fct_planned_sends (orchestration/campaigns/checks.py), evaluated
    on the plan as it is now, so no job can deliver a plan whose checks failed."""
    sends = read_window(con, first, last)
    if not len(sends):
        return {}
    frame = prepare(sends, {s.id: s for s in load_campaigns()}, load_policy(), Sender.from_env().name)
    return failures_by_day(frame, validate(frame), ignore=_NOT_GATING)


def eligibility_now(planned: pd.DataFrame, now: datetime, source: HandoffSource) -> pd.DataFrame:
    """Per planned row: may it be sent now, has the customer night consent on its channel, and why not,
    from int_customer_eligibility_daily rebuilt for today on the freshest consents and opt-outs (the
    consent rule's one place; orchestration/campaigns/eligibility.py)."""
    specs = {s.id: s for s in load_campaigns()}
    purposes = planned["campaign_id"].map(lambda c: message_purpose(specs[c]))
    keys = list(zip(planned["customer_id"], planned["channel"], purposes, strict=True))
    rows = eligibility_at_handoff(source, now.date(), keys, load_policy())
    rows = rows.set_index(["customer_id", "channel", "purpose"])
    out = []
    for idx, key, category in zip(planned.index, keys, planned["advertised_category"], strict=True):
        row = rows.loc[key]
        ok, _ = may_send(row["is_eligible"], row["exception_categories"], category)
        why = f"{row['ineligible_reason']}" + (
            f" ({row['consent_state']} {row['consent_recorded_at']})" if pd.notna(row["consent_recorded_at"]) else ""
        )
        out.append({"_row": idx, "may_send": ok, "has_night_consent": bool(row["has_night_consent"]), "why": why})
    return pd.DataFrame(out, columns=["_row", "may_send", "has_night_consent", "why"]).set_index("_row")


def _message(row: pd.Series) -> Message:
    data, template, params = unpack_template({str(k): str(v) for k, v in json.loads(row.data or "{}").items()})
    return Message(
        key=row.send_key,
        campaign_id=row.campaign_id,
        customer_id=row.customer_id,
        channel=Channel(row.channel),
        purpose=Purpose(row.purpose),
        address=row.address,
        subject=None if pd.isna(row.subject) else row.subject,
        body=row.body,
        data=data,
        template=template,
        params=params,
    )


def hand_off(
    context: dg.AssetExecutionContext, planned: pd.DataFrame, channels: ChannelsResource
) -> tuple[pd.DataFrame, dict[str, ChannelError]]:
    """Deliver `planned` through each channel's adapter: the ledger's record of every key, as rows, and the
    channels that stopped."""
    stopped: dict[str, ChannelError] = {}
    with channels.ledger() as ledger:
        for channel, group in planned.groupby("channel", sort=True):
            messages = [_message(row) for row in group.itertuples()]
            # A channel that stops (a missing variable, a refused key, an outage) stops alone: the
            # others still go, and the run fails at the end naming it.
            try:
                with channels.adapter(Channel(channel)) as adapter:
                    deliver(messages, adapter, ledger)
            except ChannelError as exc:
                context.log.error(f"{channel}: {exc}")
                stopped[str(channel)] = exc
        rows = ledger.rows(keys=list(planned["send_key"]))
    recorded = pd.DataFrame(
        [
            {
                "send_key": r.key,
                "campaign_id": r.campaign_id,
                "customer_id": r.customer_id,
                "channel": r.channel,
                "adapter": r.adapter,
                "state": str(r.state),
                "attempts": r.attempts,
                "provider_id": r.provider_id,
                "reason": r.reason,
            }
            for r in rows
        ],
        columns=[c for c in DELIVERY_COLUMNS if c != "send_date"],
    )
    days = planned[["send_key", "as_of_date"]].drop_duplicates("send_key")
    days = days.assign(send_date=pd.to_datetime(days["as_of_date"]).dt.date).drop(columns="as_of_date")
    return recorded.merge(days, on="send_key")[DELIVERY_COLUMNS], stopped


def raise_if_stopped(stopped: dict[str, ChannelError]) -> None:
    """After everything that could go has gone and been recorded: fail naming each stopped channel."""
    if stopped:
        raise dg.Failure(
            description="channels stopped: " + "; ".join(f"{c}: {e}" for c, e in sorted(stopped.items())),
            metadata={
                "stopped_channels": dg.MetadataValue.json({c: str(e) for c, e in stopped.items()}),
                # Read by the alerts sensor: a configuration error is its own alert (a person must fix it).
                CONFIG_ERRORS: dg.MetadataValue.json(
                    sorted(c for c, e in stopped.items() if isinstance(e, ChannelConfigError))
                ),
            },
            # A configuration error needs a person; an outage may pass (the ledger keeps retries safe).
            allow_retries=not all(isinstance(e, ChannelConfigError) for e in stopped.values()),
        )


def _record(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, now: datetime) -> None:
    """Replace the record of these keys (a refusal becomes a delivery when an opt-in run sends it)."""
    if not len(rows):
        return
    con.register("_recorded", rows.assign(recorded_at=now))
    con.execute("delete from sends.deliveries where send_key in (select send_key from _recorded)")
    con.execute("insert into sends.deliveries by name select * from _recorded")
    con.unregister("_recorded")


@dg.asset(
    key=dg.AssetKey(["deliveries"]),
    deps=[PLANNED_SENDS_KEY],
    group_name="deliver",
    partitions_def=daily_partitions,
    backfill_policy=window_backfill,
    pool="warehouse",
    kinds={"python"},
    retry_policy=dg.RetryPolicy(max_retries=3, delay=60, backoff=dg.Backoff.EXPONENTIAL),
    description="Hands the window's due sends to the providers (mode send), or plans only (mode plan, the"
    " default for backfills); refuses stale sends and plans that fail a blocking check; a key already in"
    " the ledger is never sent again.",
)
def deliveries(
    context: dg.AssetExecutionContext,
    config: DeliveryConfig,
    warehouse: WarehouseResource,
    channels: ChannelsResource,
    shop_data: ShopDataResource,
    clock: ClockResource,
) -> dg.MaterializeResult:
    first, last = window_days(context)
    policy = load_policy()
    run = decide_run(config, first, last, context.run.tags, policy)
    now = clock.now()
    context.log.info(f"{first} .. {last} at {now:%Y-%m-%d %H:%M} shop time: {run.why}")
    with warehouse.read() as con:
        planned = con.execute(_PLANNED_SQL, [first, last]).df()
        handed_before = scalar(
            con,
            "select count(*) from sends.fct_planned_sends as planned join sends.deliveries as delivered"
            f" using (send_key) where planned.as_of_date between ? and ? and {_HANDED}",
            [first, last],
        )
        held = scalar(
            con,
            "select count(*) from sends.fct_planned_sends where as_of_date between ? and ? and state <> 'scheduled'",
            [first, last],
        )
        blocked = failed_checks(con, first, last) if len(planned) else {}
    for day, rules in blocked.items():
        context.log.error(f"the plan of {day} is not delivered: {rules}")
    verdicts = judge(planned, now, run.max_age, policy, blocked)
    asked = verdicts["verdict"].isin([Verdict.HAND_OFF, Verdict.NIGHT])
    if run.mode is RunMode.SEND and asked.any():
        source = HandoffSource(warehouse.file, channels.ledger_file, shop_data.folder, warehouse.timezone)
        verdicts = apply_eligibility(planned, verdicts, eligibility_now(planned[asked], now, source))
    outcomes = planned[["send_key", "as_of_date", "channel"]].assign(verdict=verdicts["verdict"], state=None)
    # Refusals are recorded in both modes: a stale send is stale whatever the run was asked to do.
    refused = refusal_rows(planned, verdicts)
    delivered = pd.DataFrame(columns=DELIVERY_COLUMNS)
    stopped: dict[str, ChannelError] = {}
    if run.mode is RunMode.SEND:
        due = planned[verdicts["verdict"] == Verdict.HAND_OFF]
        if len(due):
            delivered, stopped = hand_off(context, due, channels)
            outcomes.loc[due.index, "state"] = due["send_key"].map(delivered.set_index("send_key")["state"]).values
    with warehouse.write() as con:
        con.execute(DELIVERIES_DDL)
        _record(con, refused, now)
        _record(con, delivered, now)
        con.execute(
            "insert or replace into sends.delivery_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                context.run.run_id,
                first,
                last,
                str(run.mode),
                now,
                run.max_age.total_seconds() / 3600,
                config.deliver_past.requested_by if config.deliver_past else None,
                config.deliver_past.note if config.deliver_past else None,
                datetime.now(),
            ],
        )
    raise_if_stopped(stopped)
    counts = delivery_counts(outcomes)
    report_days(context, lambda day: delivery_counts(of_day(outcomes, day)))
    return dg.MaterializeResult(
        metadata={
            "mode": str(run.mode),
            "why": run.why,
            "shop_clock": f"{now:%Y-%m-%d %H:%M}",
            **counts,
            "held_not_sent": int(held),
            "handed_off_before": int(handed_before),
            "by_channel_and_state": dg.MetadataValue.json(by_channel_and_state(outcomes)),
            "refused_by_reason": dg.MetadataValue.json(
                {str(v): int(n) for v, n in verdicts["verdict"].value_counts().items() if v in REFUSED}
            ),
            **(
                {"requested_by": config.deliver_past.requested_by, "max_age_hours": config.deliver_past.max_age_hours}
                if config.deliver_past
                else {}
            ),
        }
    )
