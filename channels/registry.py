"""Names used in configuration, mapped to adapter classes: one entry per adapter, no file scanning.

Everything else about an adapter is declared on its class (channels, the channels it is the default
provider of, limits, configuration class); `from_env(name)` builds a ready adapter from the
environment (variable names in each adapter module's docstring).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from channels.adapters.fcm import FcmAdapter
from channels.adapters.nhn_alimtalk import NhnAlimtalkAdapter
from channels.adapters.nhn_sms import NhnSmsAdapter
from channels.adapters.outbox import OutboxAdapter
from channels.adapters.sendgrid import SendGridAdapter
from channels.adapters.smtp import SmtpAdapter
from channels.adapters.webhook import WebhookAdapter
from channels.adapters.webpush import WebPushAdapter
from channels.base import Adapter
from channels.models import Channel

ADAPTERS: dict[str, type[Adapter]] = {
    cls.name: cls
    for cls in (
        OutboxAdapter,
        SmtpAdapter,
        SendGridAdapter,
        NhnSmsAdapter,
        NhnAlimtalkAdapter,
        FcmAdapter,
        WebPushAdapter,
        WebhookAdapter,
    )
}

# The provider adapter each channel goes through unless a deployment says otherwise (email can also
# go through "smtp"); the outbox carries every channel. Read from the classes' `default_for`.
DEFAULT_ADAPTERS: dict[Channel, str] = {
    channel: cls.name for cls in ADAPTERS.values() for channel in sorted(cls.default_for)
}


def from_env(name: str, environ: Mapping[str, str] = os.environ) -> Adapter:
    """Build the adapter `name` with its configuration read from the environment.

    The limits an adapter declares are the provider's published ones; an account's own contract may
    differ, so `DANGOL_<NAME>_RATE_PER_SECOND` and `DANGOL_<NAME>_CONCURRENCY` (e.g.
    `DANGOL_SENDGRID_RATE_PER_SECOND`) override them for this instance.
    """
    if name not in ADAPTERS:
        raise ValueError(f"unknown adapter {name!r}; known: {', '.join(sorted(ADAPTERS))}")
    return apply_limits(ADAPTERS[name].from_env(environ), environ)


def apply_limits(adapter: Adapter, environ: Mapping[str, str] = os.environ) -> Adapter:
    """Set an account's own rate and concurrency on `adapter` from `DANGOL_<NAME>_...` variables."""
    prefix = f"DANGOL_{adapter.name.upper()}_"
    changes: dict[str, float | int] = {}
    rate = environ.get(prefix + "RATE_PER_SECOND", "").strip()
    if rate:
        value = float(rate)
        if value <= 0:
            raise ValueError(f"{prefix}RATE_PER_SECOND must be positive, got {rate!r}")
        changes["rate_per_second"] = value
    concurrency = environ.get(prefix + "CONCURRENCY", "").strip()
    if concurrency:
        workers = int(concurrency)
        if workers < 1:
            raise ValueError(f"{prefix}CONCURRENCY must be at least 1, got {concurrency!r}")
        changes["concurrency"] = workers
    if changes:
        adapter.limits = dataclasses.replace(adapter.limits, **changes)  # type: ignore[arg-type]
    return adapter
