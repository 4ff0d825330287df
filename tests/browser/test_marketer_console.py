"""What a marketer does in the Dagster UI, in a real browser: backfill the campaigns over three past days
(a backfill plans, it never delivers), find the send lists, and see the list the audience guard held; and
what a data engineer does: add a dbt model and see it after "Reload definitions", without a restart.

One flow on one shop (the steps build on each other); every step keeps a screenshot in
test-artifacts/browser/, and the README's are copied from there to docs/img/."""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta

import duckdb
from playwright.sync_api import Page, expect

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

    # The data engineer's turn, on the same UI: an edited dbt project, seen after Reload definitions.
    _reload_shows_an_edited_model(page, console)
