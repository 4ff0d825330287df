"""Delivery at hand-off, through the real CLI, Dagster (in-process runs on a real instance, the real sensor)
and a real DuckDB warehouse, with the shop's clock fixed.

One nightly run plans the designed shop of test_campaigns_e2e (eight campaigns, one customer each) at
02:00 on D+1, as the schedule does; each test then works on its own copy of that warehouse and ledger.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from channels.tracking.tokens import DEV_KEYS
from orchestration.campaigns.links import DEFAULT_TRACK_URL
from orchestration.definitions import defs
from orchestration.defs.campaigns.send_lists import send_lists
from orchestration.lib.clock import ClockResource
from orchestration.lib.resources import ChannelsResource, ShopDataResource, TrackingResource, WarehouseResource
from tests.conftest import ShopEnv
from tests.integration.test_campaigns_e2e import D

NEXT = D + timedelta(days=1)
# When each campaign of the designed shop is planned for on D+1 (shop time): daily_at, or the event-based
# ones at planning (02:00) and the night-deferred SMS ad at 08:00.
DUE = {
    "referral_offer": "02:00",
    "help_offer": "08:00",
    "repurchase_reminder": "10:00",
    "consent_reconfirmation": "10:00",
    "consent_change_notice": "10:00",  # two customers
    "vip_note": "11:00",
    "welcome_coupon": "11:00",
    "signup_benefit": "12:00",
    "win_back": "19:00",
}
PLANNED = len(DUE) + 1  # planned sends (consent_change_notice has two)


@dataclass
class Shop:
    """One test's copy of the planned warehouse, with the resources and instance its runs use."""

    root: Path
    instance: dg.DagsterInstance

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "dangol.duckdb"

    def resources(self, clock: str) -> dict[str, object]:
        return {
            "warehouse": WarehouseResource(path=str(self.warehouse)),
            "channels": ChannelsResource(
                mode="outbox",
                outbox_dir=str(self.root / "warehouse" / "outbox"),
                ledger_path=str(self.root / "warehouse" / "ledger.sqlite"),
            ),
            "shop_data": ShopDataResource(data_dir=str(self.root / "shop")),
            "clock": ClockResource(frozen_at=clock),
        }

    def run(
        self, job: str, clock: str, config: dict | None = None, tags: dict | None = None
    ) -> dg.ExecuteInProcessResult:
        # Resources through the run config, as a launchpad would: a job subset cannot take resource objects.
        resources = {key: {"config": resource.model_dump()} for key, resource in self.resources(clock).items()}
        run_config = {"resources": resources} | ({"ops": {"deliveries": {"config": config}}} if config else {})
        return (
            defs()
            .resolve_job_def(job)
            .execute_in_process(
                partition_key=D.isoformat(),
                instance=self.instance,
                run_config=run_config,
                tags=tags,
                raise_on_error=False,
                asset_selection=[dg.AssetKey(["deliveries"])] if job == "nightly" else None,
            )
        )

    def outbox(self) -> dict[str, dict]:
        path = self.root / "warehouse" / "outbox" / "outbox.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return {m["campaign_id"]: m for m in map(json.loads, lines)}

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


@pytest.fixture
def shop(planned_night: ShopEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shop]:
    shutil.copytree(planned_night.root / "warehouse", tmp_path / "warehouse")
    # The hand-off reloads the shop's consents file when it changed: this test's own copy.
    shutil.copytree(planned_night.root / "shop", tmp_path / "shop")
    monkeypatch.setenv("DANGOL_DATA_DIR", str(tmp_path / "shop"))
    with dg.instance_for_test() as instance:
        yield Shop(tmp_path, instance)


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (materialization,) = result.asset_materializations_for_node("deliveries")
    return {k: v.value for k, v in materialization.metadata.items()}


def test_the_nightly_run_plans_for_the_campaigns_times_and_hands_off_only_what_is_due(
    planned_night: ShopEnv,
) -> None:
    with duckdb.connect(str(planned_night.warehouse), read_only=True) as con:
        planned = dict(
            con.execute("select campaign_id, strftime(scheduled_at, '%H:%M') from sends.fct_planned_sends").fetchall()
        )
        dates = {d for (d,) in con.execute("select distinct scheduled_date from sends.fct_planned_sends").fetchall()}
        handed = con.execute("select campaign_id, state from sends.deliveries").fetchall()
    assert planned == DUE
    assert dates == {NEXT}
    assert handed == [("referral_offer", "accepted")]  # the event email due at 02:00; the rest wait


def test_the_due_sends_sensor_hands_each_send_off_at_its_time(shop: Shop) -> None:
    sensor = defs().resolve_sensor_def("due_sends")

    def tick(clock: str) -> list[dg.RunRequest]:
        context = dg.build_sensor_context(instance=shop.instance, resources=shop.resources(clock))
        answer = sensor(context)
        return [] if isinstance(answer, dg.SkipReason) else list(answer)

    assert tick(f"{NEXT} 07:59") == []  # the 08:00 SMS ad is not due (and it is still night)
    (request,) = tick(f"{NEXT} 08:00")
    assert request.partition_key == D.isoformat() and request.job_name in (None, "deliver")
    assert request.run_config == {"ops": {"deliveries": {"config": {"mode": "SEND"}}}}

    for clock, campaigns in [
        ("09:59", {"referral_offer", "help_offer"}),
        (
            "10:00",
            {"referral_offer", "help_offer", "repurchase_reminder", "consent_reconfirmation", "consent_change_notice"},
        ),
        ("11:00", set(DUE) - {"signup_benefit", "win_back"}),
        ("12:00", set(DUE) - {"win_back"}),
        ("18:59", set(DUE) - {"win_back"}),
        ("19:00", set(DUE)),
    ]:
        moment = f"{NEXT} {clock}"
        for request in tick(moment):
            assert shop.run("deliver", moment, request.run_config["ops"]["deliveries"]["config"]).success
        assert set(shop.outbox()) == campaigns, clock
    assert tick(f"{NEXT} 19:05") == []  # everything handed off: no more runs
    states = shop.query("select state, count(*) from sends.deliveries group by 1")
    assert states == [("accepted", PLANNED)]


def test_a_plan_that_failed_its_checks_is_never_delivered_by_any_job(shop: Shop) -> None:
    # An ad whose legal form was lost after the plan was checked (or a plan whose checks failed at 02:00).
    with duckdb.connect(str(shop.warehouse)) as con:
        con.execute(
            "update sends.fct_planned_sends set subject = replace(subject, '(광고) ', ''),"
            " body = replace(body, '(광고)', '') where campaign_id = 'vip_note'"
        )
    for job in ("deliver", "nightly"):
        result = shop.run(job, f"{NEXT} 12:00", {"mode": "SEND"})
        assert result.success, job
        assert _metadata(result)["blocked_by_checks"] == PLANNED - 1, job
    assert set(shop.outbox()) == {"referral_offer"}  # handed off at 02:00; nothing after the plan broke
    decisions = dict(shop.query("select campaign_id, decision from sends.fct_send_decisions"))
    assert decisions == {c: "blocked" for c in DUE} | {"referral_offer": "planned"}
    (detail,) = shop.query("select detail from sends.fct_send_decisions where campaign_id = 'vip_note'")[0]
    assert "legal_ad_form_present" in detail


def test_backfills_plan_only_and_stale_sends_expire_unless_someone_asks(shop: Shop) -> None:
    # Three days late: a backfill (the dialog cannot attach config) plans only and records them expired.
    late = f"{D + timedelta(days=3)} 10:00"
    result = shop.run("deliver", late, tags={"dagster/backfill": "test"})
    assert result.success and _metadata(result)["mode"] == "plan"
    assert set(shop.outbox()) == {"referral_offer"}  # handed off at 02:00 by the nightly run
    # Asked to send, without an opt-in: still expired, never sent.
    result = shop.run("deliver", late, {"mode": "SEND"})
    assert _metadata(result)["expired"] == PLANNED - 1 and set(shop.outbox()) == {"referral_offer"}
    decisions = shop.query(
        "select decision, policy_step, detail from sends.fct_send_decisions where campaign_id = 'welcome_coupon'"
    )
    assert decisions[0][:2] == ("expired", "delivery")
    assert "scheduled 2025-06-16 11:00, 47.0 h before the hand-off at 2025-06-18 10:00" in decisions[0][2]

    # The explicit, typed opt-in with a maximum age delivers them, and the run records who asked.
    opt_in = {"mode": "SEND", "deliver_past": {"max_age_hours": 72, "requested_by": "kim.mkt", "note": "outage"}}
    result = shop.run("deliver", late, opt_in)
    assert result.success and _metadata(result)["requested_by"] == "kim.mkt"
    assert set(shop.outbox()) == set(DUE)
    assert ("kim.mkt", 72.0) in shop.query("select requested_by, max_age_hours from sends.delivery_runs")
    assert shop.query("select count(*) from sends.fct_send_decisions where decision = 'expired'") == [(0,)]


def test_explain_shows_an_expired_send_and_why(shop: Shop, tmp_path: Path) -> None:
    shop.run("deliver", f"{D + timedelta(days=2)} 09:00", {"mode": "SEND"})
    env = ShopEnv(tmp_path)
    why = env.dangol("explain", "--customer", "w01", "--campaign", "welcome_coupon", "--date", D.isoformat())
    assert "NOT SENT: expired at hand-off, scheduled 2025-06-16 11:00" in why.stdout
    assert "catch-up window of 4.0 h" in why.stdout and "deliver_past" in why.stdout


def test_a_withdrawal_after_the_plan_wins_at_hand_off(shop: Shop) -> None:
    """r01 withdraws email ad consent at 09:00 on D+1, after the 02:00 plan: the 10:00 reminder is not sent.
    The consents file is reloaded because it changed; the eligibility model decides, as for the plan."""
    consents = shop.root / "shop" / "consents.csv"
    consents.write_text(
        consents.read_text(encoding="utf-8") + f"r01,email,ad,false,{NEXT} 09:00,unsubscribe_link\n", encoding="utf-8"
    )
    result = shop.run("deliver", f"{NEXT} 10:00", {"mode": "SEND"})
    assert result.success and _metadata(result)["withheld_consent_changed"] == 1
    assert set(shop.outbox()) == {"referral_offer", "help_offer", "consent_reconfirmation", "consent_change_notice"}
    ((decision, detail),) = shop.query(
        "select decision, detail from sends.fct_send_decisions where campaign_id = 'repurchase_reminder'"
    )
    assert decision == "withheld" and "consent_withdrawn" in detail and f"{NEXT} 09:00" in detail


def test_a_send_list_for_a_day_whose_audience_was_never_built_fails_naming_the_day(shop: Shop) -> None:
    send_list = next(a for a in send_lists if a.key == dg.AssetKey(["send_list", "win_back"]))
    day = date(2025, 6, 10)
    result = dg.materialize(
        [send_list],
        partition_key=day.isoformat(),
        instance=shop.instance,
        resources={
            "warehouse": WarehouseResource(path=str(shop.warehouse)),
            "tracking": TrackingResource(base_url=DEFAULT_TRACK_URL, signing_keys=DEV_KEYS),
        },
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "marts.fct_audience_win_back was never built for 2025-06-10" in message
