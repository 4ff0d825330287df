"""Provider edge cases found by the audit, each against the fake that behaves like the provider."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import uuid
from pathlib import Path

import pytest

from channels import registry
from channels.errors import ChannelConfigError
from channels.fakes import FakeSet, Faults, Reply, adapters_from_description
from channels.fakes.workload import message
from channels.models import Outcome


def _alimtalk(fakes: FakeSet, i: int = 1, **changes: object):  # type: ignore[no-untyped-def]
    return dataclasses.replace(message("nhn_alimtalk", i, fakes.describe(), campaign_id="edge"), **changes)


def test_alimtalk_replayed_key_of_a_refused_request_is_not_taken_as_accepted(fakes: FakeSet) -> None:
    """NHN remembers the idempotency key of a request it refused: -1005 then says nothing about sending."""
    adapter = fakes.adapters()["nhn_alimtalk"]
    batch = uuid.uuid4().hex
    good = _alimtalk(fakes)
    refused = dataclasses.replace(good, data=good.data | {"template_code": "NOT_APPROVED"})
    with adapter:
        [first] = adapter.send([refused], idempotency_key=batch)
        [again] = adapter.send([good], idempotency_key=batch)
    assert first.outcome is Outcome.CONFIG_ERROR
    assert fakes.nhn_alimtalk.replays == 1
    assert again.outcome is Outcome.RETRY, again
    assert again.code == "-1005"
    assert fakes.nhn_alimtalk.received_keys() == []


def test_alimtalk_replayed_key_of_an_accepted_request_is_accepted_once(fakes: FakeSet) -> None:
    adapter = fakes.adapters()["nhn_alimtalk"]
    batch = uuid.uuid4().hex
    # Two recipients in one request: one registered, one refused as an invalid number.
    messages = [_alimtalk(fakes, 1), _alimtalk(fakes, 2, address="01040190002")]
    fakes.nhn_alimtalk.faults = Faults(drop=1.0)  # processed, answer lost
    with adapter:
        lost = adapter.send(messages, idempotency_key=batch)
        fakes.nhn_alimtalk.faults = Faults()
        replayed = adapter.send(messages, idempotency_key=batch)
    assert [r.outcome for r in lost] == [Outcome.UNKNOWN, Outcome.UNKNOWN]
    assert fakes.nhn_alimtalk.replays == 1
    assert [r.outcome for r in replayed] == [Outcome.ACCEPTED, Outcome.RETRY], replayed
    assert replayed[0].provider_id == fakes.nhn_alimtalk.received[0]["request_id"]
    assert fakes.nhn_alimtalk.received_keys() == [messages[0].key]


def test_alimtalk_replayed_key_whose_list_cannot_be_read_stays_unknown(
    fakes: FakeSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = fakes.adapters()["nhn_alimtalk"]
    batch = uuid.uuid4().hex
    m = _alimtalk(fakes)
    down = Reply(503, {"header": {"isSuccessful": False, "resultCode": -9999, "resultMessage": "down"}})
    with adapter:
        adapter.send([m], idempotency_key=batch)
        monkeypatch.setattr(fakes.nhn_alimtalk, "list_messages", lambda request: down)
        [r] = adapter.send([m], idempotency_key=batch)
    assert r.outcome is Outcome.UNKNOWN, r
    assert fakes.nhn_alimtalk.received_keys() == [m.key]


def _live_environ(fakes: FakeSet, tmp_path: Path) -> dict[str, dict[str, str]]:
    """Per adapter, a complete environment pointing at the fakes."""
    d = fakes.describe()
    return {
        "smtp": {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(d["smtp"]["port"]), "DANGOL_EMAIL_FROM": "a@b.test"},
        "sendgrid": {
            "SENDGRID_API_KEY": d["sendgrid"]["api_key"],
            "DANGOL_EMAIL_FROM": d["sendgrid"]["from_email"],
            "SENDGRID_BASE_URL": d["sendgrid"]["base_url"],
        },
        "nhn_sms": {
            "NHN_SMS_APP_KEY": d["nhn_sms"]["app_key"],
            "NHN_SMS_SECRET_KEY": d["nhn_sms"]["secret_key"],
            "NHN_SMS_SEND_NO": d["nhn_sms"]["send_no"],
        },
        "nhn_alimtalk": {
            "NHN_KAKAO_APP_KEY": d["nhn_alimtalk"]["app_key"],
            "NHN_KAKAO_SECRET_KEY": d["nhn_alimtalk"]["secret_key"],
            "NHN_KAKAO_SENDER_KEY": d["nhn_alimtalk"]["sender_key"],
        },
        "fcm": {"FCM_SERVICE_ACCOUNT_JSON": json.dumps(d["fcm"]["service_account_info"])},
        "webpush": {"VAPID_PRIVATE_KEY": d["webpush"]["vapid_private_key"], "VAPID_SUBJECT": "mailto:a@b.test"},
        "webhook": {"DANGOL_WEBHOOK_SECRET": d["webhook"]["secret"]},
    }


def test_every_required_variable_is_named_when_missing(fakes: FakeSet, tmp_path: Path) -> None:
    """A missing variable stops its channel with an error naming it, never a bare KeyError."""
    checked = 0
    for name, environ in _live_environ(fakes, tmp_path).items():
        registry.from_env(name, environ).close()  # complete: builds
        for variable in environ:
            if variable in ("SMTP_PORT", "SENDGRID_BASE_URL"):
                continue  # optional
            incomplete = {k: v for k, v in environ.items() if k != variable}
            with pytest.raises(ChannelConfigError, match=variable):
                registry.from_env(name, incomplete)
            checked += 1
    assert checked == 14


def test_webhook_secret_without_base64_padding_is_accepted(fakes: FakeSet, monkeypatch: pytest.MonkeyPatch) -> None:
    padded = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    assert padded.endswith("=")
    monkeypatch.setattr(fakes.webhook, "secret", padded)
    desc = fakes.describe()
    desc["webhook"]["secret"] = padded.rstrip("=")
    adapter = adapters_from_description(desc)["webhook"]
    m = message("webhook", 1, desc, campaign_id="edge")
    with adapter:
        [r] = adapter.send([m], idempotency_key=m.key)
    assert r.outcome is Outcome.ACCEPTED, r
    assert fakes.webhook.received_keys() == [m.key]


@pytest.mark.parametrize(
    ("value", "deduplicates"),
    [(None, True), ("true", True), ("false", False), ("0", False), ("no", False), ("1", True)],
)
def test_webhook_receiver_deduplication_is_set_from_the_environment(value: str | None, deduplicates: bool) -> None:
    environ = {"DANGOL_WEBHOOK_SECRET": "whsec_" + base64.b64encode(b"k" * 24).decode()}
    if value is not None:
        environ["DANGOL_WEBHOOK_RECEIVER_DEDUPLICATES"] = value
    adapter = registry.from_env("webhook", environ)
    assert adapter.limits.deduplicates_by_key is deduplicates


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"DANGOL_WEBHOOK_RECEIVER_DEDUPLICATES": "maybe"}, "DANGOL_WEBHOOK_RECEIVER_DEDUPLICATES"),
        ({"DANGOL_WEBHOOK_DEDUPE_WINDOW_SECONDS": "a day"}, "DANGOL_WEBHOOK_DEDUPE_WINDOW_SECONDS"),
        ({"DANGOL_WEBHOOK_SECRET": "whsec_!!not base64!!"}, "DANGOL_WEBHOOK_SECRET"),
    ],
)
def test_webhook_settings_that_make_no_sense_are_refused(environ: dict[str, str], named: str) -> None:
    base = {"DANGOL_WEBHOOK_SECRET": "whsec_" + base64.b64encode(b"k" * 24).decode()}
    with pytest.raises(ChannelConfigError, match=named):
        registry.from_env("webhook", base | environ)


def test_fcm_credentials_from_a_file(fakes: FakeSet, tmp_path: Path) -> None:
    key = tmp_path / "service-account.json"
    key.write_text(json.dumps(fakes.fcm.service_account_info))
    adapter = registry.from_env("fcm", {"FCM_SERVICE_ACCOUNT_FILE": str(key), "FCM_BASE_URL": fakes.fcm.url})
    m = message("fcm", 1, fakes.describe(), campaign_id="edge")
    with adapter:
        [r] = adapter.send([m], idempotency_key=m.key)
    assert r.outcome is Outcome.ACCEPTED, r
    assert fakes.fcm.received_keys() == [m.key]


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, "FCM_SERVICE_ACCOUNT_FILE"),
        ({"FCM_SERVICE_ACCOUNT_FILE": "/nonexistent/key.json"}, "FCM_SERVICE_ACCOUNT_FILE"),
        ({"FCM_SERVICE_ACCOUNT_JSON": "not json"}, "FCM_SERVICE_ACCOUNT_JSON"),
        ({"FCM_SERVICE_ACCOUNT_JSON": "{}"}, "FCM_SERVICE_ACCOUNT_JSON"),
        ({"FCM_SERVICE_ACCOUNT_JSON": "{}", "FCM_SERVICE_ACCOUNT_FILE": "/k.json"}, "not both"),
    ],
)
def test_fcm_credentials_that_cannot_be_used_name_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ChannelConfigError, match=named):
        registry.from_env("fcm", environ)
