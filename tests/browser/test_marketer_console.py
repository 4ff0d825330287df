"""What a marketer does in the Dagster UI, in a real browser: backfill the campaigns over three past days
(a backfill plans, it never delivers), find the send lists, see the list the audience guard held and
approve it with its job, and test-send a campaign's real messages to the team; and what a data engineer
does: add a dbt model and see it after "Reload definitions", without a restart.

One flow on one shop (the steps build on each other); every step keeps a screenshot in
test-artifacts/browser/ (ignored by git). The README's are copied from there to docs/img/ by hand, after
looking at them: 02 -> backfill-three-days, 04 -> send-list, 05-approve-launchpad -> approve-launchpad,
06-test-send-run -> test-send-run."""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta

import duckdb
from playwright.sync_api import Page, expect

from channels.ledger import Ledger
from tests.browser.conftest import Console, screenshot
from tests.integration.test_campaigns_e2e import D

FIRST, LAST = D - timedelta(days=2), D
# A run over three days on two loaded cores: ~4 min seen at load 8; wait up to 15.
BACKFILL_TIMEOUT_MS = 15 * 60_000


def _backfill_three_days(page: Page, console: Console) -> None:
    page.goto(f"{console.url}/locations/dangol/jobs/nightly")
    expect(page.get_by_role("button", name="Materialize all…")).to_be_visible()
    screenshot(page, "01-nightly-job")
    page.get_by_role("button", name="Materialize all…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Show all partitions").click()  # the designed shop's days are older than 90 days
    partitions = dialog.locator("input[type=text]").first
    partitions.fill(f"[{FIRST}...{LAST}]")
    partitions.press("Enter")
    expect(dialog.get_by_text("3 partitions")).to_be_visible()
    screenshot(page, "02-backfill-three-days")
    dialog.get_by_role("button", name="Launch backfill").click()
    toast = page.get_by_text(re.compile(r"Created backfill \w+"))
    expect(toast).to_be_visible()
    backfill_id = toast.inner_text().split()[-1]
    page.goto(f"{console.url}/runs/b/{backfill_id}?tab=runs")
    expect(page.get_by_text("3 partitions")).to_be_visible()
    # The page refreshes itself; the marketer waits for the status to turn.
    expect(page.get_by_text("Succeeded", exact=True).first).to_be_visible(timeout=BACKFILL_TIMEOUT_MS)
    screenshot(page, "03-backfill-succeeded")


# A run launched from the launchpad: queued, started by the daemon, then one plan and delivery (~1 min).
RUN_TIMEOUT_MS = 8 * 60_000
APPROVAL = """ops:
  send_plan:
    config:
      answer:
        campaign: vip_blast
        decision: APPROVE
        decided_by: Kim Marketer
        note: checked the list
"""
TEST_SEND = """ops:
  send_test_messages:
    config:
      campaign: vip_note
      recipients:
        - name: qa-kim
          channel: EMAIL
          address: qa.kim@team.example
      messages_per_channel: 1
"""


def _launch(page: Page, console: Console, job: str, day: str, config: str, name: str) -> None:
    """Open the job's launchpad, pick the day, add the run config below the prefilled resources, launch,
    and wait on the run's page for it to finish."""
    page.goto(f"{console.url}/locations/dangol/jobs/{job}/playground")
    partition = page.get_by_placeholder("Partition")
    partition.click()
    partition.fill(day)
    partition.press("Enter")
    expect(page.get_by_text(f"partition: {day}")).to_be_visible()
    # The editor comes prefilled with the defaults (resources, some ops config): the marketer's config replaces
    # them (the resources keep their defaults unsaid), typed as is, without the editor's auto-indent.
    page.locator(".CodeMirror").first.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(config)
    launch = page.get_by_role("button", name="Launch Run")
    expect(launch).to_be_enabled()
    expect(page.get_by_text("No errors")).to_be_visible()
    screenshot(page, f"{name}-launchpad")
    launch.click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}"))
    finished = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$")).first
    expect(finished).to_be_visible(timeout=RUN_TIMEOUT_MS)
    screenshot(page, f"{name}-run")
    assert finished.inner_text() == "Success", f"the {job} run ended {finished.inner_text()}: {page.url}"


def _approve_the_held_list(page: Page, console: Console) -> None:
    page.goto(f"{console.url}/assets/send_list/vip_blast?view=checks")
    _launch(page, console, "approve_send_list", str(LAST), APPROVAL, "05-approve")
    with duckdb.connect(str(console.shop.warehouse), read_only=True) as con:
        answers = con.execute("select campaign_id, decided_by, decision from sends.approvals").fetchall()
        state = con.execute(
            "select guard_state from sends.campaign_days where campaign_id = 'vip_blast' and as_of_date = ?", [LAST]
        ).fetchone()
        held = con.execute(
            "select count(*) from sends.fct_send_decisions where campaign_id = 'vip_blast' and as_of_date = ?"
            " and decision = 'held_for_approval'",
            [LAST],
        ).fetchone()
    assert answers == [("vip_blast", "Kim Marketer", "approved")]
    assert state == ("approved",) and held == (0,)


def _test_send(page: Page, console: Console) -> None:
    _launch(page, console, "test_send", str(LAST), TEST_SEND, "06-test-send")
    with Ledger(console.shop.ledger) as ledger:
        rows = [r for r in ledger.rows() if r.customer_id == "test:qa-kim"]
    assert rows and all(r.key.startswith("test:") for r in rows)
    with duckdb.connect(str(console.shop.warehouse), read_only=True) as con:
        delivered = con.execute("select count(*) from sends.deliveries where state = 'sent'").fetchone()
    assert delivered == (0,)  # the test is in the ledger, never in the delivery record


PROBE_SQL = "select customer_id, as_of_date from {{ ref('dim_customers') }}\n"
PROBE_YML = """version: 2
models:
  - name: fct_reload_probe
    description: Added while the UI was open; shown after Reload definitions.
"""


def _reload_shows_an_edited_model(page: Page, console: Console) -> None:
    page.goto(f"{console.url}/asset-groups")
    expect(page.get_by_role("button", name="Reload definitions")).to_be_visible()
    screenshot(page, "10-lineage")
    models = console.dbt_project / "models" / "marts"
    (models / "fct_reload_probe.sql").write_text(PROBE_SQL, encoding="utf-8")
    (models / "_reload_probe.yml").write_text(PROBE_YML, encoding="utf-8")
    page.get_by_role("button", name="Reload definitions").click()
    # The new code server parses the edited project before it serves (the manifest is out of date).
    described = page.get_by_text("Added while the UI was open; shown after Reload definitions.").first
    for _ in range(30):  # up to ~5 minutes on a loaded machine
        page.goto(f"{console.url}/assets/marts/fct_reload_probe")
        try:
            expect(described).to_be_visible(timeout=10_000)
            break
        except AssertionError:
            continue
    expect(described).to_be_visible()
    screenshot(page, "11-reloaded-model")


def test_the_console_in_a_real_browser(page: Page, console: Console) -> None:
    _backfill_three_days(page, console)

    with duckdb.connect(str(console.shop.warehouse), read_only=True) as con:
        listed = dict(
            con.execute(
                "select as_of_date, count(*) from sends.send_lists where campaign_id = 'win_back' group by 1"
            ).fetchall()
        )
        runs = con.execute("select first_day, last_day, mode from sends.delivery_runs").fetchall()
        handed = dict(con.execute("select state, count(*) from sends.deliveries group by 1").fetchall())
        guard = dict(
            con.execute(
                "select campaign_id, guard_state from sends.campaign_days where as_of_date = ?", [LAST]
            ).fetchall()
        )
    assert set(listed) == {FIRST, FIRST + timedelta(days=1), LAST} and all(listed.values())
    # However many runs the daemon made of the backfill, each only planned, and together they cover the days.
    assert runs and {mode for *_, mode in runs} == {"plan"}
    assert min(first for first, _, _ in runs) == FIRST and max(last for _, last, _ in runs) == LAST
    assert "sent" not in handed and "claimed" not in handed, handed
    assert not console.shop.outbox_jsonl.exists()
    if console.shop.ledger.exists():
        with sqlite3.connect(console.shop.ledger) as ledger:
            assert ledger.execute("select count(*) from messages").fetchone() == (0,)
    assert guard["vip_blast"] == "held"

    # The send list a marketer checks: the held campaign's day, with its audience figures.
    page.goto(f"{console.url}/assets/send_list/vip_blast?partition={LAST}")
    expect(page.get_by_text("audience_size")).to_be_visible()
    screenshot(page, "04-send-list")

    _approve_the_held_list(page, console)
    _test_send(page, console)

    # The data engineer's turn, on the same UI: an edited dbt project, seen after Reload definitions.
    _reload_shows_an_edited_model(page, console)
