"""Email through SendGrid's v3 Mail Send API (or anything speaking its shape).

Environment (secrets come from here only): `SENDGRID_API_KEY`, `DANGOL_EMAIL_FROM`,
`DANGOL_EMAIL_FROM_NAME` (optional), `SENDGRID_BASE_URL` (optional; EU: https://api.eu.sendgrid.com).

One request carries up to 1,000 personalizations (one per recipient, each with its own subject, its
one-click `List-Unsubscribe` headers and our key in `custom_args`, echoed by the event webhook). The
content is shared by a request: personalised messages (a `Template` with per-recipient `params`)
share their template, each personalization carrying its `substitutions` (`{{key}}` -> value, which
SendGrid replaces in the content and subject); others are grouped by identical body. A template is
used only when SendGrid's replacement gives exactly the message's text. 202 is "accepted", never
"delivered". A 400 names the offending personalizations: those fail permanently and the rest of the
request is retried at once, so one bad address never fails the batch.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import requests

from channels.adapters._common import (
    HttpAdapter,
    email_problem,
    exception_results,
    reason,
    required,
    status_results,
    unsubscribe_headers,
)
from channels.base import Limits
from channels.models import Channel, Message, Outcome, SendResult

_FIELD = re.compile(r"^personalizations\.(\d+)")
MAX_SUBSTITUTION_BYTES = 10_000  # per personalization


def substitute(text: str, substitutions: Mapping[str, str]) -> str:
    """What SendGrid makes of a text: every occurrence of each tag replaced by its value."""
    for tag, value in substitutions.items():
        text = text.replace(tag, value)
    return text


@functools.lru_cache(maxsize=256)
def _tags(keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple("{{" + k + "}}" for k in keys)


def substitutions_for(m: Message) -> dict[str, str] | None:
    """This message's substitutions, if SendGrid's replacement of its template gives its own text."""
    if m.template is None or not m.params:
        return None
    subs = dict(zip(_tags(tuple(m.params)), m.params.values(), strict=True))
    if any("{{" in v for v in subs.values()):
        return None  # a value holding a tag would be replaced again, in SendGrid's order
    if "{{" in (m.subject or ""):
        return None  # substitutions apply to the subject and every content part as well
    html = m.data.get("html")
    if m.template.html is None and html and "{{" in html:
        return None
    chars = sum(len(k) + len(v) for k, v in subs.items())
    if chars * 4 > MAX_SUBSTITUTION_BYTES and (  # UTF-8 takes at most 4 bytes a character
        sum(len(k.encode()) + len(v.encode()) for k, v in subs.items()) > MAX_SUBSTITUTION_BYTES
    ):
        return None
    if substitute(m.template.body, subs) != m.body:
        return None
    if m.template.html is not None and substitute(m.template.html, subs) != html:
        return None  # the shared HTML part must give this message's own, open pixel included
    return subs


def _html_part(m: Message, shared: bool) -> str | None:
    """The HTML content sent for `m`: the shared one when its substitutions are used, else its own."""
    if shared and m.template is not None and m.template.html is not None:
        return m.template.html
    return m.data.get("html")


@dataclass(frozen=True)
class SendGridConfig:
    api_key: str = field(repr=False)
    from_email: str
    from_name: str | None = None
    base_url: str = "https://api.sendgrid.com"
    sandbox: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SendGridConfig:
        return cls(
            api_key=required(environ, "SENDGRID_API_KEY", "sendgrid"),
            from_email=required(environ, "DANGOL_EMAIL_FROM", "sendgrid"),
            from_name=environ.get("DANGOL_EMAIL_FROM_NAME"),
            base_url=environ.get("SENDGRID_BASE_URL", "https://api.sendgrid.com"),
        )


class SendGridAdapter(HttpAdapter):
    name: ClassVar[str] = "sendgrid"
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.EMAIL})
    default_for: ClassVar[frozenset[Channel]] = frozenset({Channel.EMAIL})
    limits = Limits(
        batch_size=1000,  # personalizations (= recipients here) per request
        rate_per_second=None,  # SendGrid publishes no number for mail/send
        concurrency=4,
        max_body_bytes=20 * 1024 * 1024,  # whole request, 30 MB documented; margin
    )
    Config: ClassVar[type[SendGridConfig]] = SendGridConfig

    def __init__(self, config: SendGridConfig, session: requests.Session | None = None) -> None:
        super().__init__(session)
        self.config = config
        self.base_url = config.base_url.rstrip("/")

    def send(self, messages: Sequence[Message], *, idempotency_key: str) -> list[SendResult]:
        out: dict[str, SendResult] = {}
        groups: dict[tuple[str, str | None], list[tuple[set[str], list[Message]]]] = {}
        substitutions: dict[str, dict[str, str]] = {}
        for m in messages:
            problem = email_problem(m)
            if problem:
                out[m.key] = problem
                continue
            subs = substitutions_for(m)
            if subs is not None and m.template is not None:
                substitutions[m.key] = subs
                content = m.template.body
            else:
                content = m.body
            requests_for_content = groups.setdefault((content, _html_part(m, subs is not None)), [])
            # SendGrid rejects a request naming one address twice: a repeat goes to the next request.
            address = m.address.lower()
            for seen, group in requests_for_content:
                if address not in seen:
                    seen.add(address)
                    group.append(m)
                    break
            else:
                requests_for_content.append(({address}, [m]))
        for request_groups in groups.values():
            for _, group in request_groups:
                pending = group
                for _ in range(3):  # 400 naming some recipients: send the others again at once
                    answered = self._post(pending, substitutions)
                    pending = [m for m in pending if answered[m.key].code == "400-sibling"]
                    out.update({k: r for k, r in answered.items() if r.code != "400-sibling"})
                    if not pending:
                        break
                for m in pending:
                    out[m.key] = SendResult(m.key, Outcome.RETRY, reason="request rejected for other recipients")
        return [out[m.key] for m in messages]

    def payload(
        self, group: Sequence[Message], substitutions: Mapping[str, dict[str, str]] | None = None
    ) -> dict[str, object]:
        """The request for `group` (one content); `substitutions` by key, worked out here if not given."""
        if substitutions is None:
            substitutions = {m.key: s for m in group if (s := substitutions_for(m)) is not None}
        first = group[0]
        sender: dict[str, str] = {"email": self.config.from_email}
        if first.data.get("from_name") or self.config.from_name:
            sender["name"] = first.data.get("from_name") or self.config.from_name or ""
        text = first.template.body if first.key in substitutions and first.template is not None else first.body
        content = [{"type": "text/plain", "value": text}]
        html = _html_part(first, first.key in substitutions)
        if html:
            content.append({"type": "text/html", "value": html})
        personalizations = []
        for m in group:
            p: dict[str, object] = {
                "to": [{"email": m.address}],
                "custom_args": {"dangol_key": m.key, "campaign_id": m.campaign_id},
            }
            if m.subject != first.subject:
                p["subject"] = m.subject or ""
            subs = substitutions.get(m.key)
            if subs:
                p["substitutions"] = subs
            headers = unsubscribe_headers(m)
            if headers:
                p["headers"] = headers
            personalizations.append(p)
        payload: dict[str, object] = {
            "personalizations": personalizations,
            "from": sender,
            "subject": first.subject or "",
            "content": content,
        }
        if self.config.sandbox:
            payload["mail_settings"] = {"sandbox_mode": {"enable": True}}
        return payload

    def _post(self, group: Sequence[Message], substitutions: Mapping[str, dict[str, str]]) -> dict[str, SendResult]:
        try:
            response = self.session.post(
                f"{self.base_url}/v3/mail/send",
                json=self.payload(group, substitutions),
                timeout=self.timeout,
                headers={"Authorization": f"Bearer {self.config.api_key}"},
            )
        except requests.RequestException as exc:
            return {r.key: r for r in exception_results(group, exc)}
        if response.status_code == 202:
            message_id = response.headers.get("X-Message-Id")
            return {m.key: SendResult(m.key, Outcome.ACCEPTED, provider_id=message_id) for m in group}
        if response.status_code == 400:
            return self._bad_request(group, response)
        return {r.key: r for r in status_results(group, response, _errors_text(response))}

    def _bad_request(self, group: Sequence[Message], response: requests.Response) -> dict[str, SendResult]:
        try:
            errors = response.json().get("errors", [])
        except ValueError:
            errors = []
        named: dict[int, tuple[str, bool]] = {}
        for error in errors:
            where = str(error.get("field") or "")
            match = _FIELD.match(where)
            if match:
                text = str(error.get("message") or "invalid")
                # A malformed address is about the address; a repeated one is about our request.
                named[int(match.group(1))] = (text, where.endswith(".email") and "unique" not in text.lower())
        if not named:
            text = reason(_errors_text(response))
            return {
                m.key: SendResult(m.key, Outcome.PERMANENT, suppress=False, reason=f"HTTP 400: {text}", code="400")
                for m in group
            }
        out = {}
        for i, m in enumerate(group):
            if i in named:
                text, address_level = named[i]
                out[m.key] = SendResult(
                    m.key,
                    Outcome.PERMANENT,
                    suppress=address_level,
                    code="400",
                    reason=f"HTTP 400: {reason(text)}",
                )
            else:
                out[m.key] = SendResult(m.key, Outcome.RETRY, code="400-sibling")
        return out


def _errors_text(response: requests.Response) -> str:
    try:
        return "; ".join(str(e.get("message")) for e in response.json().get("errors", []))
    except (ValueError, AttributeError):
        return response.text[:200]
