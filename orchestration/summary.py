"""The printed summary after a run: what the shop looks like today and what was delivered."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import duckdb

from orchestration.campaigns.policy import release_hint
from orchestration.lib.warehouse import connect, scalar, table_exists
from orchestration.settings import load_settings


def _print_plan(con: duckdb.DuckDBPyConnection, day: date) -> None:
    """Per campaign: audience, planned by channel, held, and exclusions by reason (fct_send_decisions)."""
    rows = con.execute(
        "select campaign_id, count(*), count(*) filter (where decision = 'planned'),"
        " count(*) filter (where decision = 'held_for_approval') from sends.fct_send_decisions"
        " where as_of_date = ? group by 1 order by 1",
        [day],
    ).fetchall()
    print("campaigns (audience / planned / held):")
    for campaign, audience, planned, held in rows:
        channels = con.execute(
            "select message_type, count(*) from sends.fct_planned_sends where as_of_date = ? and campaign_id = ?"
            " and state = 'scheduled' group by 1 order by 1",
            [day, campaign],
        ).fetchall()
        by_channel = ", ".join(f"{kind} {n:,}" for kind, n in channels) or "-"
        print(f"  {campaign:<24} {audience:>7,} {planned:>7,} {held:>5,}   {by_channel}")
    if not rows:
        print("  nobody in any audience this day")
    reasons = con.execute(
        "select reason, count(*) from sends.fct_send_decisions where as_of_date = ? and decision = 'excluded'"
        " group by 1 order by 2 desc",
        [day],
    ).fetchall()
    if reasons:
        print("excluded by the send policy (reason):")
        for reason, n in reasons:
            print(f"  {reason:<24} {n:>8,}")
    for campaign, *_, held in rows:
        if held:
            print(f"warning: {campaign}: {held:,} new sends held by the audience guard; {release_hint(campaign, day)}")
    print(f"why (not) a customer: dangol explain --customer <id> --campaign <id> --date {day}")


def _print_deliveries(con: duckdb.DuckDBPyConnection, day: date, replayed: Sequence[datetime]) -> None:
    """What the hand-off did with the day's sends: delivered per campaign, channel and state, and what waits."""
    if replayed:
        times = ", ".join(f"{t:%H:%M}" for t in replayed)
        print(
            f"hand-offs: each send at its scheduled time ({replayed[0]:%Y-%m-%d} {times}), run here with the shop clock"
            " fixed at that time; live, the due_sends sensor does it"
        )
    print("delivered (campaign / channel / state):")
    rows = con.execute(
        "select campaign_id, channel, state, count(*) from sends.deliveries where send_date = ?"
        " group by 1, 2, 3 order by 1, 2, 3",
        [day],
    ).fetchall()
    for campaign, channel, state, n in rows:
        print(f"  {campaign:<28} {channel:<10} {state:<10} {n:>8,}")
    if not rows:
        print("  nothing handed off for this day yet")
    waiting = con.execute(
        "select min(planned.scheduled_at), count(*) from sends.fct_planned_sends as planned"
        " left join sends.deliveries as delivered using (send_key)"
        " where planned.as_of_date = ? and planned.state = 'scheduled' and delivered.send_key is null",
        [day],
    ).fetchone()
    if waiting and waiting[1]:
        print(f"waiting for their time: {waiting[1]:,} sends, the next at {waiting[0]:%Y-%m-%d %H:%M}")


def print_summary(day: date, *, dry_run: bool, replayed: Sequence[datetime] = ()) -> None:
    settings = load_settings()
    if not settings.warehouse.exists():
        print("no warehouse yet: the run failed before anything was loaded")
        return
    with connect(settings.warehouse, read_only=True, timezone=settings.timezone) as con:
        print(f"\n=== dangol: {day} (shop time {settings.timezone}) ===")
        if table_exists(con, "marts", "dim_customers"):
            total = scalar(con, "select count(*) from marts.dim_customers")
            print(f"customers: {total:,}")
            print("segments (lifecycle stage):")
            for stage, n in con.execute(
                "select lifecycle_stage, count(*) from marts.dim_customers group by 1 order by 2 desc"
            ).fetchall():
                print(f"  {stage:<24} {n:>8,}")
        if table_exists(con, "raw", "quarantine"):
            rows = con.execute("select file, rule, count(*) from raw.quarantine group by 1, 2 order by 1, 2").fetchall()
            print(f"quarantined input rows: {sum(r[2] for r in rows):,}")
            for file, rule, n in rows:
                print(f"  {file:<28} {rule:<22} {n:>6,}")
        if table_exists(con, "sends", "fct_send_decisions"):
            _print_plan(con, day)
        if dry_run:
            print("dry run: nothing was delivered (mode plan)")
        elif table_exists(con, "sends", "deliveries") and table_exists(con, "sends", "fct_planned_sends"):
            _print_deliveries(con, day, replayed)
    print(f"outbox: {settings.outbox_dir / 'outbox.jsonl'} (table: {settings.outbox_dir / 'outbox.sqlite'})")
    print(f"ledger: {settings.ledger}")
    print("open the Dagster UI on this warehouse: make dev  (http://127.0.0.1:3000)")
