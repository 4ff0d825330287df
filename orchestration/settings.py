"""Where things live and how the shop is configured; every value can be overridden by the environment.

Read once per process. Relative paths are relative to the project root, so the CLI, `dagster dev`
and the tests agree on the same warehouse without a shell `cd`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What one DuckDB process (the loader, the planner, each dbt call) may take; dbt's profile reads the
# same two variables, which the project exports before it starts dbt (orchestration/lib/dbt.py).
DUCKDB_MEMORY_LIMIT = "2GB"
DUCKDB_THREADS = 2


def _path(var: str, default: str) -> Path:
    path = Path(os.environ.get(var, default)).expanduser()
    return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()


@dataclass(frozen=True)
class Settings:
    warehouse: Path
    data_dir: Path
    outbox_dir: Path
    ledger: Path
    tracking_dir: Path  # dangol track's event log (events/) and the planned links (links.sqlite)
    timezone: str
    currency: str
    start_date: date
    nightly_hour: int
    # DuckDB's own default takes 80% of the machine's memory and every core; the warehouse shares both.
    duckdb_memory_limit: str = DUCKDB_MEMORY_LIMIT
    duckdb_threads: int = DUCKDB_THREADS

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def event_log(self) -> Path:
        return self.tracking_dir / "events"

    @property
    def link_store(self) -> Path:
        return self.tracking_dir / "links.sqlite"


def load_settings() -> Settings:
    """The shop's configuration from `DANGOL_*` environment variables."""
    warehouse = _path("DANGOL_WAREHOUSE", "warehouse/dangol.duckdb")
    return Settings(
        warehouse=warehouse,
        data_dir=_path("DANGOL_DATA_DIR", "demo_data"),
        outbox_dir=_path("DANGOL_OUTBOX_DIR", str(warehouse.parent / "outbox")),
        ledger=_path("DANGOL_LEDGER", str(warehouse.parent / "ledger.sqlite")),
        tracking_dir=_path("DANGOL_TRACKING_DIR", str(warehouse.parent / "tracking")),
        timezone=os.environ.get("DANGOL_TIMEZONE", "Asia/Seoul"),
        currency=os.environ.get("DANGOL_CURRENCY", "KRW"),
        start_date=date.fromisoformat(os.environ.get("DANGOL_START_DATE", "2024-01-01")),
        nightly_hour=int(os.environ.get("DANGOL_NIGHTLY_HOUR", "2")),
        duckdb_memory_limit=os.environ.get("DANGOL_DUCKDB_MEMORY_LIMIT", DUCKDB_MEMORY_LIMIT),
        duckdb_threads=int(os.environ.get("DANGOL_DUCKDB_THREADS", str(DUCKDB_THREADS))),
    )
