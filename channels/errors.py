"""Errors that stop a whole channel rather than one recipient."""

from __future__ import annotations

from channels.report import DeliveryReport


class ChannelError(Exception):
    """Base class for channel-wide failures; `report` says what the run did before it stopped."""

    def __init__(self, message: str, report: DeliveryReport | None = None) -> None:
        super().__init__(message)
        self.report = report


class TransientChannelError(ChannelError):
    """The provider is down as a whole; the orchestrator's retry policy should try the run again."""


class ChannelConfigError(ChannelError):
    """Credentials, sender or template are wrong: stop the channel and alert a person."""
