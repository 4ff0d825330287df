"""The eight campaigns on the generated demo shop (5,000 customers, two years), one run over a week as a
backfill does it. Slow (a few minutes): `pytest -m slow tests/integration/test_campaigns_demo.py`."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, ShopEnv

FIRST, LAST = date(2025, 6, 9), date(2025, 6, 15)
# What one run over a window of days is: the backfill policy's single run, with the range as tags.
WINDOW_RUN = """
import sys
import dagster as dg
from orchestration.cli import ensure_dagster_home
ensure_dagster_home()
from orchestration.lib.dbt import prepare_manifest
prepare_manifest()
from orchestration.definitions import defs
job = defs().resolve_job_def("nightly")
with dg.DagsterInstance.get() as instance:
    result = job.execute_in_process(
        instance=instance,
        tags={"dagster/asset_partition_range_start": sys.argv[1], "dagster/asset_partition_range_end": sys.argv[2]},
        raise_on_error=False,
    )
sys.exit(0 if result.success else 1)
"""


@pytest.mark.slow
def test_the_demo_shop_gets_every_campaign(shop_env: ShopEnv) -> None:
    data = shop_env.root / "shop"
    shop_env.dangol(
        "generate", "--customers", "5000", "--days", "730", "--end-date", LAST.isoformat(), "--out", str(data)
    )
    run = subprocess.run(
        [sys.executable, "-c", WINDOW_RUN, FIRST.isoformat(), LAST.isoformat()],
        env=shop_env.env | {"DANGOL_DATA_DIR": str(data)},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    with duckdb.connect(str(shop_env.warehouse), read_only=True) as con:
        planned = dict(
            con.execute(
                "select campaign_id, count(*) from sends.fct_planned_sends where state = 'scheduled' group by 1"
            ).fetchall()
        )
        leads = con.execute("select count(*) from staging.stg_shop__customers where signed_up_at is null").fetchone()[0]
        # Who each campaign planned for: leads (no sign-up) or signed-up customers.
        planned_leads = dict(
            con.execute(
                "select campaign_id, count(*) filter (where customers.signed_up_at is null)"
                " from sends.fct_planned_sends join staging.stg_shop__customers as customers using (customer_id)"
                " where state = 'scheduled' group by 1"
            ).fetchall()
        )
        delivered = con.execute("select count(*) from sends.deliveries where state = 'accepted'").fetchone()[0]
        expired = con.execute("select count(*) from sends.fct_send_decisions where decision = 'expired'").fetchone()[0]
        reasons = dict(
            con.execute(
                "select reason, count(*) from sends.fct_send_decisions where decision = 'excluded' group by 1"
            ).fetchall()
        )
    # The demo shop has leads (contacts from paid ads who never signed up): the sign-up benefit reaches
    # only them, and the welcome coupon (sign-ups who have not bought) never does.
    assert leads > 0
    for campaign in (
        "repurchase_reminder",
        "welcome_coupon",
        "help_offer",
        "win_back",
        "referral_offer",
        "vip_note",
        "consent_reconfirmation",
        "signup_benefit",
    ):
        assert planned.get(campaign, 0) > 0, (campaign, planned)
    assert planned_leads["signup_benefit"] == planned["signup_benefit"]
    assert planned_leads["welcome_coupon"] == 0
    # A run over a window is a backfill: it plans only, and its sends, a year and more past their time, expired.
    assert delivered == 0
    assert expired == sum(planned.values())
    assert {"no_consent", "control_group", "holdout"} <= set(reasons)
