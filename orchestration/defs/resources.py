"""The resources every asset shares. Their values default to the environment's settings; a run's
config may override them (the CLI does, rather than change the environment)."""

import os

import dagster as dg

from channels.tracking.tokens import DEV_KEYS
from orchestration.campaigns.links import DEFAULT_TRACK_URL
from orchestration.lib.clock import ClockResource
from orchestration.lib.dbt import dbt_cli_resource
from orchestration.lib.resources import ChannelsResource, ShopDataResource, TrackingResource, WarehouseResource
from orchestration.settings import load_settings


@dg.definitions
def resources() -> dg.Definitions:
    settings = load_settings()
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(path=str(settings.warehouse), timezone=settings.timezone),
            "dbt": dbt_cli_resource(),
            "shop_data": ShopDataResource(data_dir=str(settings.data_dir)),
            "channels": ChannelsResource(
                mode=dg.EnvVar("DANGOL_CHANNELS").get_value("outbox") or "outbox",
                outbox_dir=str(settings.outbox_dir),
                ledger_path=str(settings.ledger),
            ),
            "clock": ClockResource(timezone=settings.timezone),
            # The signing keys stay an EnvVar (resolved at run time, never shown in the UI) once they are set;
            # a fresh clone signs with the development key.
            "tracking": TrackingResource(
                base_url=dg.EnvVar("DANGOL_TRACK_URL").get_value(DEFAULT_TRACK_URL) or DEFAULT_TRACK_URL,
                signing_keys=dg.EnvVar("DANGOL_TRACKING_KEYS") if os.environ.get("DANGOL_TRACKING_KEYS") else DEV_KEYS,
            ),
        }
    )
