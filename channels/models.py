"""Data that crosses the boundary between the planner and the adapters."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    KAKAO = "kakao"
    APP_PUSH = "app_push"
    WEB_PUSH = "web_push"
    WEBHOOK = "webhook"


class Purpose(StrEnum):
    AD = "ad"
    INFO = "info"


class Outcome(StrEnum):
    """What one provider call said about one recipient."""

    ACCEPTED = "accepted"
    RETRY = "retry"
    PERMANENT = "permanent"
    OPTED_OUT = "opted_out"
    CONFIG_ERROR = "config_error"


@dataclass(frozen=True)
class Message:
    """One fully rendered message for one recipient on one channel.

    `key` is the idempotency key planned upstream: the ledger refuses to send a key twice.
    `address` is the channel address (email, normalised phone, push token, endpoint JSON).
    """

    key: str
    campaign_id: str
    customer_id: str
    channel: Channel
    purpose: Purpose
    address: str
    body: str
    subject: str | None = None
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """The typed answer for one message; never a bare bool."""

    key: str
    outcome: Outcome
    provider_id: str | None = None
    retry_after: float | None = None
    reason: str | None = None
