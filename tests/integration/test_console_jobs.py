"""What a marketer launches from the UI, run as the launchpad runs it (run config, a real instance, a real
warehouse): answering a held send list (approve_send_list) and a test send (test_send).

Each test works on a copy of the planned night of the designed shop (tests/integration/conftest.py).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from channels.ledger import Ledger
from channels.tracking.tokens import DEV_KEYS, Signer, parse_keys
from orchestration.campaigns.explain import explain
from orchestration.campaigns.spec import CAMPAIGNS_DIR, load_campaigns
from orchestration.definitions import defs
from orchestration.lib.warehouse import connect
from tests.integration import test_handoff_runs
from tests.integration.test_campaigns_e2e import D
from tests.integration.test_handoff_runs import NEXT, Shop

shop = test_handoff_runs.shop  # the fixture: a copy of the planned night per test


def _run(shop: Shop, job: str, clock: str, ops: dict[str, Any]) -> dg.ExecuteInProcessResult:
    """A launch of `job` for day D with the launchpad's run config."""
    resources = {key: {"config": resource.model_dump()} for key, resource in shop.resources(clock).items()}
    return (
        defs()
        .resolve_job_def(job)
        .execute_in_process(
            partition_key=D.isoformat(),
            instance=shop.instance,
            run_config={"resources": resources, "ops": ops},
            raise_on_error=False,
        )
    )


@pytest.fixture
def strict_guard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped campaigns under a guard that holds every list above 1% of the customers (all of them)."""
    folder = tmp_path / "campaigns"
    shutil.copytree(CAMPAIGNS_DIR, folder)
    policy = yaml.safe_load((folder / "_policy.yaml").read_text(encoding="utf-8"))
    policy["guard"].update(min_count=0, max_share=0.01)
    (folder / "_policy.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    monkeypatch.setenv("DANGOL_CAMPAIGNS_DIR", str(folder))


def test_a_held_list_is_answered_by_its_job_and_goes_out_at_its_time(shop: Shop, strict_guard: None) -> None:
    """Under the strict guard every list of the day is held; the job approves one of them, in one run."""
    unanswered = _run(shop, "approve_send_list", f"{NEXT} 09:30", {})
    assert not unanswered.success  # the job without an answer changes nothing

    answer = {"campaign": "repurchase_reminder", "decision": "APPROVE", "decided_by": "Kim Marketer", "note": "ok"}
    approved = _run(shop, "approve_send_list", f"{NEXT} 10:00", {"send_plan": {"config": {"answer": answer}}})
    assert approved.success
    assert shop.outbox()["repurchase_reminder"]["customer_id"] == "r01"  # due at 10:00: delivered by the job
    assert "win_back" not in shop.outbox()  # still held
    decisions = dict(shop.query("select campaign_id, decision from sends.fct_send_decisions where as_of_date = ?", [D]))
    assert decisions["repurchase_reminder"] == "planned" and decisions["win_back"] == "held_for_approval"
    assert shop.query("select decided_by, decision from sends.approvals") == [("Kim Marketer", "approved")]
    with connect(shop.warehouse, read_only=True) as con:
        why = explain(con, "r01", "repurchase_reminder", D)
    assert "approved by Kim Marketer at 2025-06-16 10:00: ok" in why and "SENT (planned)" in why
    # Each campaign's report of the day: its figures, and how the rerun changed its list since the night.
    reports = {
        e.asset_key.path[-1]: {k: v.value for k, v in e.materialization.metadata.items()}
        for e in approved.get_asset_materialization_events()
        if e.asset_key and e.asset_key.path[0] == "reports"
    }
    assert "repurchase_reminder_report" in reports, [e.asset_key for e in approved.get_asset_materialization_events()]
    reminder, back = reports["repurchase_reminder_report"], reports["win_back_report"]
    assert (reminder["audience"], reminder["scheduled_email"], reminder["handed_off"]) == (1, 1, 1)
    assert reminder["estimated_cost_krw"] == 1.0 and "email (email)" in reminder["preview"]
    assert (reminder["added_since_last_run"], reminder["removed_since_last_run"]) == (0, 0)
    assert (back["held_for_approval"], back["removed_since_last_run"]) == (1, 1)  # held now: not going out
    assert back["change_examples_masked"]["removed"][0].startswith("b01 email b")
    # The hold that is left points to the job, with the config that answers it.
    guard = next(e for e in approved.get_asset_check_evaluations() if e.check_name == "audience_guard")
    assert not guard.passed and guard.metadata["approve_job"].value == "approve_send_list"
    how = guard.metadata["how_to_release"].value
    assert "campaign: win_back" in how and f"partition `{D}`" in how and "campaign: repurchase_reminder" not in how


RECIPIENTS = [
    {"name": "qa-kim", "channel": "EMAIL", "address": "qa.kim@team.example"},
    {"name": "qa-kim", "channel": "SMS", "address": "01099990001"},
]


def test_a_test_send_goes_to_the_team_marked_as_a_test_and_never_to_a_customer(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The link store sits beside the warehouse (settings): this test's copy, whatever an earlier run set.
    monkeypatch.setenv("DANGOL_WAREHOUSE", str(shop.warehouse))
    before = shop.query("select count(*) from sends.deliveries")
    config = {"campaign": "vip_note", "recipients": RECIPIENTS, "messages_per_channel": 1}
    result = _run(shop, "test_send", f"{NEXT} 09:00", {"send_test_messages": {"config": config}})
    assert result.success
    lines = (shop.root / "warehouse" / "outbox" / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    tests = [m for m in map(json.loads, lines) if m["key"].startswith("test:")]
    assert {(m["channel"], m["address"]) for m in tests} == {("email", "qa.kim@team.example"), ("sms", "01099990001")}
    assert all(m["campaign_id"] == "vip_note" and m["customer_id"] == "test:qa-kim" for m in tests)
    # The real copy, but no tracked link names a customer's send: a tester's click reaches no one's record.
    signer = Signer(parse_keys(DEV_KEYS))
    email = next(m for m in tests if m["channel"] == "email")
    for token in re.findall(r"/[cou]/([\w-]+\.[\w-]+\.[\w-]+)", json.dumps(email, ensure_ascii=False)):
        parsed = signer.verify(token)
        assert parsed is not None and parsed.send_key.startswith("test:")
    assert "utm_campaign=vip_note" in email["body"]  # the click goes straight to the planned target
    with Ledger(shop.root / "warehouse" / "ledger.sqlite") as ledger:
        rows = ledger.rows(keys=[m["key"] for m in tests])
    assert {r.customer_id for r in rows} == {"test:qa-kim"}
    assert shop.query("select count(*) from sends.deliveries") == before  # never in the delivery record

    customer = shop.query(
        "select address from intermediate.int_customer_eligibility_daily where channel = 'email' limit 1"
    )[0][0]
    to_customer = {**config, "recipients": [{"name": "oops", "channel": "EMAIL", "address": customer}]}
    refused = _run(shop, "test_send", f"{NEXT} 09:05", {"send_test_messages": {"config": to_customer}})
    assert not refused.success
    failure = next(e for e in refused.all_events if e.is_step_failure)
    assert "is a customer's email address" in failure.step_failure_data.error.message
    assert customer not in (shop.root / "warehouse" / "outbox" / "outbox.jsonl").read_text(encoding="utf-8")


def load_campaign(campaign_id: str):
    return {s.id: s for s in load_campaigns()}[campaign_id]


def test_the_explain_job_answers_as_dangol_explain_does(shop: Shop) -> None:
    config = {"customer_id": "h01", "campaign": "help_offer"}
    result = _run(shop, "explain_customer", f"{NEXT} 09:00", {"explain_decision": {"config": config}})
    assert result.success
    answer = result.output_for_node("explain_decision")
    with connect(shop.warehouse, read_only=True) as con:
        assert answer == explain(con, "h01", load_campaign("help_offer"), D)
    assert "SENT (planned): sms to 010-****-0003" in answer  # masked
    (event,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    assert "deferred to 2025-06-16 08:00" in event.step_output_data.metadata["why"].value
