"""What the HTTP adapters share: a pooled session, the classification of transport failures and of
HTTP statuses, Korean byte counting and the legal ad-form checks the adapters re-assert."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import requests

from channels.base import Adapter
from channels.errors import ChannelConfigError
from channels.masking import mask_text
from channels.models import Message, Outcome, Purpose, SendResult
from channels.transport import new_session, parse_retry_after, request_was_sent

MOBILE = re.compile(r"^01[016789]\d{7,8}$")
EMAIL = re.compile(r"^[A-Za-z0-9._%+\-']+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+$")
AD_PREFIX = "(광고)"
# `무료수신거부 080-123-4567` or `무료거부 0801234567` at the end (spaces, hyphens and a colon allowed).
AD_OPT_OUT = re.compile(r"무료\s*(수신\s*)?거부\s*[:：]?\s*080[-\s]?\d{3,4}[-\s]?\d{4}\s*$")

SMS_BYTES = 90
LMS_BYTES = 2000
LMS_TITLE_BYTES = 40


def required(environ: Mapping[str, str], name: str, adapter: str) -> str:
    """A variable the adapter cannot work without: missing or empty stops this channel only, and the
    error names the variable (never a value)."""
    value = environ.get(name, "")
    if not value.strip():
        raise ChannelConfigError(f"{adapter}: environment variable {name} is not set")
    return value


def flag(environ: Mapping[str, str], name: str, adapter: str, default: bool) -> bool:
    """A yes/no variable (1/0, true/false, yes/no, on/off); anything else is a configuration error."""
    value = environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ChannelConfigError(f"{adapter}: {name} must be true or false, got {value!r}")


def number(environ: Mapping[str, str], name: str, adapter: str, default: float) -> float:
    value = environ.get(name, "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ChannelConfigError(f"{adapter}: {name} must be a number, got {value!r}") from None


SEOUL = ZoneInfo("Asia/Seoul")  # NHN's list APIs take and give dates in Korean time
LISTED_WITHIN_SECONDS = 5.0  # a request NHN answered is in its lists by then (asked sooner, we wait)
LIST_RETENTION_DAYS = 90  # NHN lists 90 days back: older, "not listed" says nothing


def seoul_window(around: datetime, before: timedelta, after: timedelta, fmt: str) -> tuple[str, str]:
    """A date range around `around` (aware) as NHN's list APIs take it, ending no later than now."""
    now = datetime.now(UTC)
    start, end = around - before, min(around + after, now + timedelta(minutes=1))
    return start.astimezone(SEOUL).strftime(fmt), end.astimezone(SEOUL).strftime(fmt)


def list_unusable(messages: Sequence[Message], sent_at: datetime) -> list[SendResult] | None:
    """Results when NHN's lists cannot settle a request sent at `sent_at`; waits until it would be listed."""
    age = (datetime.now(UTC) - sent_at).total_seconds()
    if age > (LIST_RETENTION_DAYS - 1) * 86400:
        return results(messages, Outcome.UNKNOWN, reason="sent before the provider's lists reach back", code="list")
    if age < LISTED_WITHIN_SECONDS:
        time.sleep(LISTED_WITHIN_SECONDS - age)
    return None


class ListUnreadable(Exception):
    """An NHN list could not be read (refused, not JSON, not the documented shape): its exception's name."""


def nhn_listed(
    session: requests.Session,
    url: str,
    params: Mapping[str, str | int],
    *,
    secret_key: str,
    timeout: float,
    page_of: Callable[[dict[str, Any]], tuple[list[dict[str, Any]], int]],
) -> dict[str, dict[str, Any]]:
    """Every entry of one NHN Cloud list (SMS send list, alimtalk message list) by its
    `recipientGroupingKey` (our message key), read 1,000 a page; `page_of` takes a page's entries and
    the total count out of an answer. Raises `ListUnreadable` when any page cannot be read: a partial
    list would say "never sent" of messages on the missing pages."""
    found: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        try:
            response = session.get(
                url,
                params={**params, "pageSize": 1000, "pageNum": page},
                headers={"X-Secret-Key": secret_key},
                timeout=timeout,
            )
            answer = response.json()
            if response.status_code != 200 or not answer["header"]["isSuccessful"]:
                raise ValueError("list refused")
            entries, total = page_of(answer)
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise ListUnreadable(type(exc).__name__) from exc
        for entry in entries:
            found[str(entry.get("recipientGroupingKey"))] = entry
        if not entries or page * 1000 >= total:
            return found
        page += 1


def reason(text: object, limit: int = 300) -> str:
    """Provider text as it may appear in a result: masked, bounded."""
    return mask_text(str(text))[:limit]


def cp949_len(text: str) -> int:
    """Bytes as Korean carriers count them (Hangul 2, ASCII 1); raises UnicodeEncodeError for emoji."""
    return len(text.replace("\r\n", "\n").encode("cp949"))


def truncate_cp949(text: str, limit: int) -> str:
    out, used = [], 0
    for ch in text:
        size = len(ch.encode("cp949", errors="replace"))
        if used + size > limit:
            break
        out.append(ch)
        used += size
    return "".join(out)


def ad_sms_form_ok(body: str) -> bool:
    """The NHN ad endpoint's own rule: `(광고)` first, free opt-out with an 080 number last."""
    return body.startswith(AD_PREFIX) and AD_OPT_OUT.search(body.strip()) is not None


def results(messages: Sequence[Message], outcome: Outcome, **kw: object) -> list[SendResult]:
    return [SendResult(m.key, outcome, **kw) for m in messages]  # type: ignore[arg-type]


def exception_results(messages: Sequence[Message], exc: BaseException) -> list[SendResult]:
    """A request that never left is RETRY; one whose answer was lost is UNKNOWN."""
    if request_was_sent(exc):
        return results(messages, Outcome.UNKNOWN, reason=f"no answer: {type(exc).__name__}", code="no_answer")
    return results(messages, Outcome.RETRY, reason=f"not sent: {type(exc).__name__}", code="connect")


def status_results(messages: Sequence[Message], response: requests.Response, detail: str = "") -> list[SendResult]:
    """The generic meaning of an HTTP status, for answers the provider's body does not refine."""
    status = response.status_code
    text = reason(detail or response.text[:200])
    code = str(status)
    if status in (401, 403):
        return results(messages, Outcome.CONFIG_ERROR, reason=f"HTTP {status}: {text}", code=code)
    if status == 429:
        return results(
            messages,
            Outcome.RETRY,
            retry_after=retry_after(response),
            throttled=True,
            reason="HTTP 429: rate limited",
            code=code,
        )
    if status in (500, 503):
        return results(
            messages,
            Outcome.RETRY,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            reason=f"HTTP {status}",
            code=code,
        )
    if status >= 500 or status == 408:
        # A gateway answered for an upstream that may have processed the request.
        return results(messages, Outcome.UNKNOWN, reason=f"HTTP {status}: outcome unknown", code=code)
    return results(messages, Outcome.PERMANENT, suppress=False, reason=f"HTTP {status}: {text}", code=code)


def retry_after(response: requests.Response) -> float | None:
    """Retry-After, else an X-RateLimit-Reset epoch (SendGrid)."""
    after = parse_retry_after(response.headers.get("Retry-After"))
    if after is None and response.headers.get("X-RateLimit-Reset"):
        try:
            after = max(0.0, float(response.headers["X-RateLimit-Reset"]) - time.time())
        except ValueError:
            after = None
    return after


def unsubscribe_headers(m: Message) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe: an HTTPS URL with an opaque token, optionally a mailto."""
    links = []
    if m.data.get("unsubscribe_url"):
        links.append(f"<{m.data['unsubscribe_url']}>")
    if m.data.get("unsubscribe_mailto"):
        links.append(f"<{m.data['unsubscribe_mailto']}>")
    if not links:
        return {}
    headers = {"List-Unsubscribe": ", ".join(links)}
    if m.data.get("unsubscribe_url"):
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def email_problem(m: Message) -> SendResult | None:
    """Invariants every email path re-asserts before a provider sees the message."""
    if not EMAIL.match(m.address):
        return SendResult(m.key, Outcome.PERMANENT, reason="invalid email address", code="address")
    if m.purpose is Purpose.AD:
        if not (m.subject or "").startswith(AD_PREFIX):
            return SendResult(
                m.key,
                Outcome.PERMANENT,
                suppress=False,
                code="ad_form",
                reason="advertising email subject must start with (광고)",
            )
        if not m.data.get("unsubscribe_url", "").startswith("https://"):
            return SendResult(
                m.key,
                Outcome.PERMANENT,
                suppress=False,
                code="ad_form",
                reason="advertising email needs an HTTPS one-click unsubscribe URL",
            )
    return None


class HttpAdapter(Adapter):
    """An adapter that talks HTTP through an injected (or its own pooled) `requests.Session`."""

    timeout: ClassVar[float] = 15.0
    base_url: str = ""

    def __init__(self, session: requests.Session | None = None) -> None:
        self._session = session
        self._own_session = session is None

    @property
    def limiter_key(self) -> str:
        return f"{self.name}:{self.base_url}"

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = new_session(max(self.limits.concurrency, 4))
        return self._session

    def open(self) -> None:
        _ = self.session

    def close(self) -> None:
        if self._own_session and self._session is not None:
            self._session.close()
            self._session = None
