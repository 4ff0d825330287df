"""Sends planned messages through one adapter, with the ledger guarding against double sends."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from channels.base import Adapter
from channels.ledger import Ledger, State
from channels.models import Message, Outcome, SendResult


@dataclass
class DeliveryReport:
    """What one delivery pass did, per ledger state; `skipped_already_sent` counts keys seen before."""

    planned: int = 0
    skipped_already_sent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def accepted(self) -> int:
        return self.outcomes[str(State.ACCEPTED)]


def deliver(
    messages: Sequence[Message],
    adapter: Adapter,
    ledger: Ledger,
    *,
    max_attempts: int = 4,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """Deliver each message at most once.

    A key already accepted (or failed, or unknown) is skipped. A key left `claimed` by a crashed run is
    re-sent only when the adapter's provider deduplicates by key; otherwise it becomes `unknown`.
    """
    report = DeliveryReport(planned=len(messages))
    ledger.plan(messages, adapter.name)
    states = ledger.states([m.key for m in messages])
    todo: list[Message] = []
    ambiguous: list[str] = []
    for m in messages:
        state = states[m.key]
        if state in (State.PLANNED, State.RETRY):
            todo.append(m)
        elif state is State.CLAIMED:
            if adapter.deduplicates_by_key:
                todo.append(m)
            else:
                ambiguous.append(m.key)
        else:
            report.skipped_already_sent += 1
    if ambiguous:
        ledger.mark(ambiguous, State.UNKNOWN, "claimed before a crash; provider cannot deduplicate")
        report.outcomes[str(State.UNKNOWN)] += len(ambiguous)

    address_of = {m.key: (str(m.channel), m.address) for m in todo}
    attempt = 0
    while todo:
        attempt += 1
        retry: list[Message] = []
        wait = 0.0
        for i in range(0, len(todo), adapter.batch_size):
            batch = todo[i : i + adapter.batch_size]
            ledger.claim([m.key for m in batch])
            results = adapter.send(batch)
            ledger.record(results, address_of)
            by_key = {m.key: m for m in batch}
            for r in results:
                if r.outcome in (Outcome.RETRY, Outcome.CONFIG_ERROR) and attempt < max_attempts:
                    retry.append(by_key[r.key])
                    wait = max(wait, r.retry_after or 0.0)
                else:
                    report.outcomes[_final_state(r)] += 1
        if retry:
            backoff = min(max_delay, base_delay * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            sleep(max(wait, backoff))
        todo = retry
    return report


def _final_state(result: SendResult) -> str:
    if result.outcome is Outcome.ACCEPTED:
        return str(State.ACCEPTED)
    if result.outcome in (Outcome.RETRY, Outcome.CONFIG_ERROR):
        return str(State.RETRY)
    return str(State.FAILED)
