"""Names used in configuration, mapped to adapter classes. Explicit: no file scanning."""

from __future__ import annotations

from channels.adapters.outbox import OutboxAdapter
from channels.base import Adapter

ADAPTERS: dict[str, type[Adapter]] = {
    OutboxAdapter.name: OutboxAdapter,
}
