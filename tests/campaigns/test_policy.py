"""Table-driven tests of each send-policy step on small DataFrames (no warehouse, no Dagster)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from orchestration.campaigns.config import PolicyConfig
from orchestration.campaigns.policy import (
    PLANNED_COLUMNS,
    PolicyInputs,
    in_control_group,
    in_holdout,
    is_night,
    next_morning,
    plan,
)
from orchestration.campaigns.send_list import SEND_LIST_COLUMNS
from tests.campaigns.conftest import (
    D,
    decision_of,
    elig,
    listing,
    no_control,
    run,
    sent_before,
    spec,
    world,
)

PROMO = spec("promo")

# -- steps 1 and 2: the eligibility model's answer (its legal cases are its dbt unit tests) -------------


@pytest.mark.parametrize(
    ("reason", "expected", "step", "detail"),
    [
        (None, "planned", "planned", "ad consent given 2020-01-01 10:00 via form"),
        ("no_consent", "no_consent", "consent", "email: no ad consent on record"),
        ("consent_withdrawn", "no_consent", "consent", "email: ad consent withdrawn 2020-01-01 10:00 via form"),
        ("no_address", "no_contact", "consent", "email: no address"),
        ("invalid_address", "no_contact", "consent", "email: invalid address"),
        ("suppressed", "suppressed", "suppression", "email: address suppressed (opted_out: test)"),
    ],
)
def test_the_eligibility_models_answer_decides_and_is_explained(
    reason: str | None, expected: str, step: str, detail: str
) -> None:
    campaign = spec(channels=["email"])
    row_of_model = elig("c1", "email", reason=reason, suppression="opted_out" if reason == "suppressed" else None)
    result = run(listing(campaign), world(eligibility=[row_of_model]), [campaign])
    row = decision_of(result)
    assert (row["reason"] or row["decision"], row["policy_step"]) == (expected, step)
    assert detail in row["detail"]


def test_a_customer_the_model_does_not_know_is_no_contact() -> None:
    campaign = spec(channels=["email"])
    frame = pd.DataFrame(listing(campaign), columns=SEND_LIST_COLUMNS)
    result = plan(frame, PolicyInputs.empty(), {campaign.id: campaign}, no_control())
    assert (result.decisions.at[0, "reason"], result.decisions.at[0, "detail"]) == ("no_contact", "email: no address")


def test_the_model_is_read_for_the_candidates_own_day() -> None:
    campaign = spec(channels=["email"])
    rows = listing(campaign, day=D) + listing(campaign, day=D + timedelta(days=1), cycle="next")
    inputs = world(eligibility=[elig("c1", "email", reason="consent_withdrawn")])
    result = run(rows, inputs, [campaign])
    assert decision_of(result)["reason"] == "no_consent"
    assert decision_of(result, day=D + timedelta(days=1))["decision"] == "planned"


def test_the_plan_falls_back_to_the_next_channel_with_consent() -> None:
    withdrawn = elig("c1", "email", reason="consent_withdrawn", at="2025-03-01 10:00", source="080_optout")
    result = run(listing(PROMO), world(eligibility=[withdrawn]), [PROMO])
    row = decision_of(result)
    assert (row["decision"], row["channel"]) == ("planned", "sms")
    assert "email: ad consent withdrawn 2025-03-01 10:00 via 080_optout" in row["channels_considered"]


def test_an_opt_out_of_another_record_with_the_same_address_is_named() -> None:
    shared = elig("c1", "sms", reason="consent_withdrawn", at="2025-06-01 10:00", source="080_optout", scope="address")
    campaign = spec(channels=["sms"])
    row = decision_of(run(listing(campaign), world(eligibility=[shared]), [campaign]))
    assert row["detail"] == (
        "sms: ad consent withdrawn 2025-06-01 10:00 via 080_optout on another customer record with this address"
    )


@pytest.mark.parametrize(
    ("no_phone", "email_reason", "reason"),
    [
        (True, "no_consent", "no_consent"),  # an email address without consent says more than a missing phone
        (True, None, "planned"),
        (False, "no_consent", "no_consent"),
    ],
)
def test_the_reason_is_the_channel_that_got_furthest(no_phone: bool, email_reason: str | None, reason: str) -> None:
    inputs = world(
        eligibility=[elig("c1", "email", reason=email_reason)],
        all_ads_consented=False,
        no_phone=["c1"] if no_phone else [],
    )
    row = decision_of(run(listing(PROMO), inputs, [PROMO]))
    assert (row["reason"] or row["decision"]) == reason


def test_no_address_on_any_channel_is_no_contact() -> None:
    campaign = spec(channels=["sms", "app_push"])
    row = decision_of(run(listing(campaign), world(no_phone=["c1"]), [campaign]))
    assert row["reason"] == "no_contact"
    assert row["channels_considered"] == "sms: no address; app_push: no address"


@pytest.mark.parametrize(
    ("required", "model_rows", "expected_channel"),
    [
        (True, [], "kakao"),  # a legally required notice is read as purpose legal_notice
        (True, [elig("c1", "kakao", "legal_notice", reason="consent_withdrawn")], "email"),  # refused there
        (False, [], None),  # other informational messages: purpose info (no info consent by default)
        (False, [elig("c1", "kakao", "info")], "kakao"),
    ],
)
def test_informational_messages(required: bool, model_rows: list[dict], expected_channel: str | None) -> None:
    notice = spec("notice", purpose="info", channels=["kakao", "email"], legally_required=required)
    row = decision_of(run(listing(notice), world(eligibility=model_rows), [notice]), campaign="notice")
    assert row["channel"] == expected_channel


@pytest.mark.parametrize(
    ("categories", "advertised", "expected"),
    [
        (None, "skincare", "no_consent"),  # the model lists no category: the exception is off or does not apply
        ("haircare|skincare", "skincare", "planned"),
        ("haircare|skincare", "fragrance", "no_consent"),  # not the same kind of goods
        ("haircare|skincare", None, "no_consent"),  # a campaign that names no category cannot use it
    ],
)
def test_existing_customer_exception_is_the_models_categories(
    categories: str | None, advertised: str | None, expected: str
) -> None:
    campaign = spec(channels=["email"])
    model_row = elig("c1", "email", reason="no_consent", exception=categories)
    result = run(listing(campaign, category=advertised), world(eligibility=[model_row]), [campaign])
    row = decision_of(result)
    assert (row["reason"] or row["decision"]) == expected
    if expected == "planned":
        assert "existing-customer exception applies" in row["detail"]


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
    model = [elig("c1", channel, day=day, night=True, night_at="2024-01-01")] if night_consent else []
    row = decision_of(run(listing(campaign, day=day, at=at), world(eligibility=model), [campaign]), day=day)
    assert (row["reason"] or row["decision"]) == expected
    assert (str(row["scheduled_at"])[:16] if scheduled else row["scheduled_at"]) == scheduled
    if expected == "night_skipped":
        assert row["policy_step"] == "night"


def test_night_consent_withdrawn_defers_and_informational_messages_are_not_held_back() -> None:
    campaign = spec(channels=["sms"])
    withdrawn = elig("c1", "sms", night=False, night_at="2025-06-15 12:00")
    row = decision_of(run(listing(campaign, at="22:00"), world(eligibility=[withdrawn]), [campaign]))
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
    model = [elig("c1", "email", day=d, reason=None if d > D else "no_consent") for d in days]
    result = run(rows, world(eligibility=model, all_ads_consented=False), [reminder])
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


def test_a_rerun_after_a_backfill_holds_only_what_is_new() -> None:
    """Reproduced in the issue: a rerun of a day whose 70 messages the ledger already has held all of them.
    Sent keys neither count towards the guard nor wait for approval (delivery skips them); new ones do."""
    rows = _crowd(PROMO, 70)
    sent = {r["send_key"]: D for r in rows}
    inputs = world([f"c{i}" for i in range(70)], guard_history=WEEK, sent_keys=sent)
    result = run(rows, inputs, [PROMO])
    assert result.campaign_days.iloc[0]["guard_state"] == "ok"
    assert set(result.planned["state"]) == {"scheduled"} and len(result.planned) == 70
    # 70 sent and 60 new ones: the 60 are held (more than max(50, 3 x 10)), the 70 are not
    more = [r for i in range(70, 130) for r in listing(PROMO, customer=f"c{i}")]
    inputs = world([f"c{i}" for i in range(130)], guard_history=WEEK, sent_keys=sent)
    result = run(rows + more, inputs, [PROMO])
    day = result.campaign_days.iloc[0]
    assert (day["guard_state"], int(day["held"]), int(day["planned"]), int(day["eligible"])) == ("held", 60, 70, 130)
    held = result.planned[result.planned["state"] == "held_for_approval"]
    assert not set(held["send_key"]) & set(sent)
    assert (
        "60 is more than 3 x the median 10"
        in result.decisions.loc[result.decisions["reason"] == "held_for_approval", "detail"].iloc[0]
    )


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
