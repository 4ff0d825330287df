"""Provider receipts through the service: signatures, windows, replays, the ledger and suppressions."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from channels.adapters.webhook import sign
from channels.ledger import Ledger, State, SuppressionKind, address_hash
from channels.models import Channel, Message, Purpose
from tests.tracking.conftest import Running

SG_KEY = ec.generate_private_key(ec.SECP256R1())
SG_PUBLIC = base64.b64encode(
    SG_KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()
NHN_SIGNATURE = "nhn-static-signature"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"w" * 24).decode()
KEY_A, KEY_B = "a" * 32, "b" * 32


@pytest.fixture
def receiving(make_track) -> Running:
    running = make_track(sendgrid_public_key=SG_PUBLIC, nhn_signature=NHN_SIGNATURE, webhook_secret=WEBHOOK_SECRET)
    with Ledger(running.config.ledger) as ledger:
        messages = [
            Message(KEY_A, "win_back", "c1", Channel.EMAIL, Purpose.AD, "minji@example.com", "x"),
            Message(KEY_B, "win_back", "c2", Channel.SMS, Purpose.AD, "01012345678", "x"),
        ]
        ledger.plan(messages, "test")
        ledger.mark([KEY_A, KEY_B], State.ACCEPTED)
    return running


def _sendgrid(running: Running, events: list[dict], *, timestamp: int | None = None, key=SG_KEY) -> requests.Response:
    body = json.dumps(events).encode()
    ts = str(timestamp if timestamp is not None else int(time.time()))
    signature = base64.b64encode(key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": ts,
        "Content-Type": "application/json",
    }
    return requests.post(f"{running.url}/receipts/sendgrid", data=body, headers=headers, timeout=5)


def _state(running: Running, key: str) -> State:
    running.wait_applied()
    with Ledger(running.config.ledger) as ledger:
        return ledger.states([key])[key]


def test_sendgrid_receipts_move_the_ledger_and_a_replay_changes_nothing(receiving: Running) -> None:
    events = [{"event": "delivered", "sg_event_id": "e1", "dangol_key": KEY_A, "email": "minji@example.com"}]
    answer = _sendgrid(receiving, events)
    assert answer.status_code == 200 and answer.json() == {"accepted": 1, "duplicates": 0}
    assert _state(receiving, KEY_A) is State.DELIVERED
    replay = _sendgrid(receiving, events)
    assert replay.status_code == 200 and replay.json() == {"accepted": 0, "duplicates": 1}
    assert len(receiving.events()) == 1
    assert "minji" not in json.dumps(receiving.events())


def test_sendgrid_bad_or_stale_signatures_get_401_and_a_log_line(receiving: Running, caplog) -> None:
    events = [{"event": "bounce", "type": "bounce", "sg_event_id": "e2", "dangol_key": KEY_A, "email": "m@e.com"}]
    with caplog.at_level("WARNING", logger="dangol.track"):
        stale = _sendgrid(receiving, events, timestamp=int(time.time()) - 3600)
        forged = _sendgrid(receiving, events, key=ec.generate_private_key(ec.SECP256R1()))
        unsigned = requests.post(f"{receiving.url}/receipts/sendgrid", data=json.dumps(events), timeout=5)
    assert [stale.status_code, forged.status_code, unsigned.status_code] == [401, 401, 401]
    assert [r.getMessage() for r in caplog.records].count("sendgrid receipt rejected: bad or stale signature") == 3
    assert "m@e.com" not in caplog.text
    assert receiving.events() == [] and _state(receiving, KEY_A) is State.ACCEPTED


def test_a_hard_bounce_fails_the_message_and_suppresses_the_address(receiving: Running) -> None:
    _sendgrid(
        receiving,
        [{"event": "bounce", "type": "bounce", "sg_event_id": "e3", "dangol_key": KEY_A, "email": "minji@example.com"}],
    )
    assert _state(receiving, KEY_A) is State.FAILED
    with Ledger(receiving.config.ledger) as ledger:
        assert ledger.suppressions()[("email", address_hash("minji@example.com"))] is SuppressionKind.PERMANENT


def _nhn(running: Running, payload: dict, channel: str = "sms", signature: str = NHN_SIGNATURE) -> requests.Response:
    return requests.post(
        f"{running.url}/receipts/nhn/{channel}",
        json=payload,
        headers={"X-Toast-Webhook-Signature": signature},
        timeout=5,
    )


def test_nhn_results_late_sms_alimtalk_fallback_and_080(receiving: Running) -> None:
    assert _nhn(receiving, {"event": "MESSAGE_RESULT_UPDATE", "hooks": []}, signature="wrong").status_code == 401
    # An LMS result three days after the send still applies.
    late = {
        "event": "MESSAGE_RESULT_UPDATE",
        "hooks": [
            {
                "hookId": "h1",
                "recipientGroupingKey": KEY_B,
                "recipientNo": "01012345678",
                "messageStatus": "COMPLETED",
                "resultCode": "1000",
                "requestDate": "2026-12-01 10:00:00",
            }
        ],
    }
    assert _nhn(receiving, late).status_code == 200
    assert _state(receiving, KEY_B) is State.DELIVERED
    # Alimtalk: failed on KakaoTalk (3019), fallback still due -> nothing; fallback delivered -> delivered.
    pending = {
        "event": "MESSAGE_RESULT_UPDATE",
        "hooks": [
            {
                "hookId": "h2",
                "recipientGroupingKey": KEY_A,
                "messageStatus": "FAILED",
                "resultCode": "3019",
                "resendStatus": "RSC03",
            }
        ],
    }
    fallback = {
        "event": "MESSAGE_RESULT_UPDATE",
        "hooks": [
            {
                "hookId": "h3",
                "recipientGroupingKey": KEY_A,
                "messageStatus": "FAILED",
                "resultCode": "3019",
                "resendStatus": "RSC04",
            }
        ],
    }
    assert _nhn(receiving, pending, "kakao").json()["accepted"] == 0
    assert _nhn(receiving, fallback, "kakao").json()["accepted"] == 1
    assert _state(receiving, KEY_A) is State.DELIVERED
    optout = {
        "event": "UNSUBSCRIBE",
        "hooks": [
            {"hookId": "h4", "recipientNo": "01012345678", "unsubscribeNo": "0801234567", "createdDateTime": "x"}
        ],
    }
    assert _nhn(receiving, optout).status_code == 200
    receiving.wait_applied()
    with Ledger(receiving.config.ledger) as ledger:
        assert ledger.suppressions()[("sms", address_hash("01012345678"))] is SuppressionKind.OPTED_OUT
    assert "01012345678" not in json.dumps(receiving.events())


def _webhook(running: Running, body: bytes, message_id: str, timestamp: int) -> requests.Response:
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(WEBHOOK_SECRET, message_id, timestamp, body),
    }
    return requests.post(f"{running.url}/receipts/webhook", data=body, headers=headers, timeout=5)


def test_standard_webhooks_signature_window_and_replay(receiving: Running) -> None:
    body = json.dumps({"type": "message.delivered", "data": {"key": KEY_A}}).encode()
    now = int(time.time())
    assert _webhook(receiving, body, "msg_1", now - 3600).status_code == 401  # stale
    tampered = requests.post(
        f"{receiving.url}/receipts/webhook",
        data=body.replace(b"delivered", b"clicked"),
        headers={
            "webhook-id": "msg_1",
            "webhook-timestamp": str(now),
            "webhook-signature": sign(WEBHOOK_SECRET, "msg_1", now, body),
        },
        timeout=5,
    )
    assert tampered.status_code == 401
    assert _webhook(receiving, body, "msg_2", now).json()["accepted"] == 1
    assert _webhook(receiving, body, "msg_2", now).json()["duplicates"] == 1
    assert _state(receiving, KEY_A) is State.DELIVERED


def test_the_ledger_follower_applies_a_batch_of_receipts_in_one_commit(tmp_path) -> None:
    """Each commit may cost an fsync: 300 receipts and opt-outs in the log are one transaction, not 300."""
    from channels.tracking.app import LedgerApplier
    from channels.tracking.eventlog import EventLog, new_event

    keys = [f"{i:032x}" for i in range(100)]
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.plan(
            [Message(k, "win_back", f"c{k}", Channel.EMAIL, Purpose.AD, f"{k}@example.com", "x") for k in keys], "t"
        )
        ledger.mark(keys, State.ACCEPTED)
        with EventLog(tmp_path / "events") as log:
            for k in keys:
                log.append(
                    new_event("delivered", send_key=k, channel="email"),
                    new_event("opened", send_key=k, channel="email"),
                )
                log.append(new_event("unsubscribed", channel="email", address_hash=address_hash(f"{k}@example.com")))
        applier = LedgerApplier(tmp_path / "events", ledger)
        before = ledger.commits
        assert applier.apply_pending() == 300
        assert ledger.commits - before == 1
        assert set(ledger.states(keys).values()) == {State.OPENED}
        assert len(ledger.suppressions()) == 100
        assert applier.apply_pending() == 0  # the cursor moved past the batch


def test_a_batch_the_ledger_refused_is_applied_again_in_full(tmp_path) -> None:
    """An open the follower could not write is not taken as written: the next attempt applies it."""
    import sqlite3

    from channels.tracking.app import LedgerApplier
    from channels.tracking.eventlog import EventLog, new_event

    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.plan([Message(KEY_A, "win_back", "c1", Channel.EMAIL, Purpose.AD, "minji@example.com", "x")], "t")
        ledger.mark([KEY_A], State.ACCEPTED)
        with EventLog(tmp_path / "events") as log:
            log.append(new_event("opened", send_key=KEY_A, channel="email"))
        broken = Ledger(tmp_path / "ledger.sqlite")
        broken.close()  # its writes fail
        applier = LedgerApplier(tmp_path / "events", broken)
        with pytest.raises(sqlite3.ProgrammingError):
            applier.apply_pending()
        applier.ledger = ledger
        assert applier.apply_pending() == 1
        assert ledger.states([KEY_A])[KEY_A] is State.OPENED
