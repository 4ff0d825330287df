"""Errors that stop a whole channel rather than one recipient."""


class ChannelError(Exception):
    """Base class for channel-wide failures."""


class TransientChannelError(ChannelError):
    """The provider is down as a whole; the orchestrator's retry policy should try the run again."""


class ChannelConfigError(ChannelError):
    """Credentials, sender or template are wrong: stop the channel and alert a person."""
