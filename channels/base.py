"""The one abstract adapter every channel implements, and the limits it declares."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Self

from channels.models import Channel, Message, Outcome, SendResult


@dataclass(frozen=True)
class Limits:
    """What a provider allows and promises, read by the delivery loop.

    * `batch_size`: recipients per `send` call (the provider's per-request maximum);
    * `rate_per_second`: provider requests per second, shared by every thread and adapter instance
      that talks to the same provider account (`Adapter.limiter_key`); None = unpublished / unlimited;
    * `concurrency`: requests in flight at once (one-message-per-request APIs need many);
    * `deduplicates_by_key`: the provider (or receiver) drops a second request carrying the same
      idempotency key, so a request whose answer was lost may be sent again with the same key;
      `dedupe_window_seconds` bounds how long it remembers keys (None = forever);
    * `max_body_bytes`: the provider's body limit, checked before sending.
    """

    batch_size: int = 1
    rate_per_second: float | None = None
    concurrency: int = 1
    deduplicates_by_key: bool = False
    dedupe_window_seconds: float | None = None
    max_body_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.concurrency < 1:
            raise ValueError(f"batch_size and concurrency must be at least 1: {self}")
        if self.rate_per_second is not None and self.rate_per_second <= 0:
            raise ValueError(f"rate_per_second must be positive: {self}")


class Adapter(ABC):
    """Sends messages to one provider.

    A subclass declares on the class: its `name` (the registry's key), the `channels` it carries, the
    channels it is the default provider of (`default_for`), its `limits` (a frozen `Limits`; an
    account's own limits replace it per instance, see `registry.apply_limits`) and its `Config` (a
    frozen dataclass whose `from_env` reads the secrets). It implements `send`, and `lookup` when the
    provider can be asked what became of a request.
    """

    name: ClassVar[str]
    channels: ClassVar[frozenset[Channel]]
    default_for: ClassVar[frozenset[Channel]] = frozenset()
    limits: Limits = Limits()
    Config: ClassVar[Any] = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Self:
        """This adapter configured from the environment (variables named in its module's docstring)."""
        return cls(cls.Config.from_env(environ))  # type: ignore[call-arg]

    @property
    def limiter_key(self) -> str:
        """Which rate limit this instance shares; adapters with a base URL add it."""
        return self.name

    def open(self) -> None:  # noqa: B027 - optional hook
        """Open connections; called once before the first send."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def send(self, messages: Sequence[Message], *, idempotency_key: str) -> list[SendResult]:
        """Send one batch (at most `limits.batch_size` messages) and classify the answer per message.

        Returns exactly one result per message, in order. A bad recipient yields a per-recipient result;
        only a channel-wide failure raises (`TransientChannelError` or `ChannelConfigError`).
        `idempotency_key` is stable for this exact batch across retries and restarts: an adapter whose
        provider deduplicates passes it on (derived per request when it splits the batch); the others
        may ignore it, or use it to find the request again in `lookup`.
        """

    def lookup(self, messages: Sequence[Message], *, idempotency_key: str, sent_at: datetime) -> list[SendResult]:
        """Ask the provider what became of a batch sent under `idempotency_key` around `sent_at` whose
        answer never came (the sender was killed, or the answer was lost).

        One result per message, in order: ACCEPTED (the provider has it), PERMANENT / OPTED_OUT (it has
        it and refused it), RETRY (it certainly never got it: safe to send again) or UNKNOWN (it cannot
        tell; a person decides). Providers that cannot be asked keep this default: all UNKNOWN.
        """
        return [SendResult(m.key, Outcome.UNKNOWN, reason="provider cannot be asked") for m in messages]

    @property
    def can_lookup(self) -> bool:
        """Whether `lookup` asks the provider (an adapter that overrides it can)."""
        return type(self).lookup is not Adapter.lookup
