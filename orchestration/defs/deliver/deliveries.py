"""Delivery of the window's planned sends, exactly once per key, recorded in the ledger.

It reads fct_planned_sends, the model the blocking asset checks guard, and sends its `scheduled` rows
only: rows held by the audience guard wait for a person, excluded candidates never reach this table.
"""

import json
from collections import Counter
from datetime import datetime

import dagster as dg
import pandas as pd

from channels.delivery import deliver
from channels.errors import ChannelConfigError, ChannelError
from channels.ledger import Ledger
from channels.models import Channel, Message, Purpose
from orchestration.campaigns.config import PolicyConfig, load_policy
from orchestration.campaigns.policy import is_night
from orchestration.campaigns.render import unpack_template
from orchestration.lib.channels import open_adapter
from orchestration.lib.partitions import daily_partitions, window_backfill, window_days
from orchestration.lib.resources import ChannelsResource, WarehouseResource
from orchestration.settings import load_settings

PLANNED_SENDS_KEY = dg.AssetKey(["sends", "fct_planned_sends"])

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
"""
# send_date is the planned row's as_of_date (the partition day that planned it).


def night_deferred(planned: pd.DataFrame, now_local: datetime, policy: PolicyConfig) -> pd.Series:
    """Ads on a night-restricted channel are not handed to a provider while the shop's clock is in the night
    window, whatever was planned: the nightly run delivers at 02:00, so those wait for the morning delivery
    run (the `morning_delivery` schedule). Deferring never needs night consent, so this is always legal."""
    if not len(planned) or not is_night(now_local, policy):
        return pd.Series(False, index=planned.index)
    exempt = {str(c) for c in policy.night.exempt_channels}
    return (planned["purpose"] == "ad") & ~planned["channel"].isin(exempt)


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


@dg.asset(
    key=dg.AssetKey(["deliveries"]),
    deps=[PLANNED_SENDS_KEY],
    group_name="deliver",
    partitions_def=daily_partitions,
    backfill_policy=window_backfill,
    pool="warehouse",
    kinds={"python"},
    retry_policy=dg.RetryPolicy(max_retries=3, delay=60, backoff=dg.Backoff.EXPONENTIAL),
    description="Sends the window's scheduled messages; a key already in the ledger is never sent again.",
)
def deliveries(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, channels: ChannelsResource
) -> dg.MaterializeResult:
    first, last = window_days(context)
    with warehouse.read() as con:
        planned = con.execute(
            "select * from sends.fct_planned_sends where as_of_date between ? and ? and state = 'scheduled'"
            " order by scheduled_at, send_key",
            [first, last],
        ).df()
        held = con.execute(
            "select count(*) from sends.fct_planned_sends where as_of_date between ? and ? and state <> 'scheduled'",
            [first, last],
        ).fetchone()[0]
    now_local = datetime.now(load_settings().tz).replace(tzinfo=None)
    # The outbox reaches no person, so it records every message at once; providers wait for the morning.
    deferred = (
        pd.Series(False, index=planned.index)
        if channels.mode == "outbox"
        else night_deferred(planned, now_local, load_policy())
    )
    if deferred.any():
        context.log.info(f"{int(deferred.sum())} ad(s) wait for the morning: it is {now_local:%H:%M} shop time")
    planned = planned[~deferred]
    counts: Counter[str] = Counter()
    skipped = 0
    stopped: dict[str, ChannelError] = {}
    with Ledger(channels.ledger_path) as ledger:
        for channel, group in planned.groupby("channel", sort=True):
            messages = [_message(row) for row in group.itertuples()]
            # A channel that stops (a missing variable, a refused key, an outage) stops alone: the
            # others still go, and the run fails at the end naming it.
            try:
                with open_adapter(channels, Channel(channel)) as adapter:
                    report = deliver(messages, adapter, ledger)
            except ChannelError as exc:
                context.log.error(f"{channel}: {exc}")
                stopped[str(channel)] = exc
                if exc.report is None:
                    continue
                report = exc.report
            counts.update({f"{channel}:{state}": n for state, n in report.outcomes.items()})
            skipped += report.skipped_already_sent
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
        columns=[
            "send_key",
            "campaign_id",
            "customer_id",
            "channel",
            "adapter",
            "state",
            "attempts",
            "provider_id",
            "reason",
        ],
    )
    if len(recorded):
        recorded = recorded.merge(
            planned[["send_key", "as_of_date"]].drop_duplicates("send_key").rename(columns={"as_of_date": "send_date"}),
            on="send_key",
        )
        recorded["recorded_at"] = pd.Timestamp.now()
    with warehouse.write() as con:
        con.execute(DELIVERIES_DDL)
        if len(recorded):
            con.register("_recorded", recorded)
            con.execute("delete from sends.deliveries where send_key in (select send_key from _recorded)")
            con.execute("insert into sends.deliveries by name select * from _recorded")
    if stopped:
        raise dg.Failure(
            description="channels stopped: " + "; ".join(f"{c}: {e}" for c, e in sorted(stopped.items())),
            metadata={"stopped_channels": dg.MetadataValue.json({c: str(e) for c, e in stopped.items()})},
            # A configuration error needs a person; an outage may pass (the ledger keeps retries safe).
            allow_retries=not all(isinstance(e, ChannelConfigError) for e in stopped.values()),
        )
    return dg.MaterializeResult(
        metadata={
            "scheduled": len(planned),
            "held_not_sent": int(held),
            "deferred_to_morning": int(deferred.sum()),
            "sent_now": sum(n for k, n in counts.items() if k.endswith(":accepted")),
            "skipped_already_sent": skipped,
            "by_channel_and_state": dg.MetadataValue.json(dict(sorted(counts.items()))),
        }
    )
