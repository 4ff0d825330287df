"""The legal form of an advertising message (정보통신망법 제50조④, 시행령 제61조, KISA guide), per channel.

"(광고)" at the very start (no variants), the sender's name and contact, and a free way to opt out:
a 080 number for SMS, a one-click unsubscribe link for email, the settings path for push. Added here,
automatically, so no campaign file can forget it; `has_ad_form` is the same rule as a check.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from channels.models import Channel

AD_PREFIX = "(광고)"
SMS_OPT_OUT = "무료수신거부"
EMAIL_OPT_OUT = "수신을 원하지 않으시면"
APP_PUSH_OPT_OUT = "수신거부: 앱 설정 > 알림 설정"
WEB_PUSH_OPT_OUT = "수신거부: 브라우저 알림 설정에서 차단"
# The providers' own rule for the end of an ad SMS (NHN -6003 otherwise).
_SMS_OPT_OUT_AT_END = re.compile(r"무료\s*(수신\s*)?거부\s*[:：]?\s*080[-\s]?\d{3,4}[-\s]?\d{4}\s*$")


@dataclass(frozen=True)
class Sender:
    name: str
    contact: str
    optout_080: str

    @classmethod
    def from_env(cls) -> Sender:
        return cls(
            name=os.environ.get("DANGOL_SENDER_NAME", "단골상점"),
            contact=os.environ.get("DANGOL_SENDER_CONTACT", "1588-0000"),
            optout_080=os.environ.get("DANGOL_OPTOUT_080", "080-000-0000"),
        )


def email_ad_form(subject: str, body: str, sender: Sender, unsubscribe_link: str) -> tuple[str, str]:
    """`unsubscribe_link`: the send's one-click link (RFC 8058, an opaque signed token; see links.py)."""
    footer = (
        f"\n\n발신: {sender.name} ({sender.contact})\n{EMAIL_OPT_OUT} 여기에서 한 번에 거부하세요: {unsubscribe_link}"
    )
    return f"{AD_PREFIX} {subject}", body + footer


def sms_ad_form(body: str, sender: Sender) -> str:
    return f"{AD_PREFIX}{sender.name}\n{body}\n{SMS_OPT_OUT} {sender.optout_080}"


def push_ad_form(channel: Channel, title: str, body: str, sender: Sender) -> tuple[str, str]:
    instruction = APP_PUSH_OPT_OUT if channel is Channel.APP_PUSH else WEB_PUSH_OPT_OUT
    return f"{AD_PREFIX} {title}", f"{body}\n{instruction} ({sender.name} {sender.contact})"


def has_ad_form(channel: Channel | str, subject: str | None, body: str, sender_name: str) -> bool:
    """The rule the blocking check applies to every planned ad."""
    channel = Channel(channel)
    if channel is Channel.EMAIL:
        return (
            (subject or "").startswith(f"{AD_PREFIX} ")
            and sender_name in body
            and EMAIL_OPT_OUT in body
            and "https://" in body
        )
    if channel is Channel.SMS:
        return body.startswith(f"{AD_PREFIX}{sender_name}") and _SMS_OPT_OUT_AT_END.search(body) is not None
    if channel in (Channel.APP_PUSH, Channel.WEB_PUSH):
        instruction = APP_PUSH_OPT_OUT if channel is Channel.APP_PUSH else WEB_PUSH_OPT_OUT
        return (subject or "").startswith(AD_PREFIX) and instruction in body and sender_name in body
    return False  # kakao alimtalk cannot carry ads at all
