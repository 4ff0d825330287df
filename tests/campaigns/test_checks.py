"""The blocking checks' great-expectations rules: each catches its broken row, with masked examples."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from orchestration.campaigns.checks import Rule, prepare, read_window, validate
from orchestration.campaigns.config import PolicyConfig
from orchestration.campaigns.legal import Sender
from tests.campaigns.conftest import spec

D = date(2025, 6, 15)
SENDER = Sender.from_env()
EMAIL_BODY = (
    f"봄이에요\n발신: {SENDER.name} (1588-0000)\n"
    "수신을 원하지 않으시면 여기에서 한 번에 거부하세요: https://shop.example.com/u?t=x"
)
GOOD_EMAIL = ("c1", "email", "ad", "minji@example.com", "(광고) 봄 세일", EMAIL_BODY, "2025-06-15 10:00", "scheduled")
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


def _warehouse(rows: list[tuple], consents: list[tuple]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema sends; create schema staging")
    con.execute(
        "create table staging.stg_shop__consents (customer_id varchar, channel varchar, purpose varchar,"
        " is_granted boolean, recorded_at timestamp, consent_source varchar)"
    )
    for row in consents:
        con.execute("insert into staging.stg_shop__consents values (?, ?, ?, ?, ?, 'form')", list(row))
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
    return con


CONSENTED = [("c1", "email", "ad", True, "2024-01-01"), ("c2", "sms", "ad", True, "2024-01-01")]


def _results(rows: list[tuple], consents: list[tuple] = CONSENTED) -> dict:
    frame = read_window(_warehouse(rows, consents), D, D)
    return validate(prepare(frame, {"promo": spec()}, PolicyConfig(), SENDER.name))


def test_a_clean_plan_passes_every_rule() -> None:
    results = _results([GOOD_EMAIL, GOOD_SMS])
    assert {rule: r.passed for rule, r in results.items()} == {rule: True for rule in Rule}


def test_an_empty_window_passes() -> None:
    assert all(r.passed for r in _results([]).values())


@pytest.mark.parametrize(
    ("rows", "consents", "broken"),
    [
        # consent withdrawn on the day itself (the plan must have missed it)
        ([GOOD_EMAIL], [*CONSENTED, ("c1", "email", "ad", False, "2025-06-15 09:00")], Rule.CONSENT),
        ([GOOD_EMAIL, GOOD_EMAIL], CONSENTED, Rule.NO_DUPLICATES),  # the same customer twice on a day
        ([("c2", "sms", "ad", "0212345678", *GOOD_SMS[4:])], CONSENTED, Rule.CONTACT_FORMAT),
        ([("c1", "email", "ad", "minji.example.com", *GOOD_EMAIL[4:])], CONSENTED, Rule.CONTACT_FORMAT),
        ([("c1", "email", "ad", GOOD_EMAIL[3], "[광고] 봄", *GOOD_EMAIL[5:])], CONSENTED, Rule.AD_FORM),
        ([("c2", "sms", "ad", GOOD_SMS[3], None, "봄이에요", *GOOD_SMS[6:])], CONSENTED, Rule.AD_FORM),
        ([(*GOOD_SMS[:6], "2025-06-15 21:00", "scheduled")], CONSENTED, Rule.NIGHT),
        ([(*GOOD_SMS[:6], "2025-06-15 10:00", "held_for_approval")], CONSENTED, Rule.AUDIENCE_GUARD),
    ],
)
def test_each_rule_catches_its_broken_row(rows: list[tuple], consents: list[tuple], broken: Rule) -> None:
    results = _results(rows, consents)
    failed = {rule for rule, r in results.items() if not r.passed}
    assert failed == {broken}
    assert results[broken].failing_rows >= 1
    example = results[broken].examples[0]
    assert "minji@" not in example["address"] and "12345678" not in example["address"]


def test_night_consent_and_email_pass_the_night_rule() -> None:
    night_sms = (*GOOD_SMS[:6], "2025-06-15 22:00", "scheduled")
    night_email = (*GOOD_EMAIL[:6], "2025-06-15 22:00", "scheduled")
    consents = [*CONSENTED, ("c2", "sms", "night_ad", True, "2024-01-01")]
    assert _results([night_sms, night_email], consents)[Rule.NIGHT].passed
