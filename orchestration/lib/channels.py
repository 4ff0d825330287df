"""Chooses the adapter each channel is delivered through, from the channels resource's mode.

- `outbox` (default): every channel lands in the embedded outbox; no credentials needed.
- `fake`: the local fake providers from `channels.fakes` (real HTTP/SMTP servers on 127.0.0.1), started
  once per process; what they accepted is appended to `<outbox dir>/../fakes/<provider>.jsonl`.
- `live`: the real providers, configured from the environment (`channels.registry.from_env`).
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import os
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from channels import registry
from channels.adapters.outbox import OutboxAdapter
from channels.base import Adapter
from channels.models import Channel, Message, SendResult
from orchestration.lib.resources import ChannelsResource


def provider_for(channel: Channel) -> str:
    """The provider adapter of a channel; email can be "sendgrid" (default) or "smtp" (DANGOL_EMAIL_PROVIDER)."""
    if channel is Channel.EMAIL:
        return os.environ.get("DANGOL_EMAIL_PROVIDER", registry.DEFAULT_ADAPTERS[channel])
    return registry.DEFAULT_ADAPTERS[channel]


class _LocalFakes:
    """The fake providers of this process, started on first use and stopped at exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stack: ExitStack | None = None
        self.description: dict[str, Any] | None = None

    def describe(self, record_dir: Path) -> dict[str, Any]:
        with self._lock:
            if self.description is None:
                from channels.fakes import running_fakes

                self._stack = ExitStack()
                templates = _campaign_alimtalk_templates()
                fakes = self._stack.enter_context(running_fakes(record_dir=record_dir, alimtalk_templates=templates))
                self.description = fakes.describe()
                atexit.register(self._stack.close)
            return self.description


def _campaign_alimtalk_templates() -> dict[str, str]:
    """The campaigns' alimtalk templates, approved on the local fake as the shop has them approved at NHN:
    each code with its `#{key}`s (the fake checks that every one is filled)."""
    from orchestration.campaigns.spec import load_campaigns

    out = {}
    for spec in load_campaigns():
        template = spec.templates.get(Channel.KAKAO)
        if template is not None and template.template_code:
            out[template.template_code] = " ".join(f"#{{{key}}}" for key in template.variables or {})
    return out


_fakes = _LocalFakes()


class _FakeWebPushAddresses(Adapter):
    """Points each web push subscription at the local fake push service (demo data's endpoints are fictional)."""

    def __init__(self, inner: Adapter, description: dict[str, Any]) -> None:
        from channels.fakes import webpush_subscription

        self._inner = inner
        self._subscription = lambda address: webpush_subscription(
            description, hashlib.sha256(address.encode()).hexdigest()[:16]
        )
        self.name = inner.name  # type: ignore[misc]
        self.channels = inner.channels  # type: ignore[misc]
        self.limits = inner.limits  # batch, rate, concurrency, dedupe, ...

    @property
    def limiter_key(self) -> str:
        return self._inner.limiter_key

    def open(self) -> None:
        self._inner.open()

    def close(self) -> None:
        self._inner.close()

    def send(self, messages: Sequence[Message], *, idempotency_key: str) -> list[SendResult]:
        return self._inner.send(
            [dataclasses.replace(m, address=self._subscription(m.address)) for m in messages],
            idempotency_key=idempotency_key,
        )


def open_adapter(resource: ChannelsResource, channel: Channel) -> Adapter:
    """The adapter for one channel under the resource's mode (use it as a context manager)."""
    if resource.mode == "outbox":
        return OutboxAdapter(resource.outbox_dir)
    provider = provider_for(channel)
    if resource.mode == "fake":
        from channels.fakes import adapters_from_description

        description = _fakes.describe(Path(resource.outbox_dir).parent / "fakes")
        adapter = adapters_from_description(description)[provider]
        return _FakeWebPushAddresses(adapter, description) if channel is Channel.WEB_PUSH else adapter
    if resource.mode == "live":
        return registry.from_env(provider)
    raise ValueError(f"unknown channel mode {resource.mode!r}: use outbox, fake or live")
