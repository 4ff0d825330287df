"""Kakao alimtalk (알림톡) through NHN Cloud KakaoTalk Bizmessage API v2.3.

Environment (secrets come from here only): `NHN_KAKAO_APP_KEY`, `NHN_KAKAO_SECRET_KEY`,
`NHN_KAKAO_SENDER_KEY` (the 40-character channel sender key), `NHN_KAKAO_FALLBACK_SEND_NO` (optional:
a registered SMS sender number; set it to have NHN fall back to SMS/LMS), `NHN_KAKAO_BASE_URL`
(optional).

Messages carry `data["template_code"]` and `data["template_params"]` (a JSON object filling the
approved template's `#{key}`s); one request per template code, up to 1,000 recipients. Alimtalk is
informational only (Kakao reviews every template), so an advertising message is refused here.

Fallback (대체발송): with a fallback sender number each recipient carries a `resendParameter`
(SMS ≤ 90 cp949 bytes, else LMS), and NHN sends the SMS/LMS itself when Kakao answers 3018/3019/3020.
Without one, those codes come back as permanent failures (3019 "not a KakaoTalk user" also
suppresses the number on this channel) for the planner to re-route.

Idempotency: every request carries `X-NC-API-IDEMPOTENCY-KEY`, derived from the delivery loop's batch
id and the request's recipients, so a request whose answer was lost is sent again with the same key
and NHN answers -1005 instead of sending twice. NHN remembers keys for 10 minutes
(`dedupe_window_seconds`); a claim older than that is treated as unknown. NHN remembers the key of a
request it refused as well, so -1005 only says "this key was used": every request carries the batch id
as `senderGroupingKey`, and the adapter asks the message list which recipients were registered
(accepted) and which were not (retry, under the same key). `lookup` asks the same list about a batch
whose answer never came (a killed sender): listed is accepted, not listed was never taken.

Codes: -4019, 1020 and 3008 are invalid numbers (suppressed on this channel); -2019 is content over
1,300 characters once the parameters are filled in (the message, not the number, is at fault).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests

from channels.adapters._common import (
    LMS_BYTES,
    LMS_TITLE_BYTES,
    MOBILE,
    SMS_BYTES,
    HttpAdapter,
    ListUnreadable,
    cp949_len,
    exception_results,
    list_unusable,
    nhn_listed,
    reason,
    required,
    results,
    seoul_window,
    status_results,
    truncate_cp949,
)
from channels.base import Limits
from channels.models import Channel, Message, Outcome, Purpose, SendResult

IDEMPOTENCY_HEADER = "X-NC-API-IDEMPOTENCY-KEY"
REPLAYED = -1005  # same idempotency key within 10 minutes: whether that request was accepted is asked
CONFIG_CODES = frozenset({-1000, -1001, -1002, -1003, -1004, -1006, -1007, -1008, -3005, -3016, 3016})
RETRY_CODES = frozenset({-9999})
FALLBACK_CODES = frozenset({3018, 3019, 3020})
ADDRESS_CODES = frozenset({-4019, 1020, 3008})  # invalid recipient number (API, Kakao)


@dataclass(frozen=True)
class NhnAlimtalkConfig:
    app_key: str
    secret_key: str = field(repr=False)
    sender_key: str = field(repr=False)
    fallback_send_no: str | None = None
    base_url: str = "https://kakaotalk-bizmessage.api.nhncloudservice.com"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> NhnAlimtalkConfig:
        return cls(
            app_key=required(environ, "NHN_KAKAO_APP_KEY", "nhn_alimtalk"),
            secret_key=required(environ, "NHN_KAKAO_SECRET_KEY", "nhn_alimtalk"),
            sender_key=required(environ, "NHN_KAKAO_SENDER_KEY", "nhn_alimtalk"),
            fallback_send_no=environ.get("NHN_KAKAO_FALLBACK_SEND_NO") or None,
            base_url=environ.get("NHN_KAKAO_BASE_URL", "https://kakaotalk-bizmessage.api.nhncloudservice.com"),
        )


def request_idempotency_key(batch_key: str, keys: Sequence[str]) -> str:
    """Stable for the same batch id and the same recipients, however the batch was split."""
    digest = hashlib.sha256((batch_key + "\n" + "\n".join(sorted(keys))).encode()).hexdigest()
    return digest[:40]


@functools.lru_cache(maxsize=256)
def _resend_parameter(text: str, subject: str | None, send_no: str | None) -> dict[str, Any] | None:
    """The fallback block for one text (a campaign's recipients share it: computed once, shared)."""
    try:
        size = cp949_len(text)
    except UnicodeEncodeError:
        return None  # NHN would reject the fallback text; alimtalk still goes
    resend: dict[str, Any] = {
        "isResend": True,
        "resendSendNo": send_no,
        "resendContent": text if size <= LMS_BYTES else truncate_cp949(text, LMS_BYTES),
    }
    if size <= SMS_BYTES:
        resend["resendType"] = "SMS"
    else:
        resend["resendType"] = "LMS"
        title = subject or text.split("\n", 1)[0]
        resend["resendTitle"] = truncate_cp949(title, LMS_TITLE_BYTES)
    return resend


class NhnAlimtalkAdapter(HttpAdapter):
    name: ClassVar[str] = "nhn_alimtalk"
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.KAKAO})
    default_for: ClassVar[frozenset[Channel]] = frozenset({Channel.KAKAO})
    limits = Limits(
        batch_size=1000,
        rate_per_second=None,
        concurrency=4,
        deduplicates_by_key=True,
        dedupe_window_seconds=600.0,
        max_body_bytes=1000 * 3,  # 1,000 characters including variables
    )
    Config: ClassVar[type[NhnAlimtalkConfig]] = NhnAlimtalkConfig

    def __init__(self, config: NhnAlimtalkConfig, session: requests.Session | None = None) -> None:
        super().__init__(session)
        self.config = config
        self.base_url = config.base_url.rstrip("/")

    def send(self, messages: Sequence[Message], *, idempotency_key: str) -> list[SendResult]:
        out: dict[str, SendResult] = {}
        groups: dict[str, list[tuple[Message, dict[str, Any]]]] = {}
        for m in messages:
            recipient = self.recipient(m)
            if isinstance(recipient, SendResult):
                out[m.key] = recipient
            else:
                groups.setdefault(m.data["template_code"], []).append((m, recipient))
        for template_code, group in groups.items():
            for r in self._post(template_code, group, idempotency_key):
                out[r.key] = r
        return [out[m.key] for m in messages]

    def recipient(self, m: Message) -> dict[str, Any] | SendResult:
        if m.purpose is Purpose.AD:
            return SendResult(
                m.key,
                Outcome.PERMANENT,
                suppress=False,
                code="ad",
                reason="alimtalk carries informational messages only",
            )
        if not MOBILE.match(m.address):
            return SendResult(m.key, Outcome.PERMANENT, reason="not a Korean mobile number", code="address")
        if not m.data.get("template_code"):
            return SendResult(
                m.key,
                Outcome.PERMANENT,
                suppress=False,
                code="template",
                reason="message has no template_code",
            )
        try:
            params = json.loads(m.data.get("template_params") or "{}")
        except ValueError:
            return SendResult(
                m.key,
                Outcome.PERMANENT,
                suppress=False,
                code="template",
                reason="template_params is not JSON",
            )
        recipient: dict[str, Any] = {
            "recipientNo": m.address,
            "templateParameter": params,
            "recipientGroupingKey": m.key,
        }
        if self.config.fallback_send_no:
            resend = self._resend(m)
            if resend:
                recipient["resendParameter"] = resend
        return recipient

    def _resend(self, m: Message) -> dict[str, Any] | None:
        text = m.data.get("fallback_body") or m.body
        return _resend_parameter(text, m.subject, self.config.fallback_send_no)

    def _post(
        self, template_code: str, group: Sequence[tuple[Message, dict[str, Any]]], batch_key: str | None
    ) -> list[SendResult]:
        messages = [m for m, _ in group]
        headers = {"X-Secret-Key": self.config.secret_key}
        payload: dict[str, Any] = {
            "senderKey": self.config.sender_key,
            "templateCode": template_code,
            "recipientList": [r for _, r in group],
        }
        if batch_key:
            headers[IDEMPOTENCY_HEADER] = request_idempotency_key(batch_key, [m.key for m in messages])
            payload["senderGroupingKey"] = batch_key[:100]  # what the message list is asked by
        url = f"{self.base_url}/alimtalk/v2.3/appkeys/{self.config.app_key}/messages"
        try:
            response = self.session.post(url, json=payload, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            return exception_results(messages, exc)
        if response.status_code != 200:
            return status_results(messages, response)
        try:
            answer = response.json()
            header = answer["header"]
        except (ValueError, KeyError, TypeError):
            return results(messages, Outcome.UNKNOWN, reason="unreadable answer", code="body")
        if not header.get("isSuccessful"):
            code = int(header.get("resultCode", -9999))
            if code == REPLAYED and batch_key:
                # The key is remembered for 10 minutes: the request it names is at most that old.
                return self.registered(messages, batch_key, datetime.now(UTC), timedelta(minutes=15), "-1005")
            return [self._classify(m.key, code, header.get("resultMessage", ""), None) for m in messages]
        data = answer.get("message") or {}
        by_key = {r.get("recipientGroupingKey"): r for r in data.get("sendResults") or []}
        out = []
        for m in messages:
            r = by_key.get(m.key)
            if r is None:
                out.append(SendResult(m.key, Outcome.UNKNOWN, reason="recipient missing from the answer"))
            else:
                out.append(
                    self._classify(
                        m.key,
                        int(r.get("resultCode", -9999)),
                        r.get("resultMessage", ""),
                        data.get("requestId"),
                    )
                )
        return out

    def lookup(self, messages: Sequence[Message], *, idempotency_key: str, sent_at: datetime) -> list[SendResult]:
        """What became of a batch whose answer never came, from the message list."""
        unusable = list_unusable(messages, sent_at)
        if unusable is not None:
            return unusable
        return self.registered(messages, idempotency_key, sent_at, timedelta(minutes=2), "lookup")

    def registered(
        self, messages: Sequence[Message], batch_key: str, around: datetime, before: timedelta, why: str
    ) -> list[SendResult]:
        """What NHN registered for `messages` under `batch_key` around `around`, from the message list.

        A listed recipient was accepted; one not listed was not (its request was refused, left it out,
        or never arrived), so it may be sent again. When the list cannot be read, the answer stays
        unknown.
        """
        start, end = seoul_window(around, before, timedelta(hours=1), "%Y-%m-%d %H:%M")
        params = {"senderGroupingKey": batch_key[:100], "startCreateDate": start, "endCreateDate": end}
        url = f"{self.base_url}/alimtalk/v2.3/appkeys/{self.config.app_key}/messages"

        def page_of(answer: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
            listed = answer["messageSearchResultResponse"]
            return listed.get("messages") or [], int(listed.get("totalCount") or 0)

        try:
            found = nhn_listed(
                self.session, url, params, secret_key=self.config.secret_key, timeout=self.timeout, page_of=page_of
            )
        except ListUnreadable as exc:
            return results(
                messages, Outcome.UNKNOWN, reason=f"{why}: the message list could not be read ({exc})", code=why
            )
        out = []
        for m in messages:
            entry = found.get(m.key)
            if entry is None:
                out.append(
                    SendResult(m.key, Outcome.RETRY, reason=f"{why}: the provider has no such message", code=why)
                )
            elif entry.get("messageStatus") == "FAILED" and str(entry.get("resultCode") or "").lstrip("-").isdigit():
                name = str(entry.get("resultCodeName") or "")
                out.append(self._classify(m.key, int(entry["resultCode"]), name, None))
            else:
                out.append(SendResult(m.key, Outcome.ACCEPTED, provider_id=entry.get("requestId"), code=why))
        return out

    def _classify(self, key: str, code: int, message: str, request_id: str | None) -> SendResult:
        if code == 0:
            return SendResult(key, Outcome.ACCEPTED, provider_id=request_id)
        text = f"NHN {code}: {reason(message)}"
        if code in FALLBACK_CODES:
            return SendResult(
                key,
                Outcome.PERMANENT,
                suppress=code == 3019,
                code=str(code),
                reason=text + "; no SMS fallback configured",
            )
        if code in ADDRESS_CODES:
            return SendResult(key, Outcome.PERMANENT, reason=text, code=str(code))
        if code in RETRY_CODES:
            return SendResult(key, Outcome.RETRY, reason=text, code=str(code))
        if code in CONFIG_CODES:
            return SendResult(key, Outcome.CONFIG_ERROR, reason=text, code=str(code))
        return SendResult(key, Outcome.PERMANENT, suppress=False, reason=text, code=str(code))
