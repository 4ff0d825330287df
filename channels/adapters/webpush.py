"""Browser push (Web Push, RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291).

Environment (secrets come from here only): `VAPID_PRIVATE_KEY` (base64url raw P-256 key or DER, as
py_vapid reads it), `VAPID_SUBJECT` (`mailto:ops@…` or an https URL).

The address is the subscription JSON the browser produced. pywebpush encrypts each message (a fresh
key per message, as the RFC requires); the VAPID header is signed once per push-service origin and
reused until an hour before it expires. 404/410 mean the subscription is gone: suppress it. The push
services publish no idempotency key, so a lost answer is `unknown`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from py_vapid import Vapid02
from pywebpush import WebPusher, WebPushException

from channels.adapters._common import AD_PREFIX, HttpAdapter, exception_results, reason, required, retry_after
from channels.base import Limits
from channels.models import Channel, Message, Outcome, Purpose, SendResult

MAX_PLAINTEXT_BYTES = 3000  # 4,096 encrypted bytes is the only guaranteed size
VAPID_LIFETIME = 12 * 3600


@dataclass(frozen=True)
class WebPushConfig:
    vapid_private_key: str = field(repr=False)
    vapid_subject: str
    ttl_seconds: int = 24 * 3600
    urgency: str = "normal"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> WebPushConfig:
        return cls(
            vapid_private_key=required(environ, "VAPID_PRIVATE_KEY", "webpush"),
            vapid_subject=required(environ, "VAPID_SUBJECT", "webpush"),
        )


class WebPushAdapter(HttpAdapter):
    name: ClassVar[str] = "webpush"
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.WEB_PUSH})
    default_for: ClassVar[frozenset[Channel]] = frozenset({Channel.WEB_PUSH})
    limits = Limits(
        batch_size=1,
        rate_per_second=None,
        concurrency=32,
        max_body_bytes=MAX_PLAINTEXT_BYTES,
    )
    Config: ClassVar[type[WebPushConfig]] = WebPushConfig

    def __init__(self, config: WebPushConfig, session: requests.Session | None = None) -> None:
        super().__init__(session)
        self.config = config
        self._vapid = Vapid02.from_string(config.vapid_private_key)
        self._headers: dict[str, tuple[dict[str, str], float]] = {}
        self._headers_lock = threading.Lock()

    def vapid_headers(self, endpoint: str) -> dict[str, str]:
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        with self._headers_lock:
            cached = self._headers.get(audience)
            if cached is None or cached[1] - now < 3600:
                exp = int(now) + VAPID_LIFETIME
                headers = self._vapid.sign({"aud": audience, "exp": exp, "sub": self.config.vapid_subject})
                cached = self._headers[audience] = ({k: str(v) for k, v in headers.items()}, exp)
            return dict(cached[0])

    def send(self, messages: Sequence[Message], *, idempotency_key: str) -> list[SendResult]:
        return [self._send_one(m) for m in messages]

    def _send_one(self, m: Message) -> SendResult:
        try:
            subscription = json.loads(m.address)
            endpoint = str(subscription["endpoint"])
            keys = subscription["keys"]
            if not endpoint.startswith(("https://", "http://")) or not keys.get("p256dh") or not keys.get("auth"):
                raise ValueError
        except (ValueError, KeyError, TypeError, AttributeError):
            return SendResult(m.key, Outcome.PERMANENT, reason="not a push subscription", code="address")
        if m.purpose is Purpose.AD and not ((m.subject or "").startswith(AD_PREFIX) or m.body.startswith(AD_PREFIX)):
            return SendResult(
                m.key,
                Outcome.PERMANENT,
                suppress=False,
                code="ad_form",
                reason="advertising push must show (광고) in the title or body",
            )
        payload: dict[str, Any] = {
            "title": m.subject or "",
            "body": m.body,
            "key": m.key,
            "data": {k: v for k, v in m.data.items()},
        }
        data = json.dumps(payload, ensure_ascii=False).encode()
        if len(data) > MAX_PLAINTEXT_BYTES:
            return SendResult(m.key, Outcome.PERMANENT, suppress=False, code="size", reason="payload over 3 KB")
        headers = self.vapid_headers(endpoint) | {"Urgency": self.config.urgency}
        try:
            pusher = WebPusher(subscription, requests_session=self.session)
            response = pusher.send(
                data=data,
                headers=headers,
                ttl=self.config.ttl_seconds,
                content_encoding="aes128gcm",
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            return exception_results([m], exc)[0]
        except (WebPushException, ValueError) as exc:
            return SendResult(
                m.key,
                Outcome.PERMANENT,
                reason=f"cannot encrypt for this subscription: {reason(exc)}",
                code="keys",
            )
        assert isinstance(response, requests.Response)
        return self._classify(m, response)

    def _classify(self, m: Message, response: requests.Response) -> SendResult:
        status = response.status_code
        text = f"push service {status}: {reason(response.text[:160])}"
        if status in (200, 201, 202):
            return SendResult(m.key, Outcome.ACCEPTED, provider_id=response.headers.get("Location"))
        if status in (404, 410):
            return SendResult(m.key, Outcome.PERMANENT, reason=text, code=str(status))
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
            return SendResult(m.key, Outcome.CONFIG_ERROR, reason=text + " (VAPID key mismatch?)", code=str(status))
        if status in (500, 503):
            return SendResult(m.key, Outcome.RETRY, retry_after=retry_after(response), reason=text, code=str(status))
        if status >= 500:
            return SendResult(m.key, Outcome.UNKNOWN, reason=text, code=str(status))
        return SendResult(m.key, Outcome.PERMANENT, suppress=False, reason=text, code=str(status))
