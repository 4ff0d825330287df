"""Messages for every adapter, addressed so the fakes answer them the way a share of real recipients
would be answered (bounces, dead tokens, 080 opt-outs, non-Kakao users). Used by the fault-injection
test, the benchmark and the demo.

Personalised like the planner's: each customer's name and coupon code in the text (so no two bodies
are equal), and for SMS and email the campaign's template with the customer's values beside the
rendered body, as `orchestration/campaigns/compose.py` hands them over."""

from __future__ import annotations

import json
from typing import Any

from channels.fakes import webpush_subscription
from channels.models import Channel, Message, Purpose, Template

AD_SMS = "(광고) 단골상점 봄맞이 20% 쿠폰이 도착했어요\n무료수신거부 080-123-4567"
SMS_TEMPLATE = Template("(광고)단골상점\n{{name}}님, 봄 쿠폰 {{coupon.code}} 도착!\n무료수신거부 080-123-4567")
EMAIL_TEMPLATE = Template(
    "{{name}}님, 단골상점에서 봄맞이 20% 쿠폰({{coupon.code}})을 드려요.\n"
    "발신: 단골상점 (1588-0000)\n수신을 원하지 않으시면 여기에서 한 번에 거부하세요: {{unsubscribe_url}}",
    "(광고) {{name}}님, 봄맞이 쿠폰이 도착했어요",
)
_FAMILY = "김이박최정강조윤장임한오서신권황안송류홍"
_GIVEN = "민서지현수영준호예은도윤하진우성아린태희"
CHANNEL_OF = {
    "smtp": Channel.EMAIL,
    "sendgrid": Channel.EMAIL,
    "nhn_sms": Channel.SMS,
    "nhn_alimtalk": Channel.KAKAO,
    "fcm": Channel.APP_PUSH,
    "webpush": Channel.WEB_PUSH,
    "webhook": Channel.WEBHOOK,
    "outbox": Channel.SMS,
}


def _address(adapter: str, i: int, bad: bool, desc: dict[str, Any]) -> str:
    if adapter in ("smtp", "sendgrid"):
        return f"{'bounce' if bad else 'c'}{i}@example.com"
    if adapter in ("nhn_sms", "outbox"):
        return f"0100808{i % 10000:04d}" if bad else f"0101{i % 10_000_000:07d}"
    if adapter == "nhn_alimtalk":
        return f"0103019{i % 10000:04d}" if bad else f"0102{i % 10_000_000:07d}"
    if adapter == "fcm":
        return f"{'unregistered' if bad else 'tok'}-{i}"
    if adapter == "webpush":
        return webpush_subscription(desc, f"{'gone' if bad else 's'}-{i}")
    return f"cust-{i}"


def name(i: int) -> str:
    """A customer's name: 400 distinct ones, so neighbours differ."""
    return _FAMILY[i % len(_FAMILY)] + _GIVEN[(i // 7) % len(_GIVEN)] + _GIVEN[(i // 3) % len(_GIVEN)]


def message(adapter: str, i: int, desc: dict[str, Any], *, campaign_id: str = "demo", bad: bool = False) -> Message:
    channel = CHANNEL_OF[adapter]
    key = f"{campaign_id}:{adapter}:{i}"
    address = _address(adapter, i, bad, desc)
    coupon = f"SPRING-{i * 7919 % 1_000_000:06d}"
    if channel is Channel.EMAIL:
        params = {"name": name(i), "coupon.code": coupon, "unsubscribe_url": f"https://shop.test/u/{i:08x}"}
        body, subject = EMAIL_TEMPLATE.fill(params)
        return Message(
            key,
            campaign_id,
            f"cust-{i}",
            channel,
            Purpose.AD,
            address,
            body,
            subject=subject,
            data={"unsubscribe_url": params["unsubscribe_url"], "html": "<p>20% 쿠폰</p>"},
            template=EMAIL_TEMPLATE,
            params=params,
        )
    if channel is Channel.SMS:
        params = {"name": name(i), "coupon.code": coupon}
        body, _ = SMS_TEMPLATE.fill(params)
        return Message(
            key, campaign_id, f"cust-{i}", channel, Purpose.AD, address, body, template=SMS_TEMPLATE, params=params
        )
    if channel is Channel.KAKAO:
        return Message(
            key,
            campaign_id,
            f"cust-{i}",
            channel,
            Purpose.INFO,
            address,
            f"{name(i)}님, 주문하신 상품이 발송되었습니다. 송장번호 {i:010d}",
            data={
                "template_code": "ORDER_SHIPPED",
                "template_params": json.dumps({"name": name(i), "invoice": f"{i:010d}"}, ensure_ascii=False),
            },
        )
    return Message(
        key,
        campaign_id,
        f"cust-{i}",
        channel,
        Purpose.AD,
        address,
        f"{name(i)}님, 봄맞이 20% 쿠폰 {coupon}이 도착했어요",
        subject="(광고) 단골상점",
        data={"link": "https://shop.test/c"},
    )


def messages(
    adapter: str, n: int, desc: dict[str, Any], *, campaign_id: str = "demo", bad_every: int = 0, start: int = 0
) -> list[Message]:
    """`n` messages for `adapter`; every `bad_every`-th one (if set) gets a bad address."""
    return [
        message(adapter, i, desc, campaign_id=campaign_id, bad=bool(bad_every) and i % bad_every == 0)
        for i in range(start, start + n)
    ]
