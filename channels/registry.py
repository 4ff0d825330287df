"""Names used in configuration, mapped to adapter classes. Explicit: no file scanning.

`CONFIGS` maps the same names to each adapter's configuration class, whose `from_env()` reads the
secrets from the environment (variable names in each adapter module's docstring); `from_env(name)`
builds a ready adapter that way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from channels.adapters.fcm import FcmAdapter, FcmConfig
from channels.adapters.nhn_alimtalk import NhnAlimtalkAdapter, NhnAlimtalkConfig
from channels.adapters.nhn_sms import NhnSmsAdapter, NhnSmsConfig
from channels.adapters.outbox import OutboxAdapter
from channels.adapters.sendgrid import SendGridAdapter, SendGridConfig
from channels.adapters.smtp import SmtpAdapter, SmtpConfig
from channels.adapters.webhook import WebhookAdapter, WebhookConfig
from channels.adapters.webpush import WebPushAdapter, WebPushConfig
from channels.base import Adapter
from channels.models import Channel

ADAPTERS: dict[str, type[Adapter]] = {
    OutboxAdapter.name: OutboxAdapter,
    SmtpAdapter.name: SmtpAdapter,
    SendGridAdapter.name: SendGridAdapter,
    NhnSmsAdapter.name: NhnSmsAdapter,
    NhnAlimtalkAdapter.name: NhnAlimtalkAdapter,
    FcmAdapter.name: FcmAdapter,
    WebPushAdapter.name: WebPushAdapter,
    WebhookAdapter.name: WebhookAdapter,
}

# The provider adapter each channel goes through unless a deployment says otherwise (email can also
# go through "smtp"); the outbox carries every channel.
DEFAULT_ADAPTERS: dict[Channel, str] = {
    Channel.EMAIL: SendGridAdapter.name,
    Channel.SMS: NhnSmsAdapter.name,
    Channel.KAKAO: NhnAlimtalkAdapter.name,
    Channel.APP_PUSH: FcmAdapter.name,
    Channel.WEB_PUSH: WebPushAdapter.name,
    Channel.WEBHOOK: WebhookAdapter.name,
}

CONFIGS: dict[str, Any] = {
    SmtpAdapter.name: SmtpConfig,
    SendGridAdapter.name: SendGridConfig,
    NhnSmsAdapter.name: NhnSmsConfig,
    NhnAlimtalkAdapter.name: NhnAlimtalkConfig,
    FcmAdapter.name: FcmConfig,
    WebPushAdapter.name: WebPushConfig,
    WebhookAdapter.name: WebhookConfig,
}


def from_env(name: str, environ: Mapping[str, str] = os.environ) -> Adapter:
    """Build the adapter `name` with its configuration read from the environment.

    The outbox takes `DANGOL_OUTBOX_DIR` (default `outbox/`) and needs no secret. The limits an adapter
    declares are the provider's published ones; an account's own contract may differ, so
    `DANGOL_<NAME>_RATE_PER_SECOND` and `DANGOL_<NAME>_CONCURRENCY` (e.g. `DANGOL_SENDGRID_RATE_PER_SECOND`)
    override them for this instance.
    """
    if name == OutboxAdapter.name:
        return OutboxAdapter(Path(environ.get("DANGOL_OUTBOX_DIR", "outbox")))
    config = CONFIGS[name].from_env(environ)
    adapter = ADAPTERS[name](config)  # type: ignore[call-arg]
    apply_limits(adapter, environ)
    return adapter


def apply_limits(adapter: Adapter, environ: Mapping[str, str] = os.environ) -> Adapter:
    """Set an account's own rate and concurrency on `adapter` from `DANGOL_<NAME>_...` variables."""
    prefix = f"DANGOL_{adapter.name.upper()}_"
    rate = environ.get(prefix + "RATE_PER_SECOND", "").strip()
    if rate:
        value = float(rate)
        if value <= 0:
            raise ValueError(f"{prefix}RATE_PER_SECOND must be positive, got {rate!r}")
        adapter.rate_per_second = value  # type: ignore[misc]
    concurrency = environ.get(prefix + "CONCURRENCY", "").strip()
    if concurrency:
        workers = int(concurrency)
        if workers < 1:
            raise ValueError(f"{prefix}CONCURRENCY must be at least 1, got {concurrency!r}")
        adapter.concurrency = workers  # type: ignore[misc]
    return adapter
