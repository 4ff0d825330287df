"""Chooses the adapter a channel is delivered through, from the channels resource's mode."""

from __future__ import annotations

from channels.adapters.outbox import OutboxAdapter
from channels.base import Adapter
from channels.models import Channel
from orchestration.lib.resources import ChannelsResource


def open_adapter(resource: ChannelsResource, channel: Channel) -> Adapter:
    """The outbox carries every channel; provider adapters are configured per channel."""
    if resource.mode == "outbox":
        return OutboxAdapter(resource.outbox_dir)
    raise NotImplementedError(f"channel mode {resource.mode!r} is not available yet")
