"""Rendering: strict variables, the legal ad form per channel, SMS/LMS by CP949 bytes, alimtalk."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pandas as pd
import pytest

from channels.tracking.tokens import Kind, Token
from orchestration.campaigns import sms
from orchestration.campaigns.compose import CampaignTemplateError, MessageType, Unrenderable, compose
from orchestration.campaigns.legal import Sender, has_ad_form
from orchestration.campaigns.links import Tracking
from orchestration.campaigns.send_list import AudienceError, build_send_list
from tests.campaigns.conftest import spec

SENDER = Sender("단골상점", "1588-0000", "080-123-4567")
TRACKING = Tracking.of("https://t.shop.example.com", "dev:secret")
VARS = {"name": "김민지", "shop": {"name": "단골상점", "contact": "1588-0000"}}


def _one(channel: str, body: str, *, purpose: str = "ad", subject: str | None = None, **template: object):
    templates = {channel: {"body": body, **({"subject": subject} if subject else {}), **template}}
    campaign = spec(purpose=purpose, channels=[channel], legally_required=purpose == "info", templates=templates)
    return campaign, compose(campaign, channel, VARS, SENDER, "c1", TRACKING)


def token_day(token: str) -> int:
    verified = TRACKING.signer.verify(token)
    assert verified is not None
    return verified.issued_day


def test_email_and_push_links_become_tracking_links_of_the_send() -> None:
    campaign = spec(
        channels=["email", "app_push"],
        templates={
            "email": {"subject": "s", "body": "쿠폰 보기: https://shop.example.com/coupons?x=1 끝"},
            "app_push": {"subject": "s", "body": "b", "link": "https://shop.example.com/reorder"},
        },
    )
    email = compose(campaign, "email", VARS, SENDER, "k1", TRACKING)
    assert "https://shop.example.com" not in email.body and "https://t.shop.example.com/c/" in email.body
    assert email.links == (
        "https://shop.example.com/coupons?utm_source=dangol&utm_medium=email&utm_campaign=promo&utm_content=link1&x=1",
    )
    click = TRACKING.signer.verify(email.body.split("/c/")[1].split()[0])
    assert click is not None and (click.kind, click.send_key, click.channel, click.link) == (
        Kind.CLICK,
        "k1",
        "email",
        1,
    )
    push = compose(campaign, "app_push", VARS, SENDER, "k1", TRACKING)
    assert push.data["link"].startswith("https://t.shop.example.com/c/")
    assert push.links[0].startswith("https://shop.example.com/reorder?utm_source=dangol&utm_medium=app_push")


def test_a_missing_variable_is_an_error_naming_the_file_field_and_name() -> None:
    campaign = spec(templates={"email": {"subject": "{{ nickname }}님", "body": "x"}, "sms": {"body": "x"}})
    with pytest.raises(CampaignTemplateError) as error:
        compose(campaign, "email", VARS, SENDER, "c1", TRACKING)
    assert "promo.yaml: templates.email.subject: 'nickname' is undefined" in str(error.value)


def test_the_sandbox_refuses_unsafe_templates() -> None:
    campaign = spec(templates={"email": {"subject": "{{ name.__class__.__mro__ }}", "body": "x"}, "sms": {"body": "x"}})
    with pytest.raises(CampaignTemplateError):
        compose(campaign, "email", VARS, SENDER, "c1", TRACKING)


def test_email_ad_form() -> None:
    _, m = _one("email", "{{ name }}님, 봄이에요.", subject="{{ name }}님께 드리는 쿠폰")
    assert m.subject == "(광고) 김민지님께 드리는 쿠폰"
    assert m.body.startswith("김민지님, 봄이에요.")
    assert "발신: 단골상점 (1588-0000)" in m.body
    assert m.data["unsubscribe_url"].startswith("https://t.shop.example.com/u/")
    assert m.data["unsubscribe_url"] in m.body
    token = m.data["unsubscribe_url"].rsplit("/", 1)[1]
    assert TRACKING.signer.verify(token) == Token(Kind.UNSUBSCRIBE, "c1", "email", 0, token_day(token))
    assert "c1" not in m.data["unsubscribe_url"]  # an opaque token, not the send key in clear
    # A shared text (one request for many customers), its HTML part too: the open pixel is a value.
    template = json.loads(m.data["template"])
    assert "{{open_pixel_url}}" in template["html"] and template["params"]["open_pixel_url"] in m.data["html"]


def test_a_shared_email_text_shares_its_html_with_each_customers_open_pixel_as_a_value() -> None:
    from channels.models import fill

    campaign = spec(
        channels=["email"], templates={"email": {"subject": "{{ name }}님 쿠폰", "body": "{{ name }}님, 봄이에요."}}
    )
    pixels = []
    for i, name in enumerate(["김민지", "이서준"]):
        m = compose(campaign, "email", VARS | {"name": name}, SENDER, f"c{i}", TRACKING)
        template = json.loads(m.data["template"])
        assert fill(template["html"], template["params"]) == m.data["html"]
        assert template["params"]["name"] == name
        pixels.append(template["params"]["open_pixel_url"])
        shared = template["html"]
    assert len(set(pixels)) == 2 and all(p.startswith("https://t.shop.example.com/o/") for p in pixels)
    assert "김민지" not in shared and 'href="{{unsubscribe_url}}"' in shared  # the unsubscribe link stays a link


def test_a_name_that_html_escapes_keeps_its_own_html_part() -> None:
    campaign = spec(channels=["email"], templates={"email": {"subject": "쿠폰", "body": "{{ name }}님, 봄이에요."}})
    m = compose(campaign, "email", VARS | {"name": "Kim & Lee"}, SENDER, "c1", TRACKING)
    assert "template" not in m.data  # its own text and HTML, pixel included: opens still tracked
    assert "Kim &amp; Lee" in m.data["html"] and 'src="https://t.shop.example.com/o/' in m.data["html"]


def test_an_email_that_shares_no_text_carries_our_open_pixel() -> None:
    _, m = _one("email", "{{ name | upper }}님, 봄이에요.", subject="쿠폰")
    assert "template" not in m.data
    assert 'src="https://t.shop.example.com/o/' in m.data["html"] and m.data["unsubscribe_url"] in m.data["html"]
    assert has_ad_form("email", m.subject, m.body, "단골상점")


def test_sms_ad_form_and_type() -> None:
    _, m = _one("sms", "{{ name }}님, 봄이에요.")
    assert m.body == "(광고)단골상점\n김민지님, 봄이에요.\n무료수신거부 080-123-4567"
    assert (m.message_type, m.subject) == (MessageType.SMS, None)
    assert m.content_bytes == sms.cp949_bytes(m.body)
    assert has_ad_form("sms", None, m.body, "단골상점")


@pytest.mark.parametrize("channel", ["app_push", "web_push"])
def test_push_ad_form(channel: str) -> None:
    _, m = _one(channel, "새 소식이 있어요", subject="{{ name }}님")
    assert m.subject == "(광고) 김민지님"
    assert "수신거부:" in m.body and "단골상점" in m.body
    assert has_ad_form(channel, m.subject, m.body, "단골상점")


def test_informational_messages_carry_no_ad_form() -> None:
    _, m = _one("sms", "{{ name }}님, 주문하신 상품이 출발했어요.", purpose="info")
    assert "(광고)" not in m.body and "080" not in m.body


@pytest.mark.parametrize(
    ("subject", "body", "ok"),
    [
        ("(광고) 봄", "본문 단골상점 수신을 원하지 않으시면 https://x", True),
        ("[광고] 봄", "본문 단골상점 수신을 원하지 않으시면 https://x", False),  # no variants of the marker
        ("(광 고) 봄", "본문 단골상점 수신을 원하지 않으시면 https://x", False),
        ("봄 (광고)", "본문 단골상점 수신을 원하지 않으시면 https://x", False),  # at the very start
        ("(광고) 봄", "본문 단골상점", False),  # no opt-out
    ],
)
def test_the_email_ad_form_rule(subject: str, body: str, ok: bool) -> None:
    assert has_ad_form("email", subject, body, "단골상점") is ok


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ("(광고)단골상점\n봄\n무료수신거부 080-123-4567", True),
        ("(광고)단골상점\n봄\n무료거부 0801234567", True),
        ("(광고)단골상점\n봄", False),
        ("(광고)단골상점\n봄\n수신거부 010-1234-5678", False),  # not a free number
        ("단골상점(광고)\n봄\n무료수신거부 080-123-4567", False),
    ],
)
def test_the_sms_ad_form_rule(body: str, ok: bool) -> None:
    assert has_ad_form("sms", None, body, "단골상점") is ok
    assert has_ad_form("kakao", None, body, "단골상점") is False  # alimtalk never carries ads


# "(광고)단골상점\n" + body + "\n무료수신거부 080-123-4567" is 15 + len(body) + 26 bytes
_AD_OVERHEAD = 41


@pytest.mark.parametrize(
    ("purpose", "body_bytes", "kind"),
    [
        ("info", 90, MessageType.SMS),
        ("info", 91, MessageType.LMS),
        ("ad", 90 - _AD_OVERHEAD, MessageType.SMS),  # the legal form counts in the 90 bytes
        ("ad", 91 - _AD_OVERHEAD, MessageType.LMS),
        ("info", 2_000, MessageType.LMS),
    ],
)
def test_sms_or_lms_by_cp949_bytes(purpose: str, body_bytes: int, kind: MessageType) -> None:
    _, m = _one("sms", "a" * body_bytes, purpose=purpose)
    assert m.message_type is kind
    assert m.content_bytes == (body_bytes if purpose == "info" else body_bytes + _AD_OVERHEAD)
    if kind is MessageType.LMS:
        assert m.subject  # an LMS needs a title: the template's or the campaign's name


def test_hangul_counts_two_bytes_and_a_line_break_one() -> None:
    assert sms.cp949_bytes("김민지") == 6
    assert sms.cp949_bytes("a\nb") == sms.cp949_bytes("a\r\nb") == 3
    _, m = _one("sms", "가" * 45, purpose="info")
    assert (m.message_type, m.content_bytes) == (MessageType.SMS, 90)
    _, m = _one("sms", "가" * 44 + "\r\n" + "a", purpose="info")
    assert (m.message_type, m.content_bytes) == (MessageType.SMS, 90)  # CRLF is one byte, as on the phone


def test_too_long_for_an_lms_and_titles_over_40_bytes() -> None:
    with pytest.raises(Unrenderable, match="2001 bytes") as error:
        _one("sms", "a" * 2_001, purpose="info")
    assert error.value.code == "too_long"
    _, m = _one("sms", "a" * 100, purpose="info", subject="가" * 20)
    assert m.subject == "가" * 20
    with pytest.raises(Unrenderable, match="42 bytes") as error:
        _one("sms", "a" * 100, purpose="info", subject="가" * 21)
    assert error.value.code == "subject_too_long"


def test_characters_sms_cannot_carry_are_refused_by_name() -> None:
    with pytest.raises(Unrenderable) as error:
        _one("sms", "{{ name }}님 😀 쿠폰 도착")
    assert error.value.code == "unencodable_character"
    assert "U+1F600" in str(error.value) and "GRINNING FACE" in str(error.value)
    with pytest.raises(sms.UnencodableCharacter, match=r"U\+20A9 WON SIGN"):
        sms.cp949_bytes("가격 ₩1000", "sms body")


def test_hangul_outside_ks_x_1001_is_flagged_not_refused() -> None:
    _, m = _one("sms", "똠양꿍 세트가 도착했어요", purpose="info")
    assert m.message_type is MessageType.SMS
    assert any("똠" in w for w in m.warnings)
    assert sms.non_ks_x_1001("김민지") == []


def test_alimtalk_carries_its_template_code_values_and_fallback() -> None:
    _, m = _one(
        "kakao",
        "{{ name }}님은 수신에 동의하셨어요.",
        purpose="info",
        subject="수신동의 확인",
        template_code="CONSENT_2Y",
        variables={"고객명": "{{ name }}"},
    )
    assert m.message_type is MessageType.ALIMTALK
    assert m.data["template_code"] == "CONSENT_2Y"
    assert json.loads(m.data["template_params"]) == {"고객명": "김민지"}
    assert m.data["fallback_body"] == "김민지님은 수신에 동의하셨어요."


# -- the send list: audience rows rendered on every channel ------------------------------------------------


@pytest.fixture
def shop() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts; create schema staging")
    con.execute(
        "create table staging.stg_shop__customers as select * from (values"
        " ('c1', '김민지'), ('c2', null), ('c3', 'Zoë')) as t(customer_id, customer_name)"
    )
    con.execute(
        "create table marts.fct_audience_test as select * from (values"
        " (date '2025-06-15', 'c1', date '2025-05-01', timestamp '2025-06-15 20:30'),"
        " (date '2025-06-15', 'c2', date '2025-05-02', timestamp '2025-06-15 09:00'),"
        " (date '2025-06-15', 'c3', date '2025-05-03', timestamp '2025-06-15 11:00'))"
        " as t(as_of_date, customer_id, last_purchase_date, event_at)"
    )
    return con


def test_build_send_list(shop: duckdb.DuckDBPyConnection) -> None:
    campaign = spec(
        cycle_column="last_purchase_date",
        schedule={"after_event": "event_at", "delay_minutes": 60},
        coupon={"prefix": "HELLO", "benefit": "10% 할인", "valid_days": 7},
        templates={
            "email": {"subject": "{{ name }}님", "body": "{{ coupon.code }} ({{ coupon.expires_on }}까지)"},
            "sms": {"body": "{{ name }}님 {{ coupon.benefit }}"},
        },
    )
    listed = build_send_list(shop, campaign, date(2025, 6, 15), date(2025, 6, 15), SENDER, TRACKING)
    assert len(listed) == 6  # 3 customers x 2 channels
    first = listed[(listed["customer_id"] == "c1") & (listed["channel"] == "email")].iloc[0]
    assert first["cycle"] == "2025-05-01"
    # The event plus the delay (21:30 on D) has passed when the nightly run plans D at 02:00 on D+1.
    assert str(first["base_scheduled_at"]) == "2025-06-16 02:00:00"
    assert first["body"].startswith("HELLO-") and "2025-06-23까지" in first["body"]
    again = build_send_list(shop, campaign, date(2025, 6, 15), date(2025, 6, 15), SENDER, TRACKING)
    assert list(again["body"]) == list(listed["body"])  # the same personal code on a rerun
    no_name = listed[(listed["customer_id"] == "c2") & (listed["channel"] == "sms")].iloc[0]
    assert no_name["body"].startswith("(광고)단골상점\n고객님")  # never "님" alone
    zoe = listed[(listed["customer_id"] == "c3") & (listed["channel"] == "sms")].iloc[0]
    assert zoe["render_error"].startswith("unencodable_character") and "U+00EB" in zoe["render_error"]


def test_an_audience_without_the_columns_the_file_names_fails_clearly(shop: duckdb.DuckDBPyConnection) -> None:
    campaign = spec(cycle_column="purchase_cycle")
    with pytest.raises(AudienceError, match=r"promo\.yaml: cycle_column: column 'purchase_cycle' is not in"):
        build_send_list(shop, campaign, date(2025, 6, 15), date(2025, 6, 15), SENDER, TRACKING)
    shop.execute("insert into marts.fct_audience_test select * from marts.fct_audience_test limit 1")
    with pytest.raises(AudienceError, match="lists customer c1 twice on 2025-06-15"):
        build_send_list(shop, spec(), date(2025, 6, 15), date(2025, 6, 15), SENDER, TRACKING)


def test_an_empty_value_is_worded_by_the_campaign_or_not_sent(shop: duckdb.DuckDBPyConnection) -> None:
    """No blank in copy: c2's product is unknown; the email words that case, the SMS cannot and is not sent."""
    shop.execute("alter table marts.fct_audience_test add column product_name varchar")
    shop.execute(
        "update marts.fct_audience_test set product_name = case when customer_id = 'c2' then null else '향수' end"
    )
    campaign = spec(
        templates={
            "email": {"subject": "{{ name }}님", "body": "담아 두신 {{ product_name or '상품' }}, 고민되시죠?"},
            "sms": {"body": "담아 두신 {{ product_name }} 고민되시죠?"},
        },
    )
    listed = build_send_list(shop, campaign, date(2025, 6, 15), date(2025, 6, 15), SENDER, TRACKING).set_index(
        ["customer_id", "channel"]
    )
    assert listed.loc[("c1", "sms"), "body"].endswith("담아 두신 향수 고민되시죠?\n무료수신거부 080-123-4567")
    assert listed.loc[("c2", "email"), "body"].startswith("담아 두신 상품, 고민되시죠?")
    blank = listed.loc[("c2", "sms")]
    assert pd.isna(blank["body"])
    assert blank["render_error"] == (
        "empty_value: templates.sms.body: product_name is empty for this customer, and the template has no"
        " wording for that case (not sent)"
    )
    assert not listed["body"].dropna().str.contains("  ").any()
