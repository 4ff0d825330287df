"""The test-send job: a campaign's real messages of a day, to the shop's own test recipients.

What keeps a test a test (its ledger mark, no tracking, never to a customer): orchestration/campaigns/trial.py.
"""

import dagster as dg
import pandas as pd
from pydantic import Field

from channels.delivery import deliver
from channels.ledger import Ledger
from channels.masking import mask_address
from channels.models import Channel
from channels.tracking.links import LinkStore
from orchestration.campaigns.spec import load_campaigns
from orchestration.campaigns.trial import (
    Neutraliser,
    Recipient,
    RecipientError,
    check_recipients,
    rendered_messages,
    test_messages,
)
from orchestration.defs.campaigns.plan import masked_preview
from orchestration.lib.channels import open_adapter
from orchestration.lib.choices import CampaignChoice
from orchestration.lib.partitions import daily_partitions
from orchestration.lib.resources import ChannelsResource, TrackingResource, WarehouseResource
from orchestration.settings import load_settings

TEST_SEND_JOB = "test_send"


class TestRecipientConfig(dg.Config):
    """One person of the shop's team who receives test messages."""

    name: str = Field(min_length=1, max_length=40, description="Who this is (shown in the ledger as test:<name>).")
    channel: Channel = Field(description="The channel to test on: EMAIL, SMS, KAKAO, APP_PUSH or WEB_PUSH.")
    address: str = Field(
        min_length=3,
        description="Their own address on that channel: an email address, a mobile number (01012345678), or"
        " a push token. Refused if it is any customer's address.",
    )


class TestSendConfig(dg.Config):
    """Send a campaign's real messages of the chosen day (the partition) to internal test recipients."""

    campaign: CampaignChoice = Field(description="The campaign to test (pick from the list).")
    recipients: list[TestRecipientConfig] = Field(
        description="Who receives the test, one entry per person and channel. Each gets the real rendered"
        " messages of the day on their channel, marked as tests; never counted in measurement."
    )
    messages_per_channel: int = Field(
        default=2, ge=1, le=10, description="How many different customers' messages each recipient gets."
    )


@dg.op(
    name="send_test_messages",
    description="Sends the day's rendered messages of one campaign to the test recipients, marked as tests.",
    tags={"kind": "python"},
)
def send_test_messages(
    context: dg.OpExecutionContext,
    config: TestSendConfig,
    warehouse: WarehouseResource,
    channels: ChannelsResource,
    tracking: TrackingResource,
) -> dg.Output[int]:
    day = pd.Timestamp(context.partition_key).date()
    spec = {s.id: s for s in load_campaigns()}[str(config.campaign.value)]
    recipients = [Recipient(r.name, Channel(r.channel), r.address) for r in config.recipients]
    with warehouse.read() as con:
        try:
            check_recipients(con, recipients)
        except RecipientError as exc:
            raise dg.Failure(str(exc), allow_retries=False) from None
        rows = rendered_messages(con, spec.id, day, {r.channel for r in recipients}, config.messages_per_channel)
    if not len(rows):
        raise dg.Failure(
            f"{spec.id} has no rendered messages on {day} for the recipients' channels:"
            " run the day first (the nightly job, or a plan-mode backfill), or pick a channel the campaign uses"
            f" ({', '.join(spec.channels)})",
            allow_retries=False,
        )
    with LinkStore(load_settings().link_store, read_only=True) as links:
        messages = test_messages(rows, recipients, spec, context.run_id, Neutraliser(tracking.tracking(), links))
    with Ledger(channels.ledger_path) as ledger:
        for channel in sorted({m.channel for m in messages}):
            with open_adapter(channels, channel) as adapter:
                deliver([m for m in messages if m.channel is channel], adapter, ledger)
        states = {r.key: str(r.state) for r in ledger.rows(keys=[m.key for m in messages])}
    sent = [
        {
            "to": f"{m.customer_id} {mask_address(m.channel, m.address)}",
            "channel": str(m.channel),
            "state": states.get(m.key, "?"),
            "subject": masked_preview(m.subject, None, 40),
            "body": masked_preview(m.body, None),
        }
        for m in messages
    ]
    accepted = sum(s["state"] in ("accepted", "delivered") for s in sent)
    context.log.info(f"{spec.id} on {day}: {len(messages)} test messages, {accepted} accepted")
    return dg.Output(
        len(messages),
        metadata={
            "campaign": spec.id,
            "day": str(day),
            "test_messages": len(messages),
            "accepted": accepted,
            "by_state": dg.MetadataValue.json(pd.Series([s["state"] for s in sent]).value_counts().to_dict()),
            "sent_masked": dg.MetadataValue.md(pd.DataFrame(sent).to_markdown(index=False)),
        },
    )


@dg.job(
    name=TEST_SEND_JOB,
    partitions_def=daily_partitions,
    description="Test send: a campaign's real rendered messages of a day (the partition) to internal test"
    " recipients (run config: campaign, recipients). Marked test: in the ledger, never in deliveries or"
    " measurement, refused for any customer's address.",
    tags={"dangol/console": "test_send"},
)
def test_send_job() -> None:
    send_test_messages()
