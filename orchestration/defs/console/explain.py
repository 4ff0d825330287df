"""The explain-a-customer job: `dangol explain` from the launchpad, its answer in the run's output."""

import dagster as dg
import pandas as pd
from pydantic import Field

from orchestration.campaigns.explain import explain
from orchestration.campaigns.spec import load_campaigns
from orchestration.lib.choices import CampaignChoice
from orchestration.lib.partitions import daily_partitions
from orchestration.lib.resources import WarehouseResource

EXPLAIN_JOB = "explain_customer"


class ExplainConfig(dg.Config):
    """Why a customer did or did not get a campaign's message on the chosen day (the partition)."""

    customer_id: str = Field(min_length=1, max_length=64, description="The shop's customer id, e.g. C0000042.")
    campaign: CampaignChoice = Field(description="The campaign (pick from the list).")


@dg.op(name="explain_decision", description="Reads the day's decision, message and delivery; read-only, masked.")
def explain_decision(context: dg.OpExecutionContext, config: ExplainConfig, warehouse: WarehouseResource) -> str:
    day = pd.Timestamp(context.partition_key).date()
    campaign = str(config.campaign.value)
    spec = {s.id: s for s in load_campaigns()}.get(campaign, campaign)
    with warehouse.read() as con:
        answer = explain(con, config.customer_id, spec, day)
    context.log.info(answer)
    context.add_output_metadata(
        {
            "customer_id": config.customer_id,
            "campaign": campaign,
            "day": str(day),
            "why": dg.MetadataValue.md("```\n" + answer + "\n```"),
        }
    )
    return answer


@dg.job(
    name=EXPLAIN_JOB,
    partitions_def=daily_partitions,
    description="Explain a customer: why they did or did not get a campaign's message on a day (the partition)."
    " Run config: customer_id and campaign. The answer is in the run's output metadata (`why`), masked;"
    " it changes nothing.",
    tags={"dangol/console": "explain"},
)
def explain_customer_job() -> None:
    explain_decision()
