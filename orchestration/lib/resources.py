"""Resources own all outside I/O: the warehouse file, the shop's export folder and the delivery channels.

Their values are the run's settings: the definitions give the environment's (`orchestration.settings`)
as defaults, and a run may set others in its run config (the CLI's `--data-dir`, `--channels`), so
nothing changes the process environment to configure a run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import duckdb

from orchestration.campaigns.links import Tracking
from orchestration.lib.warehouse import connect, warehouse_lock

if TYPE_CHECKING:
    from channels.base import Adapter
    from channels.ledger import Ledger
    from channels.models import Channel


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse, always opened under the cross-process writer lock."""

    path: str
    timezone: str = "Asia/Seoul"

    @property
    def file(self) -> Path:
        return Path(self.path)

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.file, timezone=self.timezone) as con:
            yield con

    @contextmanager
    def read(self, timeout: float = 3600.0) -> Iterator[duckdb.DuckDBPyConnection]:
        """A shared read; a sensor passes a short `timeout` rather than wait for a writing run."""
        with connect(self.file, read_only=True, timezone=self.timezone, timeout=timeout) as con:
            yield con

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the writer lock while another process (dbt) writes the file."""
        with warehouse_lock(self.file):
            yield


class ShopDataResource(dg.ConfigurableResource):
    """The folder of the shop's exports (customers, orders, events, consents as CSV) the run reads."""

    data_dir: str

    @property
    def folder(self) -> Path:
        return Path(self.data_dir)


class ChannelsResource(dg.ConfigurableResource):
    """Where delivery goes: the embedded outbox by default; provider settings come from the environment.

    Assets get the delivery ledger and each channel's adapter from here, never build them."""

    mode: str = "outbox"  # outbox | fake | live
    outbox_dir: str
    ledger_path: str

    @property
    def ledger_file(self) -> Path:
        return Path(self.ledger_path)

    def ledger(self) -> Ledger:
        """The delivery ledger (use it as a context manager)."""
        from channels.ledger import Ledger

        return Ledger(self.ledger_path)

    def adapter(self, channel: Channel) -> Adapter:
        """The adapter for one channel under this mode (use it as a context manager)."""
        from orchestration.lib.channels import open_adapter

        return open_adapter(self, channel)


class TrackingResource(dg.ConfigurableResource):
    """Where tracked links point and the keys that sign them (a secret: set DANGOL_TRACKING_KEYS)."""

    base_url: str
    signing_keys: str

    def tracking(self) -> Tracking:
        return Tracking.of(self.base_url, self.signing_keys)
