"""Outbound webhooks to a partner system, signed in the Standard Webhooks format.

Environment (secrets come from here only): `DANGOL_WEBHOOK_SECRET` (`whsec_<base64>`, padded or not,
as the reference library reads it), `DANGOL_WEBHOOK_URL` (optional: one receiver for every message;
otherwise the address is the URL), `DANGOL_WEBHOOK_RECEIVER_DEDUPLICATES` (optional, default true: set
it to false for a receiver that does not drop repeated `webhook-id`s) and
`DANGOL_WEBHOOK_DEDUPE_WINDOW_SECONDS` (optional, default 86400: how long the receiver remembers ids).

Headers: `webhook-id` (our message key: stable across retries, so the receiver drops repeats),
`webhook-timestamp` (unix seconds, fresh per attempt), `webhook-signature` (`v1,<base64 HMAC-SHA256
of "{id}.{timestamp}.{body}">`). Because the standard obliges receivers to deduplicate on
`webhook-id`, the adapter declares `deduplicates_by_key`; for a receiver known not to
(`DANGOL_WEBHOOK_RECEIVER_DEDUPLICATES=false`), lost answers become `unknown` instead of being sent
again.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

import requests

from channels.adapters._common import HttpAdapter, exception_results, flag, number, reason, required, retry_after
from channels.base import Limits
from channels.errors import ChannelConfigError
from channels.models import Channel, Message, Outcome, SendResult


def secret_bytes(secret: str) -> bytes:
    """The key inside `whsec_<base64>`; unpadded base64 is accepted, as by the reference library."""
    text = secret.removeprefix("whsec_")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one attempt."""
    mac = hmac.new(secret_bytes(secret), f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


@dataclass(frozen=True)
class WebhookConfig:
    secret: str = field(repr=False)
    url: str | None = None
    event_type: str = "dangol.message"
    receiver_deduplicates: bool = True
    dedupe_window_seconds: float = 24 * 3600

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> WebhookConfig:
        secret = required(environ, "DANGOL_WEBHOOK_SECRET", "webhook")
        try:
            if not secret_bytes(secret):
                raise ValueError
        except ValueError:  # binascii.Error is one
            raise ChannelConfigError("webhook: DANGOL_WEBHOOK_SECRET is not whsec_<base64>") from None
        return cls(
            secret=secret,
            url=environ.get("DANGOL_WEBHOOK_URL") or None,
            receiver_deduplicates=flag(environ, "DANGOL_WEBHOOK_RECEIVER_DEDUPLICATES", "webhook", True),
            dedupe_window_seconds=number(environ, "DANGOL_WEBHOOK_DEDUPE_WINDOW_SECONDS", "webhook", 24 * 3600),
        )


class WebhookAdapter(HttpAdapter):
    name: ClassVar[str] = "webhook"
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.WEBHOOK})
    default_for: ClassVar[frozenset[Channel]] = frozenset({Channel.WEBHOOK})
    limits = Limits(
        batch_size=1,
        concurrency=32,
        deduplicates_by_key=True,
        dedupe_window_seconds=24 * 3600,
        max_body_bytes=256 * 1024,
    )
    Config: ClassVar[type[WebhookConfig]] = WebhookConfig

    def __init__(self, config: WebhookConfig, session: requests.Session | None = None) -> None:
        super().__init__(session)
        self.config = config
        self.base_url = config.url or ""
        # Per instance: whether this receiver deduplicates is a fact about the receiver.
        self.limits = dataclasses.replace(
            self.limits,
            deduplicates_by_key=config.receiver_deduplicates,
            dedupe_window_seconds=config.dedupe_window_seconds,
        )

    def send(self, messages: Sequence[Message], *, idempotency_key: str) -> list[SendResult]:
        return [self._send_one(m) for m in messages]

    def body(self, m: Message) -> bytes:
        event = {
            "type": self.config.event_type,
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "data": {
                "key": m.key,
                "campaign_id": m.campaign_id,
                "customer_id": m.customer_id,
                "purpose": str(m.purpose),
                "subject": m.subject,
                "body": m.body,
                **m.data,
            },
        }
        return json.dumps(event, ensure_ascii=False).encode()

    def _send_one(self, m: Message) -> SendResult:
        url = self.config.url or m.address
        if not url.startswith(("https://", "http://")):
            return SendResult(m.key, Outcome.PERMANENT, reason="not a webhook URL", code="address")
        body = self.body(m)
        timestamp = int(time.time())
        headers = {
            "webhook-id": m.key,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self.config.secret, m.key, timestamp, body),
            "Content-Type": "application/json",
        }
        try:
            response = self.session.post(url, data=body, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            return exception_results([m], exc)[0]
        status = response.status_code
        text = f"receiver {status}: {reason(response.text[:160])}"
        if 200 <= status < 300:
            return SendResult(m.key, Outcome.ACCEPTED, provider_id=response.headers.get("webhook-receipt") or m.key)
        if status == 410:
            return SendResult(m.key, Outcome.PERMANENT, reason=text + " (endpoint disabled)", code="410")
        if status == 429:
            return SendResult(
                m.key,
                Outcome.RETRY,
                retry_after=retry_after(response),
                throttled=True,
                reason=text,
                code="429",
            )
        if status in (401, 403):
            return SendResult(m.key, Outcome.CONFIG_ERROR, reason=text + " (signature refused?)", code=str(status))
        if status in (408, 500, 503):
            return SendResult(m.key, Outcome.RETRY, retry_after=retry_after(response), reason=text, code=str(status))
        if status >= 500:
            return SendResult(m.key, Outcome.UNKNOWN, reason=text, code=str(status))
        return SendResult(m.key, Outcome.PERMANENT, suppress=False, reason=text, code=str(status))
