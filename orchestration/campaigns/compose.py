"""One customer's message on one channel: rendered copy, the legal ad form, the channel's format.

Two kinds of failure, kept apart on purpose:
* a template that names a variable the audience does not have is a bug in a reviewed file: it raises
  `CampaignTemplateError` (naming the file, the field and the variable) and fails the campaign's asset;
* a customer whose data cannot go on a channel (a name with an emoji for SMS, copy too long for an LMS,
  a value the template prints but this customer does not have) raises `Unrenderable`; the planner then
  tries the next channel of the plan and records why.

SMS and email also carry the campaign's shared text (`render.placeholder_variables`) in `data`, for
the providers that fill one template per request with each customer's values.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from jinja2 import UndefinedError
from jinja2.exceptions import SecurityError

from channels.models import PLACEHOLDER, Channel, Purpose, Template, fill
from orchestration.campaigns import legal, sms
from orchestration.campaigns.links import OPEN_PIXEL_PARAM, LinkTracker, Tracking, email_html, track_links
from orchestration.campaigns.render import TEMPLATE_KEY, EmptyValue, pack_template, placeholder_variables, render
from orchestration.campaigns.spec import CampaignSpec

ALIMTALK_MAX_CHARS = 1_000
PUSH_MAX_BYTES = 3_000  # keep web push plaintext under ~3 KB (4 KB encrypted is the guaranteed maximum)


class MessageType(StrEnum):
    """What the provider bills: the unit of the price table."""

    EMAIL = "email"
    SMS = "sms"
    LMS = "lms"
    ALIMTALK = "alimtalk"
    APP_PUSH = "app_push"
    WEB_PUSH = "web_push"


class CampaignTemplateError(RuntimeError):
    """A template that cannot render for anyone: the campaign file must be fixed."""


class Unrenderable(ValueError):
    """This customer's message cannot go on this channel; `code` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Composed:
    channel: Channel
    message_type: MessageType
    subject: str | None
    body: str
    data: dict[str, str] = field(default_factory=dict)
    content_bytes: int = 0  # CP949 bytes for SMS/LMS and alimtalk fallback, UTF-8 otherwise
    warnings: tuple[str, ...] = ()
    links: tuple[str, ...] = ()  # the planned targets of the tracked links, link 1 first (see links.py)


def _render(spec: CampaignSpec, where: str, source: str, variables: Mapping[str, Any]) -> str:
    try:
        return render(source, variables)
    except UndefinedError as exc:
        raise CampaignTemplateError(
            f"{spec.id}.yaml: {where}: {exc.message} (the audience {spec.audience}"
            " and the built-in variables do not have it)"
        ) from None
    except SecurityError as exc:
        raise CampaignTemplateError(f"{spec.id}.yaml: {where}: not allowed in a template: {exc}") from None
    except EmptyValue as exc:
        raise Unrenderable(
            "empty_value", f"{where}: {exc}, and the template has no wording for that case (not sent)"
        ) from None


def _sms_checked(text: str, where: str) -> tuple[int, tuple[str, ...]]:
    try:
        size = sms.cp949_bytes(text, where)
    except sms.UnencodableCharacter as exc:
        raise Unrenderable("unencodable_character", str(exc)) from None
    odd = sms.non_ks_x_1001(text)
    warnings = (f"{where}: {''.join(odd)} outside KS X 1001, may show as ? on some phones",) if odd else ()
    return size, warnings


def _sms(
    spec: CampaignSpec, subject: str | None, body: str, sender: legal.Sender, like: Composed | None = None
) -> Composed:
    """SMS or LMS by the body's bytes; `like` (a customer's rendered message) decides for its shared
    text, whose placeholders are not the customer's length."""
    if spec.purpose is Purpose.AD:
        body = legal.sms_ad_form(body, sender)
    body = sms.normalise(body)
    if like is not None:
        title = None if like.message_type is MessageType.SMS else subject or spec.name
        if title is not None and spec.purpose is Purpose.AD:
            title = f"{legal.AD_PREFIX} {title}"
        return Composed(Channel.SMS, like.message_type, title, body)
    size, warnings = _sms_checked(body, "sms body")
    kind = sms.sms_type(size)
    if kind is None:
        raise Unrenderable("too_long", f"sms body is {size} bytes; an LMS carries at most {sms.LMS_BYTES}")
    if kind is sms.SmsType.SMS:
        return Composed(Channel.SMS, MessageType.SMS, None, body, {}, size, warnings)
    title = subject or spec.name
    if spec.purpose is Purpose.AD:
        title = f"{legal.AD_PREFIX} {title}"
    title_size, title_warnings = _sms_checked(title, "lms subject")
    if title_size > sms.LMS_SUBJECT_BYTES:
        raise Unrenderable(
            "subject_too_long", f"lms subject is {title_size} bytes; at most {sms.LMS_SUBJECT_BYTES}: {title!r}"
        )
    return Composed(Channel.SMS, MessageType.LMS, title, body, {}, size, warnings + title_warnings)


def compose(
    spec: CampaignSpec,
    channel: Channel,
    variables: Mapping[str, Any],
    sender: legal.Sender,
    send_key: str,
    tracking: Tracking,
) -> Composed:
    """Render the campaign's template for `channel` and give it the channel's legal and technical form.

    Email and push links become tracking links of this send (`send_key`); SMS and alimtalk keep theirs
    (a tracking link would cost a fifth of an SMS)."""
    channel = Channel(channel)
    tracker = LinkTracker(tracking, send_key, channel, spec.id)
    composed = _compose(spec, channel, variables, sender, tracker)
    if channel in (Channel.SMS, Channel.EMAIL):
        shared = shared_text(spec, channel, variables, sender, tracker, composed)
        if shared is not None and "html" in composed.data:
            shared = shared_html(shared, composed.data["html"], tracker)
        if shared is not None:
            # A shared text is what lets a batch API send one request for many customers; the HTML part
            # is shared too, each customer's open pixel one of the values.
            data = composed.data | {TEMPLATE_KEY: pack_template(*shared)}
            return Composed(
                composed.channel,
                composed.message_type,
                composed.subject,
                composed.body,
                data,
                composed.content_bytes,
                composed.warnings,
                composed.links,
            )
    return composed


def shared_text(
    spec: CampaignSpec,
    channel: Channel,
    variables: Mapping[str, Any],
    sender: legal.Sender,
    tracker: LinkTracker,
    composed: Composed,
) -> tuple[Template, dict[str, str]] | None:
    """The campaign's text with `{{path}}` placeholders and this customer's values, if filling it gives
    `composed` exactly; None when the template does something with a value other than print it."""
    shared_variables, values = placeholder_variables(variables)
    try:
        shared = _compose(spec, channel, shared_variables, sender, tracker.again(), like=composed)
    except Exception:
        return None
    body, subject = shared.body, shared.subject
    # Each customer's own one-click and tracking links are values too.
    own_links = [("unsubscribe_url", composed.data.get("unsubscribe_url"))]
    own_links += [(f"tracked_link_{i}", url) for i, url in enumerate(tracker.tracked_urls(), start=1)]
    for name, link in own_links:
        if link and link in body:
            body, values = body.replace(link, "{{" + name + "}}"), values | {name: link}
    used = set(PLACEHOLDER.findall(body + "\n" + (subject or "")))
    if not used:
        return None
    template = Template(body, subject)
    params = {k: v for k, v in values.items() if k in used}
    if template.fill(params) != (composed.body, composed.subject):
        return None
    return template, params


def shared_html(
    shared: tuple[Template, dict[str, str]], html: str, tracker: LinkTracker
) -> tuple[Template, dict[str, str]] | None:
    """The shared text with its HTML part (the open pixel a value), if filling it gives `html` exactly;
    None when it does not (a value that HTML escapes, such as a name with `&`: the message keeps its own)."""
    template, params = shared
    html_template = email_html(template.body, "{{" + OPEN_PIXEL_PARAM + "}}")
    values = params | {OPEN_PIXEL_PARAM: tracker.open_pixel()}
    if fill(html_template, values) != html:
        return None
    return dataclasses.replace(template, html=html_template), values


def _compose(
    spec: CampaignSpec,
    channel: Channel,
    variables: Mapping[str, Any],
    sender: legal.Sender,
    tracker: LinkTracker,
    like: Composed | None = None,
) -> Composed:
    """The message for these variables; with `like`, the shared text shaped like that message."""
    template = spec.templates[channel]
    where = f"templates.{channel}"
    subject = _render(spec, f"{where}.subject", template.subject, variables) if template.subject else None
    body = _render(spec, f"{where}.body", template.body, variables)
    is_ad = spec.purpose is Purpose.AD

    if channel is Channel.SMS:
        return _sms(spec, subject, body, sender, like)

    if channel is Channel.KAKAO:
        params = {
            key: _render(spec, f"{where}.variables.{key}", source, variables)
            for key, source in (template.variables or {}).items()
        }
        if len(body) > ALIMTALK_MAX_CHARS:
            raise Unrenderable("too_long", f"alimtalk body is {len(body)} characters; at most {ALIMTALK_MAX_CHARS}")
        # The SMS/LMS the provider sends if the recipient cannot get alimtalk must itself be sendable.
        fallback = _sms(spec, subject, body, sender)
        data = {
            "template_code": template.template_code or "",
            "template_params": json.dumps(params, ensure_ascii=False, sort_keys=True),
            "fallback_body": fallback.body,
        }
        return Composed(
            channel, MessageType.ALIMTALK, fallback.subject, body, data, fallback.content_bytes, fallback.warnings
        )

    if channel is Channel.EMAIL:
        data = {"from_name": sender.name}
        assert subject is not None  # the spec requires it
        body = track_links(body, tracker)
        if is_ad:
            link = tracker.unsubscribe()
            subject, body = legal.email_ad_form(subject, body, sender, link)
            data["unsubscribe_url"] = link
        data["html"] = email_html(body, tracker.open_pixel())
        return Composed(
            channel, MessageType.EMAIL, subject, body, data, len(body.encode()), links=tuple(tracker.targets)
        )

    # app push, web push
    assert subject is not None
    if is_ad:
        subject, body = legal.push_ad_form(channel, subject, body, sender)
    data = {"link": tracker(_render(spec, f"{where}.link", template.link, variables))} if template.link else {}
    size = len(json.dumps({"title": subject, "body": body, **data}, ensure_ascii=False).encode())
    if size > PUSH_MAX_BYTES:
        raise Unrenderable("too_long", f"{channel} payload is {size} bytes; at most {PUSH_MAX_BYTES}")
    return Composed(channel, MessageType(str(channel)), subject, body, data, size, links=tuple(tracker.targets))
