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
    """

    name: ClassVar[str]
    channels: ClassVar[frozenset[Channel]]
    batch_size: ClassVar[int] = 1
    rate_per_second: ClassVar[float | None] = None
    deduplicates_by_key: ClassVar[bool] = False

    def open(self) -> None:
        """Open connections; called once before the first send."""

    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @abstractmethod
    def send(self, messages: Sequence[Message]) -> list[SendResult]:
        """Send one batch and classify the provider's answer per message."""
