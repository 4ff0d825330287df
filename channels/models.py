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

A personalised message may also carry its `template` (the text its campaign's messages share, with
`{{key}}` placeholders) and its own `params`: batch APIs then send the template once per request with
per-recipient values instead of one request per distinct body. `body` stays the rendered text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

PLACEHOLDER = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_.]*)\}\}")


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
class Template:
    """The text a campaign's personalised messages share: `body` and `subject` with `{{key}}`
    placeholders that each message's `params` fill.

    The planner hands one over only when `fill(params)` gives exactly the message's body and subject,
    so an adapter may send the template with the values instead of the rendered text; an adapter
    re-checks that its provider's own substitution gives the same text before it does.
    """

    body: str
    subject: str | None = None
    html: str | None = None  # the HTML part with placeholders (an email's open pixel is one of them)

    def fill(self, params: Mapping[str, str]) -> tuple[str, str | None]:
        """Body and subject with each `{{key}}` of `params` replaced (one pass; unknown keys stay)."""
        return fill(self.body, params), None if self.subject is None else fill(self.subject, params)


def fill(text: str, params: Mapping[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: params.get(m.group(1), m.group(0)), text)


@dataclass(frozen=True)
class Message:
    """One fully rendered message for one recipient on one channel.

    `key` is the idempotency key planned upstream: the ledger refuses to send a key twice.
    `address` is the channel address (see the module docstring). `template` and `params`, when set,
    are the shared text and this recipient's values that give `body` and `subject` (see `Template`).
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
    template: Template | None = None
    params: dict[str, str] = field(default_factory=dict)


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
