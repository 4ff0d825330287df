"""Send times and the hand-off, with a fixed clock: when each campaign's sends are planned for, and what
delivery does with a send at a given moment (not due, expired, waiting for the morning, handed off)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest

from orchestration.campaigns.config import PolicyConfig
from orchestration.campaigns.handoff import RunMode, Verdict, judge
from orchestration.campaigns.send_list import base_schedule
from orchestration.defs.deliver.config import DeliveryConfig, PastDelivery, decide_run
from tests.campaigns.conftest import decision_of, run, spec, world

D = date(2025, 6, 15)
CATCH_UP = timedelta(hours=4)


def _campaign(at: str | None = None, event: bool = False, **extra: object):
    schedule = {"after_event": "event_at", "delay_minutes": 120} if event else {"daily_at": at}
    return spec(schedule=schedule, **extra)


@pytest.mark.parametrize(
    ("daily_at", "expected"),
    [
        ("10:00", "2025-06-16 10:00"),  # the nightly run at 02:00 on D+1 plans D: D+1 at the campaign's time
        ("19:00", "2025-06-16 19:00"),
        ("02:00", "2025-06-16 02:00"),  # the nightly hour itself is still ahead of nobody
        ("01:00", "2025-06-17 01:00"),  # already past at planning: the next day's 01:00
    ],
)
def test_a_daily_campaign_is_planned_for_its_next_send_time_after_planning(daily_at: str, expected: str) -> None:
    assert base_schedule(_campaign(daily_at), D, {"customer_id": "c1"}) == datetime.fromisoformat(expected)


def test_an_event_campaign_goes_at_event_plus_delay_but_never_before_planning() -> None:
    campaign = _campaign(event=True)
    late_event = {"customer_id": "c1", "event_at": pd.Timestamp("2025-06-15 23:30")}
    early_event = {"customer_id": "c1", "event_at": pd.Timestamp("2025-06-15 09:00")}
    assert base_schedule(campaign, D, late_event) == datetime(2025, 6, 16, 2, 0)  # 01:30 is before 02:00
    assert base_schedule(campaign, D, early_event) == datetime(2025, 6, 16, 2, 0)


def test_a_late_evening_ad_is_deferred_past_midnight_to_the_morning() -> None:
    """A 22:00 campaign plans D's sends for 22:00 on D+1: night, so an SMS ad without night consent goes at
    08:00 on D+2, and caps count the day it arrives."""
    campaign = _campaign("22:00", channels=["sms"])
    at = base_schedule(campaign, D, {"customer_id": "c1"})
    assert at == datetime(2025, 6, 16, 22, 0)
    row = decision_of(run(_listing(campaign, at), world(), [campaign]))
    assert row["decision"] == "planned"
    assert str(row["scheduled_at"])[:16] == "2025-06-17 08:00"
    assert "deferred to 2025-06-17 08:00" in row["detail"]


def _listing(campaign, at: datetime) -> list[dict]:
    from tests.campaigns.conftest import listing

    rows = listing(campaign)
    return [r | {"base_scheduled_at": at} for r in rows]


def _planned(*rows: tuple[str, str, str]) -> pd.DataFrame:
    """(purpose, channel, scheduled_at) rows of one planned day."""
    return pd.DataFrame(
        [
            {"send_key": f"k{i}", "as_of_date": D, "purpose": p, "channel": c, "scheduled_at": pd.Timestamp(at)}
            for i, (p, c, at) in enumerate(rows)
        ]
    )


NIGHT_ROWS = _planned(
    ("ad", "sms", "2025-06-16 19:00"),
    ("ad", "app_push", "2025-06-16 19:00"),
    ("ad", "email", "2025-06-16 19:00"),  # exempt from the night rule by default
    ("info", "kakao", "2025-06-16 19:00"),  # informational messages are not advertising
)


@pytest.mark.parametrize(
    ("clock", "verdicts"),
    [
        ("2025-06-16 18:59", ["not_due"] * 4),
        ("2025-06-16 19:00", ["hand_off"] * 4),  # a campaign at 19:00 goes at 19:00
        ("2025-06-16 20:59", ["hand_off"] * 4),
        ("2025-06-16 21:00", ["night", "night", "hand_off", "hand_off"]),
        ("2025-06-16 22:59", ["night", "night", "hand_off", "hand_off"]),
        ("2025-06-16 23:01", ["expired"] * 4),  # 4 h 1 min late: older than the catch-up window
    ],
)
def test_the_night_rule_and_the_catch_up_window_at_hand_off(clock: str, verdicts: list[str]) -> None:
    out = judge(NIGHT_ROWS, datetime.fromisoformat(clock), CATCH_UP, PolicyConfig())
    assert [str(v) for v in out["verdict"]] == verdicts


@pytest.mark.parametrize(
    ("clock", "verdicts"),
    [
        ("2025-06-17 07:59", ["night", "night", "hand_off", "hand_off"]),
        ("2025-06-17 08:00", ["hand_off"] * 4),
    ],
)
def test_a_send_due_in_the_small_hours_waits_until_eight(clock: str, verdicts: list[str]) -> None:
    rows = NIGHT_ROWS.assign(scheduled_at=pd.Timestamp("2025-06-17 05:00"))
    out = judge(rows, datetime.fromisoformat(clock), CATCH_UP, PolicyConfig())
    assert [str(v) for v in out["verdict"]] == verdicts


def test_the_exempt_channels_are_configurable() -> None:
    policy = PolicyConfig.model_validate({"night": {"exempt_channels": []}})
    out = judge(NIGHT_ROWS, datetime(2025, 6, 16, 21, 30), CATCH_UP, policy)
    assert [str(v) for v in out["verdict"]] == ["night", "night", "night", "hand_off"]


def test_a_day_whose_plan_failed_its_checks_is_blocked_whatever_the_time() -> None:
    out = judge(NIGHT_ROWS, datetime(2025, 6, 16, 19, 0), CATCH_UP, PolicyConfig(), {D: "legal_ad_form_present"})
    assert set(out["verdict"]) == {Verdict.BLOCKED}
    assert "legal_ad_form_present" in out["reason"].iloc[0]


def test_expired_says_how_late_and_the_window() -> None:
    out = judge(NIGHT_ROWS.head(1), datetime(2025, 6, 18, 19, 0), CATCH_UP, PolicyConfig())
    assert out["reason"].iloc[0] == (
        "scheduled 2025-06-16 19:00, 2.0 days before the hand-off at 2025-06-18 19:00:"
        " older than the catch-up window of 4.0 h"
    )


POLICY = PolicyConfig()


@pytest.mark.parametrize(
    ("config", "first", "last", "tags", "mode", "max_age_hours"),
    [
        (DeliveryConfig(), D, D, {}, RunMode.SEND, 4),  # the nightly run and the due-sends runs
        (DeliveryConfig(), D - timedelta(days=2), D, {}, RunMode.PLAN, 4),  # a run over a window is a backfill
        (DeliveryConfig(), D, D, {"dagster/backfill": "abc"}, RunMode.PLAN, 4),  # a one-day backfill too
        (DeliveryConfig(mode=RunMode.SEND), D - timedelta(days=2), D, {}, RunMode.SEND, 4),
        (
            DeliveryConfig(mode=RunMode.SEND, deliver_past=PastDelivery(max_age_hours=72, requested_by="kim")),
            D - timedelta(days=2),
            D,
            {"dagster/backfill": "abc"},
            RunMode.SEND,
            72,
        ),
    ],
)
def test_the_run_mode(config, first, last, tags, mode, max_age_hours) -> None:
    decided = decide_run(config, first, last, tags, POLICY)
    assert decided.mode is mode
    assert decided.max_age == timedelta(hours=max_age_hours)


def test_delivering_the_past_needs_mode_send() -> None:
    config = DeliveryConfig(deliver_past=PastDelivery(max_age_hours=72, requested_by="kim"))
    with pytest.raises(dg.Failure, match="only applies to mode send"):
        decide_run(config, D - timedelta(days=2), D, {}, POLICY)


def test_a_held_list_approved_days_later_goes_at_the_next_send_time_and_caps_count_the_day_it_arrives() -> None:
    """Approved on D+3 at 15:00, an 11:00 campaign's held sends go at 11:00 on D+4 (not at 11:00 on D+1,
    long past), and the frequency caps count them on D+4: there the customer already has an ad."""
    from orchestration.campaigns.planning import reschedule_approved
    from orchestration.campaigns.send_list import SEND_LIST_COLUMNS
    from tests.campaigns.conftest import no_control, sent_before

    blast, other = _campaign("11:00", campaign_id="blast"), _campaign("10:00", campaign_id="other")
    rows = pd.DataFrame(_listing(blast, datetime(2025, 6, 16, 11, 0)), columns=SEND_LIST_COLUMNS)
    approvals = pd.DataFrame(
        [("blast", D, "approved", pd.Timestamp("2025-06-18 15:00"))],
        columns=["campaign_id", "as_of_date", "decision", "decided_at"],
    )
    moved = reschedule_approved(rows, approvals, {"blast": blast})
    assert set(moved["base_scheduled_at"]) == {pd.Timestamp("2025-06-19 11:00")}

    history = [sent_before(other, "c1", date(2025, 6, 19), at="10:00")]
    inputs = world(history=history, approvals=[("blast", D, "approved")])
    specs = [blast, other]

    nominal = decision_of(run(rows.to_dict("records"), inputs, specs, no_control()), campaign="blast")
    assert nominal["decision"] == "planned"  # on D+1 the customer had no other ad
    arrived = decision_of(run(moved.to_dict("records"), inputs, specs, no_control()), campaign="blast")
    assert arrived["reason"] == "frequency_cap" and "ads_per_day" in arrived["detail"]


def test_an_approval_before_the_send_time_changes_nothing_and_an_event_campaign_goes_at_once() -> None:
    from orchestration.campaigns.send_list import next_send_after

    daily, event = _campaign("11:00"), _campaign(event=True)
    at = datetime(2025, 6, 16, 11, 0)
    assert next_send_after(daily, at, datetime(2025, 6, 16, 9, 0)) == at
    assert next_send_after(daily, at, datetime(2025, 6, 16, 10, 59)) == at
    assert next_send_after(daily, at, datetime(2025, 6, 16, 11, 1)) == datetime(2025, 6, 17, 11, 0)
    assert next_send_after(event, at, datetime(2025, 6, 18, 15, 0)) == datetime(2025, 6, 18, 15, 0)
