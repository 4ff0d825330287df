"""Tests here need the parsed dbt manifest; the planned night is shared by the modules that copy it."""

from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import ShopEnv


@pytest.fixture(autouse=True)
def _parsed_dbt(dbt_manifest: Path) -> None:
    """These tests load the Dagster definitions or run dbt: the manifest must be parsed first."""


@pytest.fixture(scope="session")
def planned_night(tmp_path_factory: pytest.TempPathFactory) -> ShopEnv:
    """The nightly run for D of the designed shop (test_campaigns_e2e), through the CLI, at 02:00 on D+1: it
    plans, and hands off what is due then. Once per session: tests work on copies of it."""
    from tests.integration.test_campaigns_e2e import D, write_shop

    env = ShopEnv(tmp_path_factory.mktemp("planned"))
    write_shop(env.root / "shop")
    at = f"{D + timedelta(days=1)} 02:00"
    env.dangol("run", "--date", D.isoformat(), "--data-dir", str(env.root / "shop"), "--at", at)
    return env
