"""Table-driven tests of each send-policy step on small DataFrames (no warehouse, no Dagster)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from orchestration.campaigns.config import ExistingCustomerException, PolicyConfig
from orchestration.campaigns.policy import (
    PLANNED_COLUMNS,
    in_control_group,
    in_holdout,
    is_night,
    next_morning,
)
from tests.campaigns.conftest import (
    D,
    consent,
    decision_of,
    listing,
    no_control,
    run,
    sent_before,
    spec,
    world,
)

PROMO = spec("promo")

# -- step 1: consent ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        ([], "no_consent"),
        ([consent("c1", "email", True, "2024-01-01 10:00")], "planned"),
        # withdrawn the same day, before the 10:00 send
        (
            [consent("c1", "email", True, "2024-01-01 10:00"), consent("c1", "email", False, "2025-06-15 09:00")],
            "no_consent",
        ),
        # withdrawn the same day after the send time: consent is taken at the end of the day, so it still wins
        (
            [consent("c1", "email", True, "2024-01-01 10:00"), consent("c1", "email", False, "2025-06-15 23:59")],
            "no_consent",
        ),
        # granted and withdrawn at the same instant: the withdrawal wins
        (
            [consent("c1", "email", True, "2025-06-15 12:00"), consent("c1", "email", False, "2025-06-15 12:00")],
            "no_consent",
        ),
        # given in the last second of the day counts; given at midnight after does not (point in time)
        ([consent("c1", "email", True, "2025-06-15 23:59:59")], "planned"),
        ([consent("c1", "email", True, "2025-06-16 00:00")], "no_consent"),
        # withdrawn once, given again
        (
            [consent("c1", "email", False, "2025-01-01 10:00"), consent("c1", "email", True, "2025-06-15 08:00")],
            "planned",
        ),
        # consent on another channel or for another purpose does not count
        ([consent("c1", "sms", True, "2024-01-01 10:00")], "no_consent"),
        ([consent("c1", "email", True, "2024-01-01 10:00", purpose="info")], "no_consent"),
    ],
)
def test_ads_need_ad_consent_on_the_channel_at_the_end_of_the_day(log: list[dict], expected: str) -> None:
    campaign = spec(channels=["email"])
    result = run(listing(campaign), world(consents=log, all_ads_consented_on=None), [campaign])
    row = decision_of(result)
    assert (row["reason"] or row["decision"]) == expected
    if expected == "no_consent":
        assert row["policy_step"] == "consent"


def test_the_plan_falls_back_to_the_next_channel_with_consent() -> None:
    log = [
        consent("c1", "email", False, "2025-03-01 10:00", source="080_optout"),
        consent("c1", "sms", True, "2024-01-01"),
    ]
    result = run(listing(PROMO), world(consents=log, all_ads_consented_on=None), [PROMO])
    row = decision_of(result)
    assert (row["decision"], row["channel"]) == ("planned", "sms")
    assert "email: ad consent withdrawn 2025-03-01 10:00 via 080_optout" in row["channels_considered"]


@pytest.mark.parametrize(
    ("no_phone", "log", "reason"),
    [
        (True, [], "no_consent"),  # an email address without consent says more than a missing phone
        (True, [consent("c1", "email", True, "2024-01-01")], "planned"),
        (False, [], "no_consent"),
    ],
)
def test_the_reason_is_the_channel_that_got_furthest(no_phone: bool, log: list[dict], reason: str) -> None:
    inputs = world(consents=log, all_ads_consented_on=None, no_phone=["c1"] if no_phone else [])
    row = decision_of(run(listing(PROMO), inputs, [PROMO]))
    assert (row["reason"] or row["decision"]) == reason


def test_no_address_on_any_channel_is_no_contact() -> None:
    campaign = spec(channels=["sms", "app_push"])
    row = decision_of(run(listing(campaign), world(no_phone=["c1"]), [campaign]))
    assert row["reason"] == "no_contact"
    assert row["channels_considered"] == "sms: no address; app_push: no address"


@pytest.mark.parametrize(
    ("required", "info_log", "expected_channel"),
    [
        (True, [], "kakao"),  # a legally required notice needs no info opt-in
        (True, [consent("c1", "kakao", False, "2024-05-01", purpose="info")], "email"),  # refused there: next one
        (False, [], None),  # other informational messages need an info opt-in
        (False, [consent("c1", "kakao", True, "2024-05-01", purpose="info")], "kakao"),
    ],
)
def test_informational_messages(required: bool, info_log: list[dict], expected_channel: str | None) -> None:
    notice = spec("notice", purpose="info", channels=["kakao", "email"], legally_required=required)
    inputs = world(consents=info_log, all_ads_consented_on=None)
    row = decision_of(run(listing(notice), inputs, [notice]), campaign="notice")
    assert row["channel"] == expected_channel


EXCEPTION_ON = no_control(PolicyConfig(existing_customer_exception=ExistingCustomerException(enabled=True)))


@pytest.mark.parametrize(
    ("config", "order_at", "category", "log", "expected"),
    [
        (no_control(), "2025-03-01 10:00", "skincare", [], "no_consent"),  # off by default
        (EXCEPTION_ON, "2025-03-01 10:00", "skincare", [], "planned"),
        (EXCEPTION_ON, "2025-03-01 10:00", "fragrance", [], "no_consent"),  # not the same kind of goods
        (EXCEPTION_ON, "2024-12-15 10:00", "skincare", [], "planned"),  # exactly 6 months before the send
        (EXCEPTION_ON, "2024-12-15 09:59", "skincare", [], "no_consent"),  # a minute more
        (EXCEPTION_ON, "2025-06-16 09:00", "skincare", [], "no_consent"),  # after the day: not visible
        # an opt-out always wins over the exception
        (EXCEPTION_ON, "2025-03-01 10:00", "skincare", [consent("c1", "email", False, "2025-04-01")], "no_consent"),
    ],
)
def test_existing_customer_exception(
    config: PolicyConfig, order_at: str, category: str, log: list[dict], expected: str
) -> None:
    campaign = spec(channels=["email"])
    inputs = world(consents=log, all_ads_consented_on=None, purchases=[("c1", order_at, category)])
    row = decision_of(run(listing(campaign, category="skincare"), inputs, [campaign], config))
    assert (row["reason"] or row["decision"]) == expected


def test_existing_customer_exception_counts_calendar_months_across_a_leap_day() -> None:
    """Six months before 2024-08-29 10:00 is 2024-02-29 10:00; before 2025-08-29 it is 2025-02-28 is not...
    the month arithmetic clamps: 31 August minus 6 months is the last day of February."""
    campaign = spec(channels=["email"])
    day = date(2024, 8, 31)
    for order_at, expected in (("2024-02-29 10:00", "planned"), ("2024-02-29 09:59", "no_consent")):
        inputs = world(all_ads_consented_on=None, purchases=[("c1", order_at, "skincare")])
        row = decision_of(
            run(listing(campaign, day=day, category="skincare"), inputs, [campaign], EXCEPTION_ON), day=day
        )
        assert (row["reason"] or row["decision"]) == expected, order_at


# -- step 2: suppression, and rendering per channel ------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "kind", "expected_channel", "reason"),
    [
        ("ad", "permanent", "sms", None),  # hard bounce on email: fall back to sms
        ("ad", "opted_out", "sms", None),
        ("info", "permanent", "sms", None),
        ("info", "opted_out", "email", None),  # an ad opt-out does not stop an informational message
    ],
)
def test_suppressed_addresses(purpose: str, kind: str, expected_channel: str, reason: str | None) -> None:
    campaign = spec(purpose=purpose, channels=["email", "sms"], legally_required=purpose == "info")
    inputs = world(suppressions=[("email", "c1@example.com", kind)])
    row = decision_of(run(listing(campaign), inputs, [campaign]))
    assert row["channel"] == expected_channel
    assert row["reason"] == reason


def test_suppressed_everywhere_is_recorded_as_suppressed() -> None:
    inputs = world(suppressions=[("email", "c1@example.com", "permanent"), ("sms", "01012345678", "permanent")])
    row = decision_of(run(listing(PROMO), inputs, [PROMO]))
    assert (row["policy_step"], row["reason"]) == ("suppression", "suppressed")


def test_a_message_that_cannot_go_on_a_channel_falls_back() -> None:
    errors = {"email": "too_long: too long"}
    row = decision_of(run(listing(PROMO, errors=errors), world(), [PROMO]))
    assert row["channel"] == "sms"
    errors = {"email": "too_long: x", "sms": "unencodable_character: character '😀'"}
    row = decision_of(run(listing(PROMO, errors=errors), world(), [PROMO]))
    assert (row["policy_step"], row["reason"]) == ("render", "unrenderable")
    assert "😀" in row["detail"]


# -- step 3: night ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "night"),
    [
        ("2025-06-15 20:59", False),
        ("2025-06-15 21:00", True),
        ("2025-06-15 23:59", True),
        ("2025-06-16 00:00", True),
        ("2025-06-16 07:59", True),
        ("2025-06-16 08:00", False),
    ],
)
def test_the_night_window_is_21_to_08(moment: str, night: bool) -> None:
    assert is_night(datetime.fromisoformat(moment), PolicyConfig()) is night


@pytest.mark.parametrize(
    ("day", "at", "rule", "channel", "night_consent", "expected", "scheduled"),
    [
        (D, "20:59", "defer", "sms", False, "planned", "2025-06-15 20:59"),
        (D, "21:00", "defer", "sms", False, "planned", "2025-06-16 08:00"),
        (D, "21:00", "skip", "sms", False, "night_skipped", None),
        (D, "07:59", "defer", "sms", False, "planned", "2025-06-15 08:00"),
        (D, "08:00", "defer", "sms", False, "planned", "2025-06-15 08:00"),
        (D, "21:00", "defer", "sms", True, "planned", "2025-06-15 21:00"),
        (D, "23:30", "skip", "email", False, "planned", "2025-06-15 23:30"),  # email is exempt
        (date(2024, 2, 28), "22:00", "defer", "sms", False, "planned", "2024-02-29 08:00"),  # a leap day
        (date(2023, 2, 28), "22:00", "defer", "sms", False, "planned", "2023-03-01 08:00"),
        (date(2024, 2, 29), "21:30", "defer", "sms", False, "planned", "2024-03-01 08:00"),
    ],
)
def test_night_rule(
    day: date, at: str, rule: str, channel: str, night_consent: bool, expected: str, scheduled: str | None
) -> None:
    campaign = spec(channels=[channel], night=rule)
    log = [consent("c1", channel, True, "2024-01-01", purpose="night_ad")] if night_consent else []
    row = decision_of(run(listing(campaign, day=day, at=at), world(consents=log), [campaign]), day=day)
    assert (row["reason"] or row["decision"]) == expected
    assert (str(row["scheduled_at"])[:16] if scheduled else row["scheduled_at"]) == scheduled
    if expected == "night_skipped":
        assert row["policy_step"] == "night"


def test_night_consent_withdrawn_defers_and_informational_messages_are_not_held_back() -> None:
    campaign = spec(channels=["sms"])
    log = [
        consent("c1", "sms", True, "2024-01-01", purpose="night_ad"),
        consent("c1", "sms", False, "2025-06-15 12:00", purpose="night_ad"),
    ]
    row = decision_of(run(listing(campaign, at="22:00"), world(consents=log), [campaign]))
    assert str(row["scheduled_at"])[:16] == "2025-06-16 08:00"
    assert "night ad consent withdrawn 2025-06-15 12:00" in row["detail"]
    notice = spec("notice", purpose="info", channels=["sms"], legally_required=True)
    row = decision_of(run(listing(notice, at="22:00"), world(), [notice]), campaign="notice")
    assert str(row["scheduled_at"])[:16] == "2025-06-15 22:00"


def test_next_morning() -> None:
    config = PolicyConfig()
    assert next_morning(datetime(2024, 2, 28, 21, 0), config) == datetime(2024, 2, 29, 8, 0)
    assert next_morning(datetime(2024, 12, 31, 23, 0), config) == datetime(2025, 1, 1, 8, 0)
    assert next_morning(datetime(2025, 1, 1, 3, 0), config) == datetime(2025, 1, 1, 8, 0)


# -- step 4: frequency caps -------------------------------------------------------------------------------

OTHER = spec("other")


@pytest.mark.parametrize(
    ("history_days", "day", "expected", "cap"),
    [
        ([], D, "planned", None),
        ([D], D, "frequency_cap", "ads_per_day"),  # e.g. a deferred ad already lands on this day
        ([D - timedelta(days=1)], D, "planned", None),
        ([D - timedelta(days=6), D - timedelta(days=4), D - timedelta(days=2)], D, "frequency_cap", "ads_per_week"),
        ([D - timedelta(days=7), D - timedelta(days=4), D - timedelta(days=2)], D, "planned", None),
        # an ad already planned for a later day counts for every week containing both
        ([D + timedelta(days=1), D - timedelta(days=3), D - timedelta(days=5)], D, "frequency_cap", "ads_per_week"),
        # leap year: 23, 25, 27 February and 29 February fit in one week ...
        ([date(2024, 2, 23), date(2024, 2, 25), date(2024, 2, 27)], date(2024, 2, 29), "frequency_cap", "ads_per_week"),
        # ... whereas in 2023, 22 February is 7 days before 1 March
        ([date(2023, 2, 22), date(2023, 2, 24), date(2023, 2, 26)], date(2023, 3, 1), "planned", None),
    ],
)
def test_frequency_caps_count_ads_across_campaigns_and_channels(
    history_days: list[date], day: date, expected: str, cap: str | None
) -> None:
    history = [sent_before(OTHER, "c1", d) for d in history_days]
    row = decision_of(run(listing(PROMO, day=day), world(history=history), [PROMO, OTHER]), day=day)
    assert (row["reason"] or row["decision"]) == expected
    if cap:
        assert row["detail"].startswith(cap)


def test_caps_are_per_class_and_info_is_never_capped() -> None:
    coupon = spec("coupon_promo", cap="coupon")
    history = [sent_before(spec("c_a", cap="coupon"), "c1", D - timedelta(days=d)) for d in (10, 20)]
    row = decision_of(run(listing(coupon), world(history=history), [coupon]), campaign="coupon_promo")
    assert row["detail"].startswith("coupons_per_month")
    promo_row = decision_of(run(listing(PROMO), world(history=history), [PROMO]))
    assert promo_row["decision"] == "planned"  # promotional ads do not count coupons against themselves
    notice = spec("notice", purpose="info", channels=["email"], legally_required=True)
    history = [sent_before(OTHER, "c1", D)]
    rows = listing(notice) + listing(PROMO)
    result = run(rows, world(history=history), [notice, PROMO, OTHER])
    assert decision_of(result, campaign="notice")["decision"] == "planned"
    assert decision_of(result)["reason"] == "frequency_cap"


def test_a_window_of_days_counts_what_its_earlier_days_planned() -> None:
    days = [D + timedelta(days=i) for i in range(5)]
    rows = [r for i, d in enumerate(days) for r in listing(PROMO, day=d, cycle=f"cycle{i}")]
    result = run(rows, world(), [PROMO])
    decided = result.decisions.set_index("as_of_date")["reason"].fillna("planned").to_dict()
    assert decided == {
        days[0]: "planned",
        days[1]: "planned",
        days[2]: "planned",
        days[3]: "frequency_cap",
        days[4]: "frequency_cap",
    }


# -- step 5: collisions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("campaigns", "winner"),
    [
        ([spec("welcome", priority=70), spec("winback", priority=30)], "welcome"),
        ([spec("winback", priority=30), spec("welcome", priority=70)], "welcome"),
        # equal priority: the lower campaign id wins, whatever the file order
        ([spec("b_offer", priority=50), spec("a_offer", priority=50)], "a_offer"),
        ([spec("a_offer", priority=50), spec("b_offer", priority=50)], "a_offer"),
        ([spec("xx1", priority=10), spec("xx2", priority=90), spec("xx3", priority=50)], "xx2"),
    ],
)
def test_one_ad_per_customer_per_day_the_higher_priority_wins(campaigns: list, winner: str) -> None:
    rows = [r for c in campaigns for r in listing(c)]
    result = run(rows, world(), campaigns)
    decisions = result.decisions.set_index("campaign_id")
    assert set(decisions.index[decisions["decision"] == "planned"]) == {winner}
    for loser in set(decisions.index) - {winner}:
        assert decisions.at[loser, "reason"] == "collision"
        assert decisions.at[loser, "detail"].startswith(f"lost to {winner}")


def test_a_deferred_ad_does_not_collide_with_the_next_days_ad_of_another_customer_day() -> None:
    night_owl = spec("late", priority=90, channels=["sms"])
    result = run(listing(night_owl, at="22:00") + listing(PROMO), world(), [night_owl, PROMO])
    assert set(result.decisions["decision"]) == {"planned"}  # 16 June 08:00 and 15 June 10:00


def test_a_held_out_winner_does_not_take_the_slot() -> None:
    campaigns = [spec("vip", priority=90, holdout=0.5), spec("welcome", priority=70)]
    customer = next(c for c in (f"c{i}" for i in range(100)) if in_holdout("vip", c, 0.5))
    rows = [r for c in campaigns for r in listing(c, customer=customer)]
    result = run(rows, world([customer]), campaigns)
    assert decision_of(result, customer, "vip")["reason"] == "holdout"
    assert decision_of(result, customer, "welcome")["decision"] == "planned"


# -- step 6: control group and holdout ----------------------------------------------------------------------


def test_the_control_group_is_a_stable_hash_share() -> None:
    config = PolicyConfig()
    ids = [f"C{i:07d}" for i in range(20_000)]
    members = {c for c in ids if in_control_group(c, config)}
    assert 0.045 < len(members) / len(ids) < 0.055
    assert members == {c for c in ids if in_control_group(c, config)}  # stable across runs
    resalted = config.model_copy(update={"control_group": config.control_group.model_copy(update={"salt": "v2"})})
    assert members != {c for c in ids if in_control_group(c, resalted)}
    held = {c for c in ids if in_holdout("promo", c, 0.1)}
    assert 0.09 < len(held) / len(ids) < 0.11
    assert len(held & members) < 0.02 * len(ids)  # independent of the control group


def test_the_control_group_gets_no_ads_but_legal_notices() -> None:
    config = PolicyConfig()
    member = next(c for c in (f"c{i}" for i in range(1000)) if in_control_group(c, config))
    notice = spec("notice", purpose="info", channels=["email"], legally_required=True)
    result = run(
        listing(PROMO, customer=member) + listing(notice, customer=member), world([member]), [PROMO, notice], config
    )
    assert decision_of(result, member)["reason"] == "control_group"
    assert decision_of(result, member, "notice")["decision"] == "planned"


# -- step 7: already sent ---------------------------------------------------------------------------------


def test_nothing_twice() -> None:
    weekly = spec("weekly")
    # planned on an earlier day for the same cycle (a reminder listed again during its grace period)
    history = [sent_before(weekly, "c1", D - timedelta(days=2), cycle="2025-06-01")]
    row = decision_of(run(listing(weekly, cycle="2025-06-01"), world(history=history), [weekly]), campaign="weekly")
    assert (row["reason"], row["policy_step"]) == ("already_sent", "already_sent")
    assert "already planned on 2025-06-13" in row["detail"]
    # the ledger sent it (the warehouse was rebuilt since) ...
    key = listing(weekly, cycle="x")[0]["send_key"]
    row = decision_of(run(listing(weekly, cycle="x"), world(sent_keys={key: None}), [weekly]), campaign="weekly")
    assert row["reason"] == "already_sent"
    # ... but a rerun of the very day that planned it plans it again (delivery skips the key)
    row = decision_of(run(listing(weekly, cycle="x"), world(sent_keys={key: D}), [weekly]), campaign="weekly")
    assert row["decision"] == "planned"


def test_a_cycle_listed_on_several_days_of_a_backfill_goes_once_on_the_first_day_it_can() -> None:
    reminder = spec("reminder")
    days = [D + timedelta(days=i) for i in range(3)]
    rows = [r for d in days for r in listing(reminder, day=d, cycle="2025-05-01")]
    # no consent on the first day, given on the second
    log = [consent("c1", "email", True, "2025-06-16 09:00")]
    result = run(rows, world(consents=log, all_ads_consented_on=None), [reminder])
    reasons = [(row.reason or row.decision) for row in result.decisions.sort_values("as_of_date").itertuples()]
    assert reasons == ["no_consent", "planned", "already_sent"]


# -- step 8: the audience guard ---------------------------------------------------------------------------


def _crowd(campaign, n: int, day: date = D) -> list[dict]:
    return [r for i in range(n) for r in listing(campaign, customer=f"c{i}", day=day)]


WEEK = [(PROMO.id, D - timedelta(days=d), 10) for d in range(1, 8)]


@pytest.mark.parametrize(
    ("today", "history", "known", "approval", "state", "held"),
    [
        (25, WEEK, {}, None, "ok", 0),  # within 3 x the median of 10 ... but 50 is the minimum count
        (60, WEEK, {}, None, "held", 60),  # > max(50, 3 x 10)
        (60, WEEK, {}, "approved", "approved", 0),
        (60, WEEK, {}, "rejected", "rejected", 0),
        (60, WEEK[:2], {}, None, "no_history", 0),  # two days are too few to judge a jump ...
        (60, WEEK[:2], {D: 100}, None, "held", 60),  # ... but 60 of 100 customers is more than 30%
    ],
)
def test_audience_guard(today: int, history: list, known: dict, approval: str | None, state: str, held: int) -> None:
    approvals = [(PROMO.id, D, approval)] if approval else []
    inputs = world([f"c{i}" for i in range(today)], guard_history=history, customers_known=known, approvals=approvals)
    result = run(_crowd(PROMO, today), inputs, [PROMO])
    day = result.campaign_days.iloc[0]
    assert day["guard_state"] == state
    assert int(day["held"]) == held
    assert (result.planned["state"] == "held_for_approval").sum() == held
    if approval == "rejected":
        assert set(result.decisions["reason"]) == {"guard_rejected"}
    if held:
        assert set(result.decisions["reason"]) == {"held_for_approval"}
        assert "dangol approve --campaign promo --date 2025-06-15" in result.decisions["detail"].iloc[0]


def test_a_broken_audience_model_listing_every_customer_is_held_and_does_not_crowd_out_others() -> None:
    """The segment model breaks and lists all 400 customers: the campaign is held, the others still go."""
    everyone = [f"c{i}" for i in range(400)]
    broken, healthy = spec("broken", priority=90), spec("healthy", priority=10)
    history = [(c.id, D - timedelta(days=d), 8) for c in (broken, healthy) for d in range(1, 8)]
    rows = _crowd(broken, 400) + _crowd(healthy, 8)
    inputs = world(everyone, guard_history=history, customers_known={D: 400})
    result = run(rows, inputs, [broken, healthy])
    days = result.campaign_days.set_index("campaign_id")
    assert days.at["broken", "guard_state"] == "held"
    assert days.at["healthy", "planned"] == 8
    sends = result.planned
    assert set(sends[sends["campaign_id"] == "broken"]["state"]) == {"held_for_approval"}
    assert set(sends[sends["campaign_id"] == "healthy"]["state"]) == {"scheduled"}


def test_held_days_do_not_raise_the_baseline() -> None:
    inputs = world([f"c{i}" for i in range(60)], guard_history=[*WEEK, (PROMO.id, D - timedelta(days=1), 500)])
    inputs.guard_history.loc[inputs.guard_history["eligible"] == 500, "guard_state"] = "held"
    assert run(_crowd(PROMO, 60), inputs, [PROMO]).campaign_days.iloc[0]["guard_state"] == "held"


# -- outputs ----------------------------------------------------------------------------------------------


def test_planned_rows_carry_channel_time_cost_and_key() -> None:
    result = run(listing(PROMO), world(), [PROMO])
    assert list(result.planned.columns) == PLANNED_COLUMNS
    row = result.planned.iloc[0]
    assert (row["channel"], row["state"], row["cost_krw"]) == ("email", "scheduled", 1.0)
    assert row["scheduled_at"] == pd.Timestamp("2025-06-15 10:00")
    assert len(row["send_key"]) == 32
    assert "e***" not in row["address"]  # the planned table has the real address; decisions mask it
    assert "c*@example.com" in decision_of(result)["detail"]
