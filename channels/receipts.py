"""Delivery receipts and inbound provider events: verify, parse, apply to the ledger.

Inbound formats (read the raw body before any JSON parsing; verify first):

* SendGrid Event Webhook: ECDSA P-256/SHA-256 over `timestamp + raw_body`, signature and timestamp in
  `X-Twilio-Email-Event-Webhook-Signature` / `-Timestamp`, public key (base64 DER) from Mail Settings;
* NHN Cloud (SMS, alimtalk): `X-Toast-Webhook-Signature` is a static shared string, compared in
  constant time;
* Standard Webhooks (partners, and our own outbound format): HMAC-SHA256 over `id.timestamp.body`.

Applying is idempotent (receipts only move a message forward; suppressions are upserts), so a
provider's redelivery of the same event is harmless and no event-id table is kept. Each receipt
carries the provider's own event id where there is one (`event_id`), so the tracking service's log
and the warehouse can drop repeats, and the address's hash (`address_hash`), so it can be logged and
applied without the address itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from channels.ledger import Ledger, State, SuppressionKind, address_hash


class Event(StrEnum):
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    BOUNCED = "bounced"  # the address is dead: fail the message, suppress the address
    FAILED = "failed"  # this message failed, the address may be fine
    UNSUBSCRIBED = "unsubscribed"  # opt-out (one-click, 080): no more ads on this channel
    COMPLAINED = "complained"  # spam report: treated as an opt-out


@dataclass(frozen=True)
class Receipt:
    event: Event
    key: str | None = None
    channel: str | None = None
    address: str | None = field(default=None, repr=False)
    detail: str | None = None
    event_id: str | None = None  # the provider's id of this event (sg_event_id, NHN hookId, webhook-id)
    address_hash: str | None = None  # filled from `address` when not given

    def __post_init__(self) -> None:
        if self.address_hash is None and self.address:
            object.__setattr__(self, "address_hash", address_hash(self.address))


# -- verification -------------------------------------------------------------------------------


def verify_sendgrid(
    public_key_b64: str,
    signature_b64: str,
    timestamp: str,
    raw_body: bytes,
    *,
    tolerance_seconds: float = 300,
    now: float | None = None,
) -> bool:
    """SendGrid's signed event webhook; SendGrid documents no freshness window, we add one."""
    try:
        if abs((now if now is not None else time.time()) - int(timestamp)) > tolerance_seconds:
            return False
        key = serialization.load_der_public_key(base64.b64decode(public_key_b64))
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(base64.b64decode(signature_b64), timestamp.encode() + raw_body, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError, TypeError, AssertionError):
        return False


def verify_nhn(expected_signature: str, header_value: str | None) -> bool:
    return bool(header_value) and hmac.compare_digest(expected_signature.encode(), str(header_value).encode())


def verify_standard_webhook(
    secret: str,
    headers: Mapping[str, str],
    raw_body: bytes,
    *,
    tolerance_seconds: float = 300,
    now: float | None = None,
) -> bool:
    lower = {k.lower(): v for k, v in headers.items()}
    message_id, timestamp = lower.get("webhook-id", ""), lower.get("webhook-timestamp", "")
    if not message_id or not timestamp.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > tolerance_seconds:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = base64.b64encode(
        hmac.new(key, f"{message_id}.{timestamp}.".encode() + raw_body, hashlib.sha256).digest()
    ).decode()
    offered = [s.split(",", 1)[1] for s in lower.get("webhook-signature", "").split() if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, s) for s in offered)


# -- parsing --------------------------------------------------------------------------------------

_SENDGRID = {
    "delivered": Event.DELIVERED,
    "open": Event.OPENED,
    "click": Event.CLICKED,
    "spamreport": Event.COMPLAINED,
    "unsubscribe": Event.UNSUBSCRIBED,
    "group_unsubscribe": Event.UNSUBSCRIBED,
}
_SENDGRID_DROPPED = {
    "Bounced Address": Event.BOUNCED,
    "Unsubscribed Address": Event.UNSUBSCRIBED,
    "Spam Reporting Address": Event.COMPLAINED,
}


def parse_sendgrid(raw_body: bytes) -> list[Receipt]:
    """A SendGrid event array; our key comes back as the `dangol_key` custom arg."""
    out = []
    for e in json.loads(raw_body):
        kind = e.get("event")
        event = _SENDGRID.get(kind)
        if kind == "bounce":
            event = Event.BOUNCED if e.get("type", "bounce") == "bounce" else Event.FAILED
        elif kind == "dropped":
            event = _SENDGRID_DROPPED.get(str(e.get("reason")), Event.FAILED)
        if event is not None:
            event_id = f"sendgrid:{e['sg_event_id']}" if e.get("sg_event_id") else None
            out.append(Receipt(event, e.get("dangol_key"), "email", e.get("email"), kind, event_id))
    return out


# NHN alimtalk's fallback (대체발송) states: the SMS/LMS the provider sends when alimtalk cannot reach.
_FALLBACK_DELIVERED, _FALLBACK_FAILED = "RSC04", "RSC05"
_FALLBACK_PENDING = ("RSC02", "RSC03")  # fallback due or under way: the final result comes later


def parse_nhn(raw_body: bytes, channel: str = "sms") -> list[Receipt]:
    """NHN Cloud webhooks: MESSAGE_RESULT_UPDATE (our key is `recipientGroupingKey`) and UNSUBSCRIBE (080).

    SMS/LMS results may come days after the send (an LMS waits up to 80 hours for the carrier): a
    receipt is applied whenever it comes. Alimtalk results carry `resendStatus`: a message that failed
    on KakaoTalk but whose fallback SMS arrived is delivered; one whose fallback is still due waits."""
    payload = json.loads(raw_body)
    out = []
    for hook in payload.get("hooks") or []:
        event_id = f"nhn:{hook['hookId']}" if hook.get("hookId") else None
        if payload.get("event") == "UNSUBSCRIBE":
            out.append(Receipt(Event.UNSUBSCRIBED, None, channel, hook.get("recipientNo"), "080 opt-out", event_id))
            continue
        status, code = hook.get("messageStatus"), str(hook.get("resultCode", ""))
        fallback = str(hook.get("resendStatus") or "")
        detail = f"{status} {code}".strip()
        if fallback == _FALLBACK_DELIVERED:
            event, detail = Event.DELIVERED, f"{detail} fallback sms delivered"
        elif fallback in _FALLBACK_PENDING:
            continue
        elif status == "COMPLETED":
            event = Event.DELIVERED
        elif code in ("3001", "3003", "3008", "3019"):
            event = Event.BOUNCED
        elif status in ("FAILED", "FAILED_AD", "CANCEL") or fallback == _FALLBACK_FAILED:
            event = Event.FAILED
        else:
            continue
        out.append(Receipt(event, hook.get("recipientGroupingKey"), channel, hook.get("recipientNo"), detail, event_id))
    return out


_WEBHOOK_TYPES = {
    "message.delivered": Event.DELIVERED,
    "message.opened": Event.OPENED,
    "message.clicked": Event.CLICKED,
    "message.bounced": Event.BOUNCED,
    "message.failed": Event.FAILED,
    "message.unsubscribed": Event.UNSUBSCRIBED,
}


def parse_standard_webhook(raw_body: bytes, message_id: str) -> list[Receipt]:
    """A partner's answer to our webhook channel, in the same Standard Webhooks form we send:
    `{"type": "message.delivered", "data": {"key": <our message key>, "address": ...}}`."""
    payload = json.loads(raw_body)
    event = _WEBHOOK_TYPES.get(str(payload.get("type")))
    if event is None:
        return []
    data = payload.get("data") or {}
    key = data.get("key") or data.get("dangol_key")
    return [Receipt(event, key, "webhook", data.get("address"), str(payload.get("type")), f"webhook:{message_id}")]


# -- applying -------------------------------------------------------------------------------------

_ADVANCE = {Event.DELIVERED: State.DELIVERED, Event.OPENED: State.OPENED, Event.CLICKED: State.CLICKED}


def apply_receipts(ledger: Ledger, receipts: Iterable[Receipt]) -> Counter[str]:
    """Move messages along delivered -> opened -> clicked, fail bounced ones, and feed the suppression
    list (bounces: every purpose; unsubscribes and complaints: advertising). Returns counts."""
    counts: Counter[str] = Counter()
    for r in receipts:
        changed = False
        if r.event in _ADVANCE and r.key:
            changed = ledger.advance(r.key, _ADVANCE[r.event], r.detail)
        elif r.event in (Event.BOUNCED, Event.FAILED) and r.key:
            changed = ledger.advance(r.key, State.FAILED, f"receipt: {r.event} {r.detail or ''}".strip())
        if r.event is Event.BOUNCED and r.channel and r.address_hash:
            ledger.suppress_hashed(r.channel, r.address_hash, f"bounce: {r.detail or ''}", SuppressionKind.PERMANENT)
            changed = True
        if r.event in (Event.UNSUBSCRIBED, Event.COMPLAINED) and r.channel and r.address_hash:
            ledger.suppress_hashed(r.channel, r.address_hash, str(r.event), SuppressionKind.OPTED_OUT)
            changed = True
        counts[str(r.event) if changed else "ignored"] += 1
    return counts
