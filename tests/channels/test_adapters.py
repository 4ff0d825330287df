"""Every adapter against its fake, one row per classification the provider can produce."""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from channels.fakes import FakeSet, Faults, adapters_from_description, webpush_subscription
from channels.fakes.workload import AD_SMS, message
from channels.models import Message, Outcome, Purpose

A, R, P, OPT, C, U = (
    Outcome.ACCEPTED,
    Outcome.RETRY,
    Outcome.PERMANENT,
    Outcome.OPTED_OUT,
    Outcome.CONFIG_ERROR,
    Outcome.UNKNOWN,
)


def msg(adapter: str, **changes: Any) -> Callable[[dict[str, Any]], Message]:
    def build(desc: dict[str, Any]) -> Message:
        m = message(adapter, 1, desc, campaign_id="t")
        if "address" in changes and callable(changes["address"]):
            changes["address"] = changes["address"](desc)
        return dataclasses.replace(m, **changes)

    return build


@dataclasses.dataclass(frozen=True)
class Case:
    adapter: str
    name: str
    message: Callable[[dict[str, Any]], Message]
    outcome: Outcome
    suppress: bool | None = None
    code: str | None = None
    faults: Faults | None = None
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    sent: bool | None = None  # did the fake record the message?

    def __str__(self) -> str:
        return f"{self.adapter}-{self.name}"


def _other_service_account_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _other_vapid_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


OTHER_RSA_KEY = _other_service_account_key()
THROTTLE = Faults(throttle=1.0, retry_after="7")
DOWN = Faults(error=1.0)
DROP = Faults(drop=1.0)

CASES = [
    Case("smtp", "accepted", msg("smtp"), A, sent=True),
    Case("smtp", "soft-bounce-retry", msg("smtp", address="defer1@example.com"), R, code="451", sent=False),
    Case("smtp", "throttled", msg("smtp"), R, code="451", faults=THROTTLE, sent=False),
    Case(
        "smtp",
        "hard-bounce-suppress",
        msg("smtp", address="bounce1@example.com"),
        P,
        suppress=True,
        code="550",
        sent=False,
    ),
    Case("smtp", "bad-password-config", msg("smtp"), C, config={"password": "wrong"}, sent=False),
    Case("smtp", "dropped-after-accept-unknown", msg("smtp"), U, faults=DROP, sent=True),
    Case("smtp", "ad-without-label", msg("smtp", subject="봄 세일"), P, suppress=False, code="ad_form", sent=False),
    Case("sendgrid", "accepted", msg("sendgrid"), A, sent=True),
    Case("sendgrid", "retry-after", msg("sendgrid"), R, code="429", faults=THROTTLE, sent=False),
    Case("sendgrid", "outage-retry", msg("sendgrid"), R, faults=DOWN, sent=False),
    Case(
        "sendgrid",
        "invalid-address-suppress",
        msg("sendgrid", address="x@example.invalid"),
        P,
        suppress=True,
        code="400",
        sent=False,
    ),
    Case("sendgrid", "bad-key-config", msg("sendgrid"), C, code="401", config={"api_key": "SG.wrong"}, sent=False),
    Case(
        "sendgrid",
        "unverified-sender-config",
        msg("sendgrid"),
        C,
        code="403",
        config={"from_email": "other@dangol.test"},
        sent=False,
    ),
    Case("sendgrid", "dropped-unknown", msg("sendgrid"), U, faults=DROP, sent=True),
    Case("nhn_sms", "accepted", msg("nhn_sms"), A, sent=True),
    Case("nhn_sms", "080-opted-out", msg("nhn_sms", address="01008080001"), OPT, code="-6001", sent=False),
    Case(
        "nhn_sms",
        "invalid-number-suppress",
        msg("nhn_sms", address="01000000001"),
        P,
        suppress=True,
        code="-2019",
        sent=False,
    ),
    Case("nhn_sms", "not-a-mobile", msg("nhn_sms", address="0212345678"), P, suppress=True, sent=False),
    Case(
        "nhn_sms",
        "ad-form-missing-080",
        msg("nhn_sms", body="(광고) 세일합니다"),
        P,
        suppress=False,
        code="-6003",
        sent=False,
    ),
    Case(
        "nhn_sms",
        "emoji-refused",
        msg("nhn_sms", body=AD_SMS.replace("쿠폰", "쿠폰🎁")),
        P,
        suppress=False,
        code="-2023",
        sent=False,
    ),
    Case("nhn_sms", "bad-secret-config", msg("nhn_sms"), C, code="-1001", config={"secret_key": "wrong"}, sent=False),
    Case(
        "nhn_sms",
        "unregistered-sender-config",
        msg("nhn_sms"),
        C,
        code="-2312",
        config={"send_no": "0200000000"},
        sent=False,
    ),
    Case("nhn_sms", "system-error-retry", msg("nhn_sms"), R, faults=DOWN, sent=False),
    Case("nhn_sms", "dropped-unknown", msg("nhn_sms"), U, faults=DROP, sent=True),
    Case("nhn_alimtalk", "accepted", msg("nhn_alimtalk"), A, sent=True),
    Case("nhn_alimtalk", "not-kakao-user-falls-back-to-sms", msg("nhn_alimtalk", address="01030190001"), A, sent=True),
    Case(
        "nhn_alimtalk",
        "not-kakao-user-no-fallback",
        msg("nhn_alimtalk", address="01030190001"),
        P,
        suppress=True,
        code="3019",
        config={"fallback_send_no": None},
        sent=False,
    ),
    Case(
        "nhn_alimtalk",
        "wrong-number-suppress",
        msg("nhn_alimtalk", address="01030080001"),
        P,
        suppress=True,
        code="3008",
        sent=False,
    ),
    Case(
        "nhn_alimtalk",
        "unapproved-template-config",
        msg("nhn_alimtalk", data={"template_code": "NOPE"}),
        C,
        code="-3005",
        sent=False,
    ),
    Case(
        "nhn_alimtalk",
        "invalid-number-suppress",
        msg("nhn_alimtalk", address="01040190001"),
        P,
        suppress=True,
        code="-4019",
        sent=False,
    ),
    Case(
        "nhn_alimtalk",
        "content-too-long-keeps-number",
        msg(
            "nhn_alimtalk",
            data={
                "template_code": "ORDER_SHIPPED",
                "template_params": json.dumps({"name": "가" * 1300, "invoice": "1"}),
            },
        ),
        P,
        suppress=False,
        code="-2019",
        sent=False,
    ),
    Case("nhn_alimtalk", "ads-refused", msg("nhn_alimtalk", purpose=Purpose.AD), P, suppress=False, sent=False),
    Case("nhn_alimtalk", "bad-secret-config", msg("nhn_alimtalk"), C, config={"secret_key": "wrong"}, sent=False),
    Case("nhn_alimtalk", "system-error-retry", msg("nhn_alimtalk"), R, faults=DOWN, sent=False),
    Case("fcm", "accepted", msg("fcm"), A, sent=True),
    Case(
        "fcm",
        "unregistered-suppress",
        msg("fcm", address="unregistered-9"),
        P,
        suppress=True,
        code="UNREGISTERED",
        sent=False,
    ),
    Case("fcm", "invalid-token-suppress", msg("fcm", address="invalid-9"), P, suppress=True, sent=False),
    Case("fcm", "quota-retry-after", msg("fcm"), R, code="QUOTA_EXCEEDED", faults=THROTTLE, sent=False),
    Case("fcm", "unavailable-retry", msg("fcm"), R, faults=DOWN, sent=False),
    Case("fcm", "proxy-error-string-retry", msg("fcm", address="proxy-1"), R, code="503", sent=False),
    Case("fcm", "ad-without-label", msg("fcm", subject="단골상점", body="쿠폰"), P, suppress=False, sent=False),
    Case("fcm", "dropped-unknown", msg("fcm"), U, faults=DROP, sent=True),
    Case(
        "fcm",
        "foreign-service-account-config",
        msg("fcm"),
        C,
        code="oauth",
        config={"service_account_info": {"private_key": OTHER_RSA_KEY}},
        sent=False,
    ),
    Case("webpush", "accepted", msg("webpush"), A, sent=True),
    Case(
        "webpush",
        "vapid-key-mismatch-config",
        msg("webpush"),
        C,
        code="403",
        config={"vapid_private_key": _other_vapid_key()},
        sent=False,
    ),
    Case(
        "webpush",
        "gone-suppress",
        msg("webpush", address=lambda d: webpush_subscription(d, "gone-1")),
        P,
        suppress=True,
        code="410",
        sent=False,
    ),
    Case(
        "webpush",
        "too-big",
        msg("webpush", address=lambda d: webpush_subscription(d, "big-1")),
        P,
        suppress=False,
        code="413",
        sent=False,
    ),
    Case("webpush", "throttled", msg("webpush"), R, code="429", faults=THROTTLE, sent=False),
    Case("webpush", "not-a-subscription", msg("webpush", address="nope"), P, suppress=True, sent=False),
    Case("webhook", "accepted", msg("webhook"), A, sent=True),
    Case(
        "webhook",
        "bad-secret-config",
        msg("webhook"),
        C,
        code="401",
        config={"secret": "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"},
        sent=False,
    ),
    Case("webhook", "gone-suppress", msg("webhook"), P, suppress=True, code="410", sent=False),
    Case("webhook", "throttled", msg("webhook"), R, code="429", faults=THROTTLE, sent=False),
    Case("webhook", "dropped-unknown", msg("webhook"), U, faults=DROP, sent=True),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_classification(case: Case, fakes: FakeSet) -> None:
    desc = fakes.describe()
    if case.adapter == "webhook" and case.name == "gone-suppress":
        desc["webhook"]["url"] = desc["webhook"]["url"].replace("/hooks/dangol", "/hooks/gone")
    for name, value in case.config.items():
        current = desc[case.adapter].get(name)
        desc[case.adapter][name] = current | value if isinstance(current, dict) else value
    adapter = adapters_from_description(desc)[case.adapter]
    fake = fakes.all()[case.adapter]
    if case.faults:
        fake.faults = case.faults
    m = case.message(desc)
    with adapter:
        [result] = adapter.send([m], idempotency_key=uuid.uuid4().hex)
    assert result.key == m.key
    assert result.outcome is case.outcome, result
    if case.suppress is not None:
        assert result.suppress is case.suppress, result
    if case.code is not None:
        assert result.code == case.code, result
    if case.outcome is Outcome.ACCEPTED:
        assert result.provider_id
    if case.outcome is Outcome.RETRY and case.faults is THROTTLE:
        assert result.throttled
        assert result.retry_after == (None if case.adapter == "smtp" else 7.0)  # SMTP has no Retry-After
    if case.sent is not None:
        assert (m.key in fake.received_keys()) is case.sent


def test_every_adapter_has_every_basic_case() -> None:
    names = {c.adapter for c in CASES}
    assert names == {"smtp", "sendgrid", "nhn_sms", "nhn_alimtalk", "fcm", "webpush", "webhook"}
    for adapter in names:
        outcomes = {c.outcome for c in CASES if c.adapter == adapter}
        assert {A, P, R, C} <= outcomes, adapter
