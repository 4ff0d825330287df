"""Tests here need the parsed dbt manifest; the planned night is shared by the modules that copy it."""

from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import ShopEnv, built_once


@pytest.fixture(autouse=True)
def _parsed_dbt(dbt_manifest: Path) -> None:
    """These tests load the Dagster definitions or run dbt: the manifest must be parsed first."""


@pytest.fixture(scope="session")
def planned_night(tmp_path_factory: pytest.TempPathFactory) -> ShopEnv:
    """The nightly run for D of the designed shop (test_campaigns_e2e), through the CLI, at 02:00 on D+1: it
    plans, and hands off what is due then. Once per test run: tests work on copies of it."""
    from tests.integration.test_campaigns_e2e import D, write_shop

    def build(root: Path) -> None:
        env = ShopEnv(root)
        write_shop(root / "shop")
        at = f"{D + timedelta(days=1)} 02:00"
        env.dangol("run", "--date", D.isoformat(), "--data-dir", str(root / "shop"), "--at", at)

    return ShopEnv(built_once(tmp_path_factory, "planned_night", build))


@pytest.fixture
def designed(shop_env: ShopEnv) -> tuple[ShopEnv, Path, dict[str, str]]:
    """The nightly run's designed shop (tests/integration/test_nightly_run.py), its folder and who must be
    reminded on which channel; shared by the tests of that day."""
    from tests.integration.test_nightly_run import measured_out, write_designed_shop

    data = shop_env.root / "shop"
    return shop_env, data, {c: ch for c, ch in write_designed_shop(data).items() if not measured_out(c)}
