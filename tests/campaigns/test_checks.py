"""The blocking checks' great-expectations rules: each catches its broken row, with masked examples."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from orchestration.campaigns.checks import Rule, prepare, read_window, validate
from orchestration.campaigns.config import PolicyConfig
from orchestration.campaigns.eligibility import ELIGIBILITY_COLUMNS
from orchestration.campaigns.legal import Sender
from tests.campaigns.conftest import elig, spec

D = date(2025, 6, 15)
SENDER = Sender.from_env()
EMAIL_BODY = (
    f"봄이에요\n발신: {SENDER.name} (1588-0000)\n"
    "수신을 원하지 않으시면 여기에서 한 번에 거부하세요: https://shop.example.com/u?t=x"
)
GOOD_EMAIL = ("c1", "email", "ad", "c1@example.com", "(광고) 봄 세일", EMAIL_BODY, "2025-06-15 10:00", "scheduled")
GOOD_SMS = (
    "c2",
    "sms",
    "ad",
    "01012345678",
    None,
    f"(광고){SENDER.name}\n봄이에요\n무료수신거부 080-000-0000",
    "2025-06-15 10:00",
    "scheduled",
)


def _warehouse(rows: list[tuple], eligibility: list[dict]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema sends; create schema intermediate")
    con.register("_eligibility", pd.DataFrame(eligibility, columns=ELIGIBILITY_COLUMNS))
    con.execute(
        "create table intermediate.int_customer_eligibility_daily as select * replace ("
        " cast(as_of_date as date) as as_of_date, cast(is_eligible as boolean) as is_eligible,"
        " cast(is_address_valid as boolean) as is_address_valid,"
        " cast(has_night_consent as boolean) as has_night_consent,"
        " cast(exception_categories as varchar) as exception_categories) from _eligibility"
    )
    con.execute("create table sends.campaigns as select 'promo' as campaign_id, false as legally_required")
    con.execute(
        "create table sends.send_lists (send_key varchar, as_of_date date, channel varchar,"
        " advertised_category varchar)"
    )
    con.execute(
        "create table sends.fct_planned_sends (send_key varchar, campaign_id varchar, step integer,"
        " customer_id varchar, as_of_date date, cycle varchar, channel varchar, purpose varchar, address varchar,"
        " subject varchar, body varchar, scheduled_at timestamp, state varchar)"
    )
    for i, (customer, channel, purpose, address, subject, body, at, state) in enumerate(rows):
        con.execute(
            "insert into sends.fct_planned_sends values (?, 'promo', 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [f"k{i}", customer, D, f"cycle{i}", channel, purpose, address, subject, body, at, state],
        )
        con.execute("insert into sends.send_lists values (?, ?, ?, null)", [f"k{i}", D, channel])
    return con


# The eligibility model's answer: both customers may get ads on their channel.
ELIGIBLE = [elig("c1", "email"), elig("c2", "sms")]


def _results(rows: list[tuple], eligibility: list[dict] = ELIGIBLE) -> dict:
    frame = read_window(_warehouse(rows, eligibility), D, D)
    return validate(prepare(frame, {"promo": spec()}, PolicyConfig(), SENDER.name))


def test_a_clean_plan_passes_every_rule() -> None:
    results = _results([GOOD_EMAIL, GOOD_SMS])
    assert {rule: r.passed for rule, r in results.items()} == {rule: True for rule in Rule}


def test_an_empty_window_passes() -> None:
    assert all(r.passed for r in _results([]).values())


@pytest.mark.parametrize(
    ("rows", "eligibility", "broken"),
    [
        # the model says no (withdrawn on the day itself: the plan must have missed it)
        ([GOOD_EMAIL], [elig("c1", "email", reason="consent_withdrawn"), ELIGIBLE[1]], Rule.CONSENT),
        ([GOOD_EMAIL], [elig("c1", "email", reason="suppressed", suppression="permanent"), ELIGIBLE[1]], Rule.CONSENT),
        ([GOOD_EMAIL, GOOD_EMAIL], ELIGIBLE, Rule.NO_DUPLICATES),  # the same customer twice on a day
        ([("c2", "sms", "ad", "0212345678", *GOOD_SMS[4:])], ELIGIBLE, Rule.CONTACT_FORMAT),  # not the model's
        ([("c1", "email", "ad", "minji.example.com", *GOOD_EMAIL[4:])], ELIGIBLE, Rule.CONTACT_FORMAT),
        ([("c1", "email", "ad", GOOD_EMAIL[3], "[광고] 봄", *GOOD_EMAIL[5:])], ELIGIBLE, Rule.AD_FORM),
        ([("c2", "sms", "ad", GOOD_SMS[3], None, "봄이에요", *GOOD_SMS[6:])], ELIGIBLE, Rule.AD_FORM),
        ([(*GOOD_SMS[:6], "2025-06-15 21:00", "scheduled")], ELIGIBLE, Rule.NIGHT),
        ([(*GOOD_SMS[:6], "2025-06-15 10:00", "held_for_approval")], ELIGIBLE, Rule.AUDIENCE_GUARD),
    ],
)
def test_each_rule_catches_its_broken_row(rows: list[tuple], eligibility: list[dict], broken: Rule) -> None:
    results = _results(rows, eligibility)
    failed = {rule for rule, r in results.items() if not r.passed}
    assert failed == {broken}
    assert results[broken].failing_rows >= 1
    example = results[broken].examples[0]
    assert "c1@" not in example["address"] and "12345678" not in example["address"]


def test_night_consent_and_email_pass_the_night_rule() -> None:
    night_sms = (*GOOD_SMS[:6], "2025-06-15 22:00", "scheduled")
    night_email = (*GOOD_EMAIL[:6], "2025-06-15 22:00", "scheduled")
    eligibility = [ELIGIBLE[0], elig("c2", "sms", night=True, night_at="2024-01-01")]
    assert _results([night_sms, night_email], eligibility)[Rule.NIGHT].passed


def test_an_ad_under_the_existing_customer_exception_passes_only_for_its_category() -> None:
    exception = [elig("c1", "email", reason="no_consent", exception="skincare"), ELIGIBLE[1]]
    con = _warehouse([GOOD_EMAIL], exception)
    frame = read_window(con, D, D)
    prepared = prepare(frame, {"promo": spec()}, PolicyConfig(), SENDER.name)
    assert not validate(prepared)[Rule.CONSENT].passed  # the send list names no category
    con.execute("update sends.send_lists set advertised_category = 'skincare'")
    prepared = prepare(read_window(con, D, D), {"promo": spec()}, PolicyConfig(), SENDER.name)
    assert validate(prepared)[Rule.CONSENT].passed


def test_a_send_the_model_has_no_row_for_fails_consent_and_address() -> None:
    results = _results([GOOD_EMAIL], [ELIGIBLE[1]])
    assert {rule for rule, r in results.items() if not r.passed} == {Rule.CONSENT, Rule.CONTACT_FORMAT}
