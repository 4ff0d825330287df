"""The one abstract adapter every channel implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, Self

from channels.models import Channel, Message, SendResult


class Adapter(ABC):
    """Sends messages to one provider; declares its limits on the class.

    `send` takes at most `batch_size` messages and returns exactly one result per message, in order.
    A bad recipient yields a per-recipient result; only a channel-wide failure raises
    (`TransientChannelError` or `ChannelConfigError`).

    Limits declared here are read by the delivery loop:

    * `batch_size`: recipients per `send` call (the provider's per-request maximum);
    * `rate_per_second`: provider requests per second, shared by every thread and adapter instance
      that talks to the same provider account (`limiter_key`); None = unpublished / unlimited;
    * `concurrency`: requests in flight at once (one-message-per-request APIs need many);
    * `deduplicates_by_key`: the provider (or receiver) drops a second request carrying the same
      idempotency key, so a request whose answer was lost may be sent again with the same key;
      `dedupe_window_seconds` bounds how long it remembers keys (None = forever);
    * `max_body_bytes`: the provider's body limit, checked before sending.
    """

    name: ClassVar[str]
    channels: ClassVar[frozenset[Channel]]
    batch_size: ClassVar[int] = 1
    rate_per_second: ClassVar[float | None] = None
    concurrency: ClassVar[int] = 1
    deduplicates_by_key: ClassVar[bool] = False
    dedupe_window_seconds: ClassVar[float | None] = None
    max_body_bytes: ClassVar[int | None] = None

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
    def send(self, messages: Sequence[Message], *, idempotency_key: str | None = None) -> list[SendResult]:
        """Send one batch and classify the provider's answer per message.

        `idempotency_key` is stable for this exact batch across retries and restarts; the delivery loop
        passes it only to adapters that declare `deduplicates_by_key`, which pass it on (derived per
        request when the batch is split). Other adapters may keep the plain `send(messages)` signature.
        """
