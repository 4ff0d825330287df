"""What one delivery pass did: returned by `deliver`, and carried by the errors that stop a channel."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from channels.ledger import State


@dataclass
class DeliveryReport:
    """What one delivery pass did.

    `outcomes` counts messages by the ledger state this pass left them in (accepted, failed, retry,
    unknown, and claimed: possibly sent to a deduplicating provider, to be re-sent under the same key
    by the next run); `skipped_already_sent` counts keys a previous pass had settled; `settled_by_lookup`
    counts messages an interrupted run left claimed whose fate the provider told us.
    """

    planned: int = 0
    skipped_already_sent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    suppressed: int = 0
    resent_after_crash: int = 0
    settled_by_lookup: int = 0
    requests: int = 0
    retries: int = 0
    stopped: str | None = None

    @property
    def accepted(self) -> int:
        return self.outcomes[str(State.ACCEPTED)]

    @property
    def failed(self) -> int:
        return self.outcomes[str(State.FAILED)]

    @property
    def unknown(self) -> int:
        return self.outcomes[str(State.UNKNOWN)]

    @property
    def pending_retry(self) -> int:
        return self.outcomes[str(State.RETRY)]
