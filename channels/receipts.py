"""Delivery receipts and inbound provider events: verify, parse, apply to the ledger.

Inbound formats (read the raw body before any JSON parsing; verify first):

* SendGrid Event Webhook: ECDSA P-256/SHA-256 over `timestamp + raw_body`, signature and timestamp in
  `X-Twilio-Email-Event-Webhook-Signature` / `-Timestamp`, public key (base64 DER) from Mail Settings;
* NHN Cloud (SMS, alimtalk): `X-Toast-Webhook-Signature` is a static shared string, compared in
  constant time;
* Standard Webhooks (partners, and our own outbound format): HMAC-SHA256 over `id.timestamp.body`.

Applying is idempotent (receipts only move a message forward; suppressions are upserts), so a
provider's redelivery of the same event is harmless and no event-id table is kept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from channels.ledger import Ledger, State, SuppressionKind


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
    address: str | None = None
    detail: str | None = None


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
            out.append(Receipt(event, e.get("dangol_key"), "email", e.get("email"), kind))
    return out


def parse_nhn(raw_body: bytes, channel: str = "sms") -> list[Receipt]:
    """NHN Cloud webhooks: MESSAGE_RESULT_UPDATE (our key is `recipientGroupingKey`) and UNSUBSCRIBE (080)."""
    payload = json.loads(raw_body)
    out = []
    for hook in payload.get("hooks") or []:
        if payload.get("event") == "UNSUBSCRIBE":
            out.append(Receipt(Event.UNSUBSCRIBED, None, channel, hook.get("recipientNo"), "080 opt-out"))
            continue
        status, code = hook.get("messageStatus"), str(hook.get("resultCode", ""))
        if status == "COMPLETED":
            event = Event.DELIVERED
        elif code in ("3001", "3003", "3008", "3019"):
            event = Event.BOUNCED
        elif status in ("FAILED", "FAILED_AD", "CANCEL"):
            event = Event.FAILED
        else:
            continue
        out.append(
            Receipt(
                event, hook.get("recipientGroupingKey"), channel, hook.get("recipientNo"), f"{status} {code}".strip()
            )
        )
    return out


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
        if r.event is Event.BOUNCED and r.channel and r.address:
            ledger.suppress(r.channel, r.address, f"bounce: {r.detail or ''}", SuppressionKind.PERMANENT)
            changed = True
        if r.event in (Event.UNSUBSCRIBED, Event.COMPLAINED) and r.channel and r.address:
            ledger.suppress(r.channel, r.address, str(r.event), SuppressionKind.OPTED_OUT)
            changed = True
        counts[str(r.event) if changed else "ignored"] += 1
    return counts
