"""One partitioned send-list asset per campaign file: adding a YAML file adds an asset, no Python."""

from datetime import date

import dagster as dg
import pandas as pd

from channels.tracking.links import LinkStore
from orchestration.campaigns.config import check_campaigns, load_policy
from orchestration.campaigns.legal import Sender
from orchestration.campaigns.send_list import build_send_list, write_send_list
from orchestration.campaigns.spec import CampaignSpec, load_campaigns
from orchestration.lib.figures import of_day, report_days
from orchestration.lib.partitions import daily_partitions, days_between, window_backfill, window_days
from orchestration.lib.resources import TrackingResource, WarehouseResource
from orchestration.settings import load_settings

CUSTOMERS_KEY = dg.AssetKey(["staging", "stg_shop__customers"])


def send_list_figures(listed: pd.DataFrame) -> dict[str, object]:
    """One day's send list: who is in the audience, and what could not be rendered for whom."""
    errors = listed["render_error"].dropna().str.split(":").str[0].value_counts().to_dict()
    return {
        "audience_size": int(listed["customer_id"].nunique()),
        "render_problems_by_kind": dg.MetadataValue.json({str(k): int(v) for k, v in errors.items()}),
    }


def send_list_key(campaign_id: str) -> dg.AssetKey:
    return dg.AssetKey(["send_list", campaign_id])


def audience_key(spec: CampaignSpec) -> dg.AssetKey:
    return dg.AssetKey(["marts", spec.audience])


def unbuilt_days(instance: dg.DagsterInstance, key: dg.AssetKey, first: date, last: date) -> list[date]:
    """The days of the window for which the audience was never materialised. An audience empty for a day is a
    fact; an audience never built for it is not, and a send list of 0 rows from it would look like one."""
    built = instance.get_materialized_partitions(key)
    return [day for day in days_between(first, last) if day.isoformat() not in built]


def _send_list_asset(spec: CampaignSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=send_list_key(spec.id),
        deps=[audience_key(spec), CUSTOMERS_KEY],
        group_name="campaigns",
        partitions_def=daily_partitions,
        backfill_policy=window_backfill,
        pool="warehouse",
        kinds={"python", "duckdb"},
        owners=[],
        description=(
            f"{spec.name} ({spec.purpose}, owner {spec.owner}): the audience {spec.audience} rendered on every"
            f" channel of the plan ({', '.join(spec.channels)}), before the send policy. {spec.description}"
        ),
        tags={"campaign": spec.id},
    )
    def send_list(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource, tracking: TrackingResource
    ) -> dg.MaterializeResult:
        first, last = window_days(context)
        missing = unbuilt_days(context.instance, audience_key(spec), first, last)
        if missing:
            raise dg.Failure(
                f"{spec.id}: the audience marts.{spec.audience} was never built for"
                f" {', '.join(str(d) for d in missing)}; run the nightly job for"
                f" {'that day' if len(missing) == 1 else 'those days'} first (a send list from it would be empty)"
            )
        with warehouse.write() as con, LinkStore(load_settings().link_store) as links:
            listed = build_send_list(con, spec, first, last, Sender.from_env(), tracking.tracking(), links)
            write_send_list(con, spec, first, last, listed)
        report_days(context, lambda day: send_list_figures(of_day(listed, day)))
        return dg.MaterializeResult(metadata={"window": f"{first} .. {last}"})

    return send_list


_specs = load_campaigns()
# A campaign whose cap class the policy does not know fails the code location's load, not a nightly run.
check_campaigns(_specs, load_policy())
send_lists = [_send_list_asset(spec) for spec in _specs]
