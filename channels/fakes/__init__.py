"""Local fakes of every provider: real servers on 127.0.0.1 that check auth, validate requests like
the provider, answer per recipient, deduplicate where the provider does, and inject faults on demand.

    with running_fakes(latency_ms=20, faults=Faults(throttle=0.02, error=0.02, drop=0.01)) as fakes:
        adapters = fakes.adapters()          # adapter name -> adapter configured for its fake
        ...
        fakes.sendgrid.received              # what the "provider" accepted, one item per recipient

Another process (a sender that may be killed, the benchmark) gets the same wiring from
`fakes.describe()` (JSON) through `adapters_from_description()`; `python -m channels.fakes` serves
the fakes and prints that description. Faults switch at runtime (`set_faults`, or POST
`/_fake/faults` on an HTTP fake).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from channels.adapters.fcm import FcmConfig
from channels.adapters.nhn_alimtalk import NhnAlimtalkConfig
from channels.adapters.nhn_sms import NhnSmsConfig
from channels.adapters.sendgrid import SendGridConfig
from channels.adapters.smtp import SmtpConfig
from channels.adapters.webhook import WebhookConfig
from channels.adapters.webpush import WebPushConfig
from channels.base import Adapter
from channels.fakes._server import NO_FAULTS, FakeProvider, Faults, Reply, Request
from channels.fakes.fcm import FakeFcm
from channels.fakes.nhn_alimtalk import FakeNhnAlimtalk
from channels.fakes.nhn_sms import FakeNhnSms
from channels.fakes.sendgrid import FakeSendGrid
from channels.fakes.smtp import FakeSmtp
from channels.fakes.webhook import FakeWebhookReceiver
from channels.fakes.webpush import FakeWebPush

__all__ = [
    "NO_FAULTS",
    "FakeProvider",
    "FakeSet",
    "Faults",
    "Reply",
    "Request",
    "adapters_from_description",
    "configs_from_description",
    "running_fakes",
    "webpush_subscription",
]

SMS_SEND_NO = "0215880000"


@dataclass
class FakeSet:
    smtp: FakeSmtp
    sendgrid: FakeSendGrid
    nhn_sms: FakeNhnSms
    nhn_alimtalk: FakeNhnAlimtalk
    fcm: FakeFcm
    webpush: FakeWebPush
    webhook: FakeWebhookReceiver

    def all(self) -> dict[str, FakeProvider]:
        """Adapter name -> its fake."""
        return {
            "smtp": self.smtp,
            "sendgrid": self.sendgrid,
            "nhn_sms": self.nhn_sms,
            "nhn_alimtalk": self.nhn_alimtalk,
            "fcm": self.fcm,
            "webpush": self.webpush,
            "webhook": self.webhook,
        }

    def set_faults(self, faults: Faults, latency_ms: float | None = None) -> None:
        for fake in self.all().values():
            fake.faults = faults
            if latency_ms is not None:
                fake.latency_ms = latency_ms

    def describe(self) -> dict[str, Any]:
        """Everything another process needs to talk to these fakes (fake credentials only)."""
        sub = json.loads(self.webpush.subscription("x"))
        return {
            "smtp": {
                "host": "127.0.0.1",
                "port": self.smtp.port,
                "username": self.smtp.username,
                "password": self.smtp.password,
                "from_email": self.smtp.from_email,
            },
            "sendgrid": {
                "api_key": self.sendgrid.api_key,
                "from_email": self.sendgrid.verified_sender,
                "base_url": self.sendgrid.url,
            },
            "nhn_sms": {
                "app_key": self.nhn_sms.app_key,
                "secret_key": self.nhn_sms.secret_key,
                "send_no": SMS_SEND_NO,
                "base_url": self.nhn_sms.url,
            },
            "nhn_alimtalk": {
                "app_key": self.nhn_alimtalk.app_key,
                "secret_key": self.nhn_alimtalk.secret_key,
                "sender_key": self.nhn_alimtalk.sender_key,
                "fallback_send_no": SMS_SEND_NO,
                "base_url": self.nhn_alimtalk.url,
            },
            "fcm": {"service_account_info": self.fcm.service_account_info, "base_url": self.fcm.url},
            "webpush": {
                "vapid_private_key": self.webpush.vapid_private_key,
                "vapid_subject": "mailto:ops@dangol.test",
                "subscription": {"endpoint_prefix": sub["endpoint"].removesuffix("x"), "keys": sub["keys"]},
            },
            "webhook": {"secret": self.webhook.secret, "url": f"{self.webhook.url}/hooks/dangol"},
            "control": {name: fake.url for name, fake in self.all().items() if name != "smtp"},
        }

    def configs(self) -> dict[str, Any]:
        return configs_from_description(self.describe())

    def adapters(self) -> dict[str, Adapter]:
        return adapters_from_description(self.describe())


def configs_from_description(desc: dict[str, Any]) -> dict[str, Any]:
    webpush = {k: v for k, v in desc["webpush"].items() if k != "subscription"}
    return {
        "smtp": SmtpConfig(starttls=False, **desc["smtp"]),
        "sendgrid": SendGridConfig(**desc["sendgrid"]),
        "nhn_sms": NhnSmsConfig(**desc["nhn_sms"]),
        "nhn_alimtalk": NhnAlimtalkConfig(**desc["nhn_alimtalk"]),
        "fcm": FcmConfig(**desc["fcm"]),
        "webpush": WebPushConfig(**webpush),
        "webhook": WebhookConfig(**desc["webhook"]),
    }


def adapters_from_description(desc: dict[str, Any]) -> dict[str, Adapter]:
    """Adapter name -> an adapter pointed at the described fakes."""
    from channels.registry import ADAPTERS

    return {name: ADAPTERS[name](config) for name, config in configs_from_description(desc).items()}  # type: ignore[call-arg]


def webpush_subscription(desc: dict[str, Any], name: str) -> str:
    """A subscription JSON for the described web push fake (`gone-*` answers 410)."""
    sub = desc["webpush"]["subscription"]
    return json.dumps({"endpoint": sub["endpoint_prefix"] + name, "keys": sub["keys"]})


@contextmanager
def running_fakes(
    latency_ms: float = 0.0,
    faults: Faults = NO_FAULTS,
    record_dir: Path | str | None = None,
    seed: int | None = None,
    alimtalk_templates: Mapping[str, str] | None = None,
) -> Iterator[FakeSet]:
    """Start every fake; with `record_dir`, each also appends what it accepted to `<name>.jsonl` there.
    `alimtalk_templates` are approved on the alimtalk fake besides its own (code -> text with `#{key}`s)."""

    def kwargs(name: str, offset: int) -> dict[str, Any]:
        path = Path(record_dir) / f"{name}.jsonl" if record_dir else None
        return {
            "latency_ms": latency_ms,
            "faults": faults,
            "record_path": path,
            "seed": None if seed is None else seed + offset,
        }

    if record_dir:
        Path(record_dir).mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        fakes = FakeSet(
            smtp=stack.enter_context(FakeSmtp(**kwargs("smtp", 1))),
            sendgrid=stack.enter_context(FakeSendGrid(**kwargs("sendgrid", 2))),
            nhn_sms=stack.enter_context(FakeNhnSms(**kwargs("nhn_sms", 3))),
            nhn_alimtalk=stack.enter_context(
                FakeNhnAlimtalk(templates=alimtalk_templates, **kwargs("nhn_alimtalk", 4))
            ),
            fcm=stack.enter_context(FakeFcm(**kwargs("fcm", 5))),
            webpush=stack.enter_context(FakeWebPush(**kwargs("webpush", 6))),
            webhook=stack.enter_context(FakeWebhookReceiver(**kwargs("webhook", 7))),
        )
        yield fakes
