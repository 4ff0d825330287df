"""The model settings marketers tune, read from the one place they live: dbt_project.yml `vars`.

dbt models and Python models must agree on thresholds (e.g. the prediction horizon), so Python reads the
same block instead of keeping a second copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from orchestration.settings import PROJECT_ROOT

DBT_PROJECT_FILE = PROJECT_ROOT / "dbt_project" / "dbt_project.yml"


class TimeUnit(StrEnum):
    DAY = "day"
    WEEK = "week"

    @property
    def days(self) -> int:
        return 7 if self is TimeUnit.WEEK else 1


@dataclass(frozen=True)
class BgNbdConfig:
    time_unit: TimeUnit = TimeUnit.WEEK
    horizon_days: int = 90  # fixed: the column is expected_purchases_90d
    min_customers: int = 20


@cache
def dbt_vars(path: Path = DBT_PROJECT_FILE) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")).get("vars") or {})


def bgnbd_config(path: Path = DBT_PROJECT_FILE) -> BgNbdConfig:
    values = dbt_vars(path)
    default = BgNbdConfig()
    return BgNbdConfig(
        time_unit=TimeUnit(values.get("bgnbd_time_unit", default.time_unit)),
        min_customers=int(values.get("bgnbd_min_customers", default.min_customers)),
    )
