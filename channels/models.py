"""Data that crosses the boundary between the planner and the adapters.

What `Message.address` holds, per channel:

| channel  | address                                                              |
|----------|----------------------------------------------------------------------|
| email    | the email address                                                    |
| sms      | normalised Korean mobile number, "01012345678"                       |
| kakao    | normalised Korean mobile number, "01012345678"                       |
| app_push | the FCM registration token                                           |
| web_push | JSON `{"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}`         |
| webhook  | the receiver URL, or the customer id when the adapter has one URL    |

Channel extras travel in `Message.data` (all values are strings):

* email: `html` (HTML part), `unsubscribe_url` (HTTPS one-click URL with an opaque token),
  `unsubscribe_mailto`, `from_name`;
* sms: `subject` is the LMS title (≤ 40 cp949 bytes); nothing else;
* kakao: `template_code`, `template_params` (JSON object of `#{key}` values), `fallback_body`
  (SMS/LMS text if the recipient cannot get alimtalk; default: the body);
* app_push / web_push: `subject` is the title; `link`, `image`, any other key goes into the data payload;
* webhook: every key is copied into the event's `data` object.
"""

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
    RETRY = "retry"  # the provider certainly did not take it: safe to send again later
    PERMANENT = "permanent"
    OPTED_OUT = "opted_out"
    CONFIG_ERROR = "config_error"
    UNKNOWN = "unknown"  # sent, but no answer: the provider may or may not have taken it


@dataclass(frozen=True)
class Message:
    """One fully rendered message for one recipient on one channel.

    `key` is the idempotency key planned upstream: the ledger refuses to send a key twice.
    `address` is the channel address (see the module docstring).
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
    """The typed answer for one message; never a bare bool.

    `suppress` says whether a PERMANENT/OPTED_OUT result is about the address (bad number, hard
    bounce, unregistered token: stop messaging it) rather than about the request (bad template).
    `throttled` marks a RETRY that is the provider pacing us (429), not the provider failing.
    `code` is the provider's own code (HTTP status, SMTP reply, NHN resultCode, FCM errorCode).
    """

    key: str
    outcome: Outcome
    provider_id: str | None = None
    retry_after: float | None = None
    reason: str | None = None
    suppress: bool = True
    throttled: bool = False
    code: str | None = None
