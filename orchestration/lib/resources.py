"""Resources own all outside I/O: the warehouse file and the delivery channels."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.campaigns.links import Tracking
from orchestration.lib.warehouse import connect, warehouse_lock


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


class ChannelsResource(dg.ConfigurableResource):
    """Where delivery goes: the embedded outbox by default; provider settings come from the environment."""

    mode: str = "outbox"  # outbox | fake | live
    outbox_dir: str
    ledger_path: str


class TrackingResource(dg.ConfigurableResource):
    """Where tracked links point and the keys that sign them (a secret: set DANGOL_TRACKING_KEYS)."""

    base_url: str
    signing_keys: str

    def tracking(self) -> Tracking:
        return Tracking.of(self.base_url, self.signing_keys)
