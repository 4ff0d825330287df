"""Messages for every adapter, addressed so the fakes answer them the way a share of real recipients
would be answered (bounces, dead tokens, 080 opt-outs, non-Kakao users). Used by the fault-injection
test, the benchmark and the demo."""

from __future__ import annotations

import json
from typing import Any

from channels.fakes import webpush_subscription
from channels.models import Channel, Message, Purpose

AD_SMS = "(광고) 단골상점 봄맞이 20% 쿠폰이 도착했어요\n무료수신거부 080-123-4567"
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


def message(adapter: str, i: int, desc: dict[str, Any], *, campaign_id: str = "demo", bad: bool = False) -> Message:
    channel = CHANNEL_OF[adapter]
    key = f"{campaign_id}:{adapter}:{i}"
    address = _address(adapter, i, bad, desc)
    if channel is Channel.EMAIL:
        return Message(
            key,
            campaign_id,
            f"cust-{i}",
            channel,
            Purpose.AD,
            address,
            "단골상점에서 봄맞이 20% 쿠폰을 드려요.\n수신거부: https://shop.test/u",
            subject="(광고) 봄맞이 쿠폰",
            data={"unsubscribe_url": f"https://shop.test/u/{i:08x}", "html": "<p>20% 쿠폰</p>"},
        )
    if channel is Channel.SMS:
        return Message(key, campaign_id, f"cust-{i}", channel, Purpose.AD, address, AD_SMS)
    if channel is Channel.KAKAO:
        return Message(
            key,
            campaign_id,
            f"cust-{i}",
            channel,
            Purpose.INFO,
            address,
            "고객님, 주문하신 상품이 발송되었습니다.",
            data={
                "template_code": "ORDER_SHIPPED",
                "template_params": json.dumps({"name": "고객", "invoice": f"{i:010d}"}),
            },
        )
    return Message(
        key,
        campaign_id,
        f"cust-{i}",
        channel,
        Purpose.AD,
        address,
        "봄맞이 20% 쿠폰이 도착했어요",
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
