"""One partitioned send-list asset per campaign file: adding a YAML file adds an asset, no Python."""

import re

import dagster as dg

from channels.masking import mask_address, mask_name
from orchestration.campaigns.legal import Sender
from orchestration.campaigns.send_list import build_send_list, write_send_list
from orchestration.campaigns.spec import CampaignSpec, load_campaigns
from orchestration.lib.partitions import daily_partitions, window_backfill, window_days
from orchestration.lib.resources import WarehouseResource

_GREETING = re.compile(r"([가-힣A-Za-z]{1,12})님")


def _masked_preview(text: str) -> str:
    """The first line or so of a message with the greeting's name masked ("김*지님")."""
    return _GREETING.sub(lambda m: mask_name(m.group(1)) + "님", text[:90].replace("\n", " "))


def send_list_key(campaign_id: str) -> dg.AssetKey:
    return dg.AssetKey(["send_list", campaign_id])


def _send_list_asset(spec: CampaignSpec) -> dg.AssetsDefinition:
    @dg.asset(
        key=send_list_key(spec.id),
        deps=[dg.AssetKey(["marts", spec.audience])],
        group_name="campaigns",
        partitions_def=daily_partitions,
        backfill_policy=window_backfill,
        pool="warehouse",
        kinds={"python", "duckdb"},
        owners=[],
        description=f"{spec.name} ({spec.purpose}): who gets which message on which channel, per day.",
        tags={"campaign": spec.id},
    )
    def send_list(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        first, last = window_days(context)
        with warehouse.write() as con:
            planned = build_send_list(con, spec, first, last, Sender.from_env())
            write_send_list(con, spec, first, last, planned)
        by_channel = planned["channel"].value_counts().to_dict() if len(planned) else {}
        preview = (
            planned.head(5).assign(
                address=lambda df: [
                    mask_address(c, a) for c, a in zip(df["channel"], df["address"], strict=True)
                ],
                body=lambda df: [_masked_preview(b) for b in df["body"]],
            )[["customer_id", "send_date", "channel", "address", "subject", "body"]]
            if len(planned)
            else None
        )
        return dg.MaterializeResult(
            metadata={
                "audience_window": f"{first} .. {last}",
                "messages": len(planned),
                "by_channel": dg.MetadataValue.json({str(k): int(v) for k, v in by_channel.items()}),
                "preview": dg.MetadataValue.md(
                    preview.to_markdown(index=False) if preview is not None else "none"
                ),
            }
        )

    return send_list


send_lists = [_send_list_asset(spec) for spec in load_campaigns()]
