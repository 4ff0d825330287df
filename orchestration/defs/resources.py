"""The resources every asset shares, configured from the environment."""

import dagster as dg

from orchestration.lib.clock import ClockResource
from orchestration.lib.dbt import dbt_cli_resource
from orchestration.lib.resources import ChannelsResource, WarehouseResource
from orchestration.settings import load_settings


@dg.definitions
def resources() -> dg.Definitions:
    settings = load_settings()
    return dg.Definitions(
        resources={
            "warehouse": WarehouseResource(path=str(settings.warehouse), timezone=settings.timezone),
            "dbt": dbt_cli_resource(),
            "channels": ChannelsResource(
                mode=dg.EnvVar("DANGOL_CHANNELS").get_value("outbox") or "outbox",
                outbox_dir=str(settings.outbox_dir),
                ledger_path=str(settings.ledger),
            ),
            "clock": ClockResource(timezone=settings.timezone),
        }
    )
