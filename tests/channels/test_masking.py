"""No log line, error or stored reason shows a full phone number, email address or token."""

from __future__ import annotations

import dataclasses
import logging
import re

import pytest

from channels.adapters.sendgrid import SendGridConfig
from channels.delivery import deliver
from channels.errors import ChannelConfigError
from channels.fakes import FakeSet, Faults, adapters_from_description
from channels.fakes.workload import messages
from channels.ledger import Ledger
from channels.masking import mask_address, mask_email, mask_phone, mask_text, mask_token


def test_masks() -> None:
    assert mask_phone("010-1234-5678") == "010-****-5678"
    assert mask_email("minji.kim@naver.com") == "m********@naver.com"
    assert mask_token("fcm-token-abcdefghijklmnop") == "fcm-to…"
    assert mask_address("sms", "01012345678") == "010-****-5678"
    text = "NHN -2019: 01012345678 invalid; mail minji.kim@naver.com; token eyJhbGciOiJFUzI1NiJ9abcdefghijk"
    masked = mask_text(text)
    assert "01012345678" not in masked and "minji.kim@naver.com" not in masked
    assert "eyJhbGciOiJFUzI1NiJ9abcdefghijk" not in masked and "010-****-5678" in masked


def test_config_repr_hides_secrets() -> None:
    config = SendGridConfig(api_key="SG.very-secret", from_email="shop@dangol.test")
    assert "very-secret" not in repr(config)


def leaks(text: str, addresses: list[str]) -> list[str]:
    found = [a for a in addresses if a in text]
    found += re.findall(r"01[016789]\d{7,8}", text)
    return found


@pytest.mark.parametrize("adapter_name", ["smtp", "sendgrid", "nhn_sms", "nhn_alimtalk", "fcm", "webpush"])
def test_failures_are_logged_masked(
    adapter_name: str, fakes: FakeSet, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    desc = fakes.describe()
    fakes.all()[adapter_name].faults = Faults(throttle=0.2, retry_after="0", error=0.2)
    batch = messages(adapter_name, 60, desc, bad_every=3)
    # Addresses these providers refuse at send time (their usual bad ones fail later, or fall back).
    refused = {"sendgrid": lambda i: f"someone{i}@example.invalid", "nhn_alimtalk": lambda i: f"0103008{i:04d}"}
    if adapter_name in refused:
        batch = [
            dataclasses.replace(m, address=refused[adapter_name](i)) if i % 3 == 0 else m for i, m in enumerate(batch)
        ]
    with caplog.at_level(logging.DEBUG), adapters_from_description(desc)[adapter_name] as adapter:
        report = deliver(
            batch, adapter, ledger, base_delay=0.001, max_delay=0.05, max_attempts=30, outage_threshold=1000
        )
    assert report.failed > 0
    addresses = [m.address for m in batch]
    if adapter_name == "webpush":
        addresses = [a.split('"endpoint": "')[1].split('"')[0] for a in addresses]
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "->" in logged  # failures were logged at all
    assert leaks(logged, addresses) == []
    assert leaks(repr(report), addresses) == []
    reasons = "\n".join(str(r.reason) for r in ledger.rows())
    assert leaks(reasons, addresses) == []


def test_config_error_message_is_masked(fakes: FakeSet, ledger: Ledger) -> None:
    desc = fakes.describe()
    desc["nhn_sms"]["secret_key"] = "wrong-secret-value"
    adapter = adapters_from_description(desc)["nhn_sms"]
    with adapter, pytest.raises(ChannelConfigError) as stopped:
        deliver(messages("nhn_sms", 5, desc), adapter, ledger)
    text = str(stopped.value) + repr(stopped.value.report)
    assert "wrong-secret-value" not in text and leaks(text, []) == []
