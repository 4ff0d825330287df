"""The legal form of an advertising message (정보통신망법 제50조), added per channel automatically."""

from __future__ import annotations

import os
from dataclasses import dataclass

from channels.models import Channel

AD_PREFIX = "(광고)"


@dataclass(frozen=True)
class Sender:
    name: str
    contact: str
    optout_080: str
    unsubscribe_url: str

    @classmethod
    def from_env(cls) -> Sender:
        return cls(
            name=os.environ.get("DANGOL_SENDER_NAME", "단골상점"),
            contact=os.environ.get("DANGOL_SENDER_CONTACT", "1588-0000"),
            optout_080=os.environ.get("DANGOL_OPTOUT_080", "080-000-0000"),
            unsubscribe_url=os.environ.get("DANGOL_UNSUBSCRIBE_URL", "https://shop.example.com/unsubscribe"),
        )


def ad_form(channel: Channel, subject: str | None, body: str, sender: Sender) -> tuple[str | None, str]:
    """ "(광고)" first, sender name and contact, and a free way to opt out, in each channel's idiom."""
    if channel is Channel.EMAIL:
        footer = (
            f"\n\n발신: {sender.name} ({sender.contact})\n"
            f"수신을 원하지 않으시면 여기에서 거부하세요: {sender.unsubscribe_url}"
        )
        return f"{AD_PREFIX} {subject or ''}".strip(), body + footer
    if channel in (Channel.SMS, Channel.KAKAO):
        return subject, f"{AD_PREFIX}{sender.name}\n{body}\n무료수신거부 {sender.optout_080}"
    footer = f"\n수신거부: 앱 설정 > 알림 설정에서 변경 ({sender.name} {sender.contact})"
    return (f"{AD_PREFIX} {subject}" if subject else AD_PREFIX), body + footer
