"""Test sends refuse a recipient whose address is malformed or belongs to a customer, naming it masked."""

from __future__ import annotations

import re

import duckdb
import pytest

from channels.models import Channel
from orchestration.campaigns.trial import Recipient, RecipientError, check_recipients, is_test_key


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema intermediate")
    con.execute(
        "create table intermediate.int_customer_eligibility_daily as"
        " select 'c1' as customer_id, 'email' as channel, 'minji.kim@naver.com' as address"
    )
    return con


@pytest.mark.parametrize(
    ("recipient", "why"),
    [
        (Recipient("qa", Channel.EMAIL, "minji.kim@naver.com"), "qa: m********@naver.com is a customer's email"),
        (Recipient("qa", Channel.SMS, "0101234"), "qa: 010-****-1234 is not a valid sms address"),
        (Recipient("qa", Channel.EMAIL, "no-at-sign"), "is not a valid email address"),
    ],
)
def test_a_recipient_that_is_a_customer_or_malformed_is_refused(
    con: duckdb.DuckDBPyConnection, recipient: Recipient, why: str
) -> None:
    ok = Recipient("team", Channel.EMAIL, "qa@team.example")
    with pytest.raises(RecipientError, match=re.escape(why)):
        check_recipients(con, [ok, recipient])


def test_the_teams_own_addresses_pass_and_test_keys_are_marked(con: duckdb.DuckDBPyConnection) -> None:
    check_recipients(
        con, [Recipient("team", Channel.EMAIL, "qa@team.example"), Recipient("t", Channel.SMS, "01099990001")]
    )
    with pytest.raises(RecipientError, match="no test recipients"):
        check_recipients(con, [])
    assert is_test_key("test:abcd1234:k1:email:0") and not is_test_key("repurchase_reminder:1:c1:2025-06")
