"""Korean SMS/LMS through NHN Cloud SMS API v3.0 (or anything speaking its shape).

Environment (secrets come from here only): `NHN_SMS_APP_KEY`, `NHN_SMS_SECRET_KEY`,
`NHN_SMS_SEND_NO` (the pre-registered sender number, 발신번호 사전등록), `NHN_SMS_BASE_URL` (optional).

Type by cp949 byte length: ≤ 90 bytes SMS, ≤ 2,000 bytes LMS (title ≤ 40 bytes, from the subject or
the first line). Advertising goes to the ad endpoints, which NHN itself rejects (-6003) unless the
body starts with `(광고)` and ends with a free 080 opt-out; the adapter checks the same before
sending. One request carries one body for up to 1,000 recipients; our key rides along as
`recipientGroupingKey` and comes back in receipts.

Personalised messages (a `Template` with per-recipient `params`) go as one request per template: the
body and title carry `##key##` placeholders and each recipient its `templateParameter`, which NHN
fills in. The adapter sends a template only when filling it the way NHN does gives exactly the
message's rendered text (and the template itself has the ad form NHN checks); otherwise, and with
`NHN_SMS_TEMPLATE_PARAMETERS=false`, messages are grouped by identical rendered text. NHN documents
`templateParameter` beside `templateId` (a template registered in its console); confirm against the
account that free-text bodies are filled too before relying on it (`false` is the safe setting).

NHN answers HTTP 200 even on errors: the request verdict is `header.resultCode`, each recipient's
is in `body.data.sendResultList`. No idempotency key exists, but every request carries the batch id
as `senderGroupingKey`, so a batch whose answer never came is looked up in NHN's send lists (SMS and
LMS, by creation time and that key): a listed message was accepted (or failed, as listed), one not
listed never reached NHN and may be sent again.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import requests

from channels.adapters._common import (
    LMS_BYTES,
    LMS_TITLE_BYTES,
    MOBILE,
    SMS_BYTES,
    HttpAdapter,
    ListUnreadable,
    ad_sms_form_ok,
    cp949_len,
    exception_results,
    flag,
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
from channels.models import PLACEHOLDER, Channel, Message, Outcome, Purpose, SendResult

# Request-level codes. Anything else that is negative and not listed is a permanent request problem.
CONFIG_CODES = frozenset(
    {-1000, -1001, -1002, -1003, -1004, -1006, -1007, -1008, -2006, -2052, -2312, -2313, -6000, -6004}
)
RETRY_CODES = frozenset({-9999, -2021})
ADDRESS_CODES = frozenset({-2018, -2019, 3001, 3003})
OPT_OUT_CODES = frozenset({-6001})


@dataclass(frozen=True)
class NhnSmsConfig:
    app_key: str
    secret_key: str = field(repr=False)
    send_no: str
    base_url: str = "https://sms.api.nhncloudservice.com"
    template_parameters: bool = True  # send personalised messages as one template + per-recipient values

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> NhnSmsConfig:
        return cls(
            app_key=required(environ, "NHN_SMS_APP_KEY", "nhn_sms"),
            secret_key=required(environ, "NHN_SMS_SECRET_KEY", "nhn_sms"),
            send_no=required(environ, "NHN_SMS_SEND_NO", "nhn_sms"),
            base_url=environ.get("NHN_SMS_BASE_URL", "https://sms.api.nhncloudservice.com"),
            template_parameters=flag(environ, "NHN_SMS_TEMPLATE_PARAMETERS", "nhn_sms", True),
        )


@dataclass(frozen=True)
class SmsForm:
    """Which endpoint and what text a message goes out as."""

    endpoint: str  # sms | mms | ad-sms | ad-mms
    body: str
    title: str | None


def text_form(key: str, body: str, subject: str | None, purpose: Purpose) -> SmsForm | SendResult:
    """Choose SMS or LMS and the ad endpoint for one rendered body, or say why it cannot go."""
    text = body.replace("\r\n", "\n")
    try:
        size = cp949_len(text)
    except UnicodeEncodeError:
        return SendResult(
            key,
            Outcome.PERMANENT,
            suppress=False,
            code="-2023",
            reason="body has characters outside cp949 (emoji?)",
        )
    ad = purpose is Purpose.AD
    if ad and not ad_sms_form_ok(text):
        return SendResult(
            key,
            Outcome.PERMANENT,
            suppress=False,
            code="-6003",
            reason="ad SMS must start with (광고) and end with 무료수신거부 080…",
        )
    if size <= SMS_BYTES:
        return SmsForm("ad-sms" if ad else "sms", text, None)
    if size > LMS_BYTES:
        return SendResult(
            key,
            Outcome.PERMANENT,
            suppress=False,
            code="length",
            reason=f"body is {size} bytes; LMS allows {LMS_BYTES}",
        )
    title = (subject or text.split("\n", 1)[0]).strip()
    try:
        title = truncate_cp949(title, LMS_TITLE_BYTES) if cp949_len(title) > LMS_TITLE_BYTES else title
    except UnicodeEncodeError:
        title = truncate_cp949(title.encode("cp949", errors="ignore").decode("cp949"), LMS_TITLE_BYTES)
    return SmsForm("ad-mms" if ad else "mms", text, title)


_NHN_PARAM = re.compile(r"##([A-Za-z0-9_]+)##")


@functools.lru_cache(maxsize=1024)
def nhn_template(text: str) -> str:
    """Our `{{coupon.code}}` placeholders as NHN's `##coupon_code##`."""
    return PLACEHOLDER.sub(lambda v: f"##{v.group(1).replace('.', '_')}##", text.replace("\r\n", "\n"))


@functools.lru_cache(maxsize=256)
def _nhn_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k.replace(".", "_") for k in keys)


_ad_form_ok = functools.lru_cache(maxsize=1024)(ad_sms_form_ok)


@functools.lru_cache(maxsize=1024)
def _fits(text: str, limit: int) -> bool:
    try:
        return cp949_len(text) <= limit
    except UnicodeEncodeError:
        return False


def nhn_fill(text: str, params: Mapping[str, str]) -> str:
    """What NHN makes of a template: each `##key##` with a parameter replaced, once."""
    return _NHN_PARAM.sub(lambda v: params.get(v.group(1), v.group(0)), text)


def classify_nhn_code(key: str, code: int, message: str, provider_id: str | None = None) -> SendResult:
    """One NHN resultCode (request- or recipient-level) as an outcome."""
    if code == 0:
        return SendResult(key, Outcome.ACCEPTED, provider_id=provider_id)
    text = f"NHN {code}: {reason(message)}"
    if code in OPT_OUT_CODES:
        return SendResult(key, Outcome.OPTED_OUT, reason=text, code=str(code))
    if code in ADDRESS_CODES:
        return SendResult(key, Outcome.PERMANENT, reason=text, code=str(code))
    if code in RETRY_CODES:
        return SendResult(key, Outcome.RETRY, reason=text, code=str(code))
    if code in CONFIG_CODES:
        return SendResult(key, Outcome.CONFIG_ERROR, reason=text, code=str(code))
    return SendResult(key, Outcome.PERMANENT, suppress=False, reason=text, code=str(code))


class NhnSmsAdapter(HttpAdapter):
    name: ClassVar[str] = "nhn_sms"
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.SMS})
    default_for: ClassVar[frozenset[Channel]] = frozenset({Channel.SMS})
    limits = Limits(
        batch_size=1000,  # recipientList maximum (-2016 beyond)
        rate_per_second=None,  # none published; a monthly quota instead (-2052)
        concurrency=4,
        max_body_bytes=LMS_BYTES,
    )
    Config: ClassVar[type[NhnSmsConfig]] = NhnSmsConfig

    def __init__(self, config: NhnSmsConfig, session: requests.Session | None = None) -> None:
        super().__init__(session)
        self.config = config
        self.base_url = config.base_url.rstrip("/")

    def send(self, messages: Sequence[Message], *, idempotency_key: str) -> list[SendResult]:
        out: dict[str, SendResult] = {}
        # One request per (endpoint, body, title): the rendered text, or the template whose
        # recipients carry their parameters.
        groups: dict[tuple[SmsForm, bool], list[tuple[Message, dict[str, str] | None]]] = {}
        # Identical content is checked once (a campaign without personalisation); each number always.
        forms: dict[tuple[str, str | None, Purpose], SmsForm | SendResult] = {}
        for m in messages:
            content = (m.body, m.subject, m.purpose)
            form = forms.get(content)
            if form is None:
                form = forms[content] = text_form(m.key, m.body, m.subject, m.purpose)
            if isinstance(form, SendResult):
                out[m.key] = dataclasses.replace(form, key=m.key)
                continue
            if not MOBILE.match(m.address):
                out[m.key] = SendResult(m.key, Outcome.PERMANENT, reason="not a Korean mobile number", code="address")
                continue
            shared = self.shared_form(m, form) if m.template is not None else None
            if shared is None:
                groups.setdefault((form, False), []).append((m, None))
            else:
                groups.setdefault((shared[0], True), []).append((m, shared[1]))
        for (form, _), group in groups.items():
            for r in self.post(form, group, idempotency_key):
                out[r.key] = r
        return [out[m.key] for m in messages]

    def shared_form(self, m: Message, form: SmsForm) -> tuple[SmsForm, dict[str, str]] | None:
        """`form` as NHN's template and this recipient's parameters, if NHN's filling gives `form` back."""
        assert m.template is not None
        if not self.config.template_parameters:
            return None
        params = dict(zip(_nhn_keys(tuple(m.params)), m.params.values(), strict=True))
        body = nhn_template(m.template.body)
        if body == form.body or nhn_fill(body, params) != form.body:
            return None  # nothing to fill in, or NHN would not make this message's text of it
        if form.endpoint.startswith("ad-") and not _ad_form_ok(body):
            return None  # NHN checks the ad form on the text as sent
        if not _fits(body, SMS_BYTES if form.endpoint.endswith("sms") else LMS_BYTES):
            return None  # the limits hold for the filled text; the template itself must not exceed them
        title = form.title
        if title is not None and m.template.subject is not None:
            shared_title = nhn_template(m.template.subject)
            if nhn_fill(shared_title, params) == title and _fits(shared_title, LMS_TITLE_BYTES):
                title = shared_title
        return SmsForm(form.endpoint, body, title), params

    def lookup(self, messages: Sequence[Message], *, idempotency_key: str, sent_at: datetime) -> list[SendResult]:
        """What became of a batch whose answer never came, from NHN's SMS and LMS send lists."""
        unusable = list_unusable(messages, sent_at)
        if unusable is not None:
            return unusable
        start, end = seoul_window(sent_at, timedelta(minutes=2), timedelta(hours=1), "%Y-%m-%d %H:%M:%S")
        params = {"senderGroupingKey": idempotency_key[:100], "startCreateDate": start, "endCreateDate": end}

        def page_of(answer: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
            return answer["body"]["data"] or [], int(answer["body"].get("totalCount") or 0)

        found: dict[str, dict[str, Any]] = {}
        try:
            for kind in ("sms", "mms"):  # ad messages are listed with the others (adYn)
                url = f"{self.base_url}/sms/v3.0/appKeys/{self.config.app_key}/sender/{kind}"
                found |= nhn_listed(
                    self.session, url, params, secret_key=self.config.secret_key, timeout=self.timeout, page_of=page_of
                )
        except ListUnreadable as exc:
            return results(
                messages, Outcome.UNKNOWN, reason=f"lookup: the send list could not be read ({exc})", code="lookup"
            )
        return [self._listed(m.key, found.get(m.key)) for m in messages]

    @staticmethod
    def _listed(key: str, entry: dict[str, Any] | None) -> SendResult:
        """One message as NHN's send list shows it (msgStatus 0 failed, 1/2 requested/processing,
        3 delivered, 4 cancelled, 5 duplicate, 6 ad-restricted, 7 waiting to resend)."""
        if entry is None:
            return SendResult(key, Outcome.RETRY, reason="lookup: not in the provider's send list", code="lookup")
        status = str(entry.get("msgStatus"))
        request_id = entry.get("requestId")
        if status in ("1", "2", "3", "7"):
            return SendResult(key, Outcome.ACCEPTED, provider_id=request_id, code="lookup")
        code = str(entry.get("resultCode") or "")
        if status == "0" and code.lstrip("-").isdigit():
            return classify_nhn_code(key, int(code), str(entry.get("resultCodeName") or ""), request_id)
        text = f"lookup: listed as {entry.get('msgStatusName') or status}"
        return SendResult(key, Outcome.PERMANENT, suppress=False, provider_id=request_id, reason=text, code=status)

    def post(
        self, form: SmsForm, group: Sequence[tuple[Message, dict[str, str] | None]], batch_key: str
    ) -> list[SendResult]:
        """One request to `form.endpoint` for `group`, all sharing the body (or its template); the batch
        id goes as `senderGroupingKey`, which `lookup` asks the send list by."""
        recipients = []
        for m, params in group:
            recipient: dict[str, Any] = {"recipientNo": m.address, "recipientGroupingKey": m.key}
            if params is not None:
                recipient["templateParameter"] = params
            recipients.append(recipient)
        payload: dict[str, Any] = {
            "body": form.body,
            "sendNo": self.config.send_no,
            "senderGroupingKey": batch_key[:100],
            "recipientList": recipients,
        }
        if form.title:
            payload["title"] = form.title
        messages = [m for m, _ in group]
        url = f"{self.base_url}/sms/v3.0/appKeys/{self.config.app_key}/sender/{form.endpoint}"
        try:
            response = self.session.post(
                url, json=payload, timeout=self.timeout, headers={"X-Secret-Key": self.config.secret_key}
            )
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
            return [classify_nhn_code(m.key, code, header.get("resultMessage", "")) for m in messages]
        data = (answer.get("body") or {}).get("data") or {}
        request_id = data.get("requestId")
        by_key = {r.get("recipientGroupingKey"): r for r in data.get("sendResultList") or []}
        out = []
        for m in messages:
            r = by_key.get(m.key)
            if r is None:
                out.append(SendResult(m.key, Outcome.UNKNOWN, reason="recipient missing from the answer"))
            else:
                out.append(
                    classify_nhn_code(m.key, int(r.get("resultCode", -9999)), r.get("resultMessage", ""), request_id)
                )
        return out
