"""Inbound events: signatures verified, receipts applied to the ledger, suppressions fed."""

from __future__ import annotations

import base64
import json
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from channels.adapters.webhook import sign
from channels.delivery import deliver
from channels.fakes import FakeSet, adapters_from_description
from channels.fakes.workload import messages
from channels.ledger import Ledger, State, SuppressionKind, address_hash
from channels.receipts import (
    Event,
    Receipt,
    apply_receipts,
    parse_nhn,
    parse_sendgrid,
    verify_nhn,
    verify_sendgrid,
    verify_standard_webhook,
)


def test_sendgrid_signature() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    body = b'[{"event":"delivered"}]'
    now = int(time.time())
    signature = base64.b64encode(key.sign(str(now).encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    assert verify_sendgrid(public, signature, str(now), body)
    assert not verify_sendgrid(public, signature, str(now), body + b" ")
    assert not verify_sendgrid(public, signature, str(now - 3600), body)
    assert not verify_sendgrid(public, "bm9wZQ==", str(now), body)


def test_nhn_and_standard_webhook_signatures() -> None:
    assert verify_nhn("static-secret", "static-secret")
    assert not verify_nhn("static-secret", "other") and not verify_nhn("static-secret", None)
    secret = "whsec_" + base64.b64encode(b"k" * 24).decode()
    body = b'{"type":"x"}'
    now = int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(now),
        "webhook-signature": "v1,bogus " + sign(secret, "msg_1", now, body),
    }
    assert verify_standard_webhook(secret, headers, body)
    assert not verify_standard_webhook(secret, headers, body + b"x")
    assert not verify_standard_webhook(secret, headers | {"webhook-timestamp": str(now - 3600)}, body)


def test_sendgrid_events_move_the_ledger(fakes: FakeSet, ledger: Ledger) -> None:
    desc = fakes.describe()
    batch = messages("sendgrid", 20, desc, bad_every=10)  # 0 and 10 bounce later
    with adapters_from_description(desc)["sendgrid"] as adapter:
        assert deliver(batch, adapter, ledger).accepted == 20
    events = fakes.sendgrid.events()
    events.append({"email": batch[3].address, "event": "open", "dangol_key": batch[3].key, "sg_event_id": "o"})
    events.append({"email": batch[4].address, "event": "click", "dangol_key": batch[4].key, "sg_event_id": "c"})
    events.append({"email": batch[5].address, "event": "unsubscribe", "dangol_key": batch[5].key})
    body = json.dumps(events).encode()
    counts = apply_receipts(ledger, parse_sendgrid(body))
    assert counts["bounced"] == 2 and counts["delivered"] == 18
    again = apply_receipts(ledger, parse_sendgrid(body))  # a redelivered batch of events changes no state
    assert again["delivered"] == 0
    states = ledger.states([m.key for m in batch])
    assert states[batch[0].key] is State.FAILED and states[batch[1].key] is State.DELIVERED
    assert states[batch[3].key] is State.OPENED and states[batch[4].key] is State.CLICKED
    suppressions = ledger.suppressions()
    assert suppressions[("email", address_hash(batch[0].address))] is SuppressionKind.PERMANENT
    assert suppressions[("email", address_hash(batch[5].address))] is SuppressionKind.OPTED_OUT


def test_nhn_webhooks(ledger: Ledger) -> None:
    body = json.dumps(
        {
            "event": "MESSAGE_RESULT_UPDATE",
            "hooks": [
                {
                    "recipientGroupingKey": "k1",
                    "recipientNo": "01012345678",
                    "messageStatus": "COMPLETED",
                    "resultCode": "1000",
                },
                {
                    "recipientGroupingKey": "k2",
                    "recipientNo": "01012345679",
                    "messageStatus": "FAILED",
                    "resultCode": "3003",
                },
            ],
        }
    ).encode()
    receipts = parse_nhn(body)
    assert [r.event for r in receipts] == [Event.DELIVERED, Event.BOUNCED]
    optout = parse_nhn(json.dumps({"event": "UNSUBSCRIBE", "hooks": [{"recipientNo": "01012345670"}]}).encode())
    apply_receipts(ledger, receipts + optout + [Receipt(Event.COMPLAINED)])
    suppressions = ledger.suppressions()
    assert suppressions[("sms", address_hash("01012345679"))] is SuppressionKind.PERMANENT
    assert suppressions[("sms", address_hash("01012345670"))] is SuppressionKind.OPTED_OUT
