"""Model-based test of what delivery and its ledger promise, against a provider held in memory.

Random sequences of plan, send (with refusals, throttling, lost answers and bad addresses), crash,
restart, receipt, opt-out and a person settling unknowns; after every step the ledger and the provider
are compared with a small reference model:

* nothing sent twice: the provider never takes a key twice;
* nothing lost: after a run against a healthy provider every key is settled (accepted and on, failed
  or unknown), and after a person settles the unknowns and one more run, the ledger's accepted keys are
  exactly the provider's;
* nothing sent that must not be: no message reaches an address suppressed before its run (an opt-out
  stops advertising only);
* unknowns only for what was in flight: a key is unknown only if its answer was lost or it was claimed
  when the process died, and a crash leaves at most the messages of the requests that may be in flight
  (concurrency x batch size) claimed.

A crash is a copy of the ledger file taken while the provider holds every sender still: what was
committed then survives, nothing after it does, as when the process is killed. The copy is what the
next run opens; the dead run's threads finish against the old file and a provider that no longer
listens.

Seeded: `DANGOL_MODEL_SEED` replays one example, `DANGOL_MODEL_EXAMPLES` runs more (the `slow` test
runs 300); a failure prints its seed and the steps that led to it.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest

from channels.base import Adapter, Limits
from channels.delivery import deliver
from channels.errors import ChannelError
from channels.ledger import Ledger, State, SuppressionKind
from channels.models import Channel, Message, Outcome, Purpose, SendResult

SENT = frozenset({State.ACCEPTED, State.DELIVERED, State.OPENED, State.CLICKED})
SETTLED = SENT | {State.FAILED, State.UNKNOWN}
ADDRESSES = [f"0101000{i:04d}" for i in range(30)] + [f"bad{i}" for i in range(3)]


@dataclass
class Profile:
    """How the provider answers during one run: the chance of each kind of answer per request."""

    refuse: float = 0.0  # 503: not taken
    throttle: float = 0.0  # 429 with a short Retry-After: not taken
    lost_after: float = 0.0  # taken, answer lost
    lost_before: float = 0.0  # not taken, answer lost (a timeout before the provider read it)


HEALTHY = Profile()


@dataclass
class Provider:
    """A provider in memory. It takes each recipient of a request (unless refused), answers bad
    addresses as permanent failures, and, when it deduplicates, answers a request repeating an earlier
    idempotency key from memory instead of taking its recipients again."""

    seed: int
    dedupes: bool
    received: Counter[str] = field(default_factory=Counter)
    sent_to: dict[str, str] = field(default_factory=dict)  # key -> address it was taken for
    by_idempotency_key: dict[str, set[str]] = field(default_factory=dict)
    ambiguous: set[str] = field(default_factory=set)  # keys whose request's answer was lost
    profile: Profile = field(default_factory=Profile)
    calls: int = 0
    # A crash: when a request carrying `crash_on` comes, the ledger is copied to `snapshot` (after
    # taking the request, if `crash_after_take`) and the provider stops listening to this process.
    crash_on: str | None = None
    crash_after_take: bool = False
    ledger_path: Path | None = None
    snapshot: Path | None = None
    dead: bool = False
    in_flight_at_crash: set[str] = field(default_factory=set)
    _in_flight: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _attempts: Counter[str] = field(default_factory=Counter)

    def call(self, messages: Sequence[Message], idempotency_key: str | None) -> list[SendResult]:
        keys = [m.key for m in messages]
        with self._lock:
            if self.dead:  # the process that sends this is gone; nothing it does counts
                return [SendResult(k, Outcome.CONFIG_ERROR, reason="process is dead") for k in keys]
            self._in_flight.update(keys)
        try:
            with self._lock:
                return self._answer(messages, idempotency_key)
        finally:
            time.sleep(0.0002)  # let other senders in, as a network round trip would
            with self._lock:
                self._in_flight.subtract(keys)

    def _answer(self, messages: Sequence[Message], idempotency_key: str | None) -> list[SendResult]:
        if self.dead:
            return [SendResult(m.key, Outcome.CONFIG_ERROR, reason="process is dead") for m in messages]
        self.calls += 1
        first = messages[0].key
        self._attempts[first] += 1
        # Decided by the request's content, not by thread timing, so one seed replays the same answers.
        rng = random.Random(f"{self.seed}:{','.join(m.key for m in messages)}:{self._attempts[first]}")
        crashing = self.crash_on is not None and any(m.key == self.crash_on for m in messages)
        if crashing and not self.crash_after_take:
            return self._crash(messages)
        draw = rng.random()
        p = self.profile
        if draw < p.refuse:
            return [SendResult(m.key, Outcome.RETRY, reason="HTTP 503") for m in messages]
        draw -= p.refuse
        if draw < p.throttle:
            return [
                SendResult(m.key, Outcome.RETRY, retry_after=0.002, throttled=True, reason="HTTP 429") for m in messages
            ]
        draw -= p.throttle
        if draw < p.lost_before:
            self.ambiguous.update(m.key for m in messages)
            return [SendResult(m.key, Outcome.UNKNOWN, reason="no answer") for m in messages]
        draw -= p.lost_before
        results = self._take(messages, idempotency_key)
        if crashing:
            return self._crash(messages)
        if draw < p.lost_after:
            self.ambiguous.update(m.key for m in messages)
            return [SendResult(m.key, Outcome.UNKNOWN, reason="no answer") for m in messages]
        return results

    def _take(self, messages: Sequence[Message], idempotency_key: str | None) -> list[SendResult]:
        remembered = self.by_idempotency_key.setdefault(idempotency_key, set()) if idempotency_key else set()
        out = []
        for m in messages:
            if m.address.startswith("bad"):
                out.append(SendResult(m.key, Outcome.PERMANENT, reason="no such number", code="3001"))
            elif self.dedupes and m.key in remembered:
                out.append(SendResult(m.key, Outcome.ACCEPTED, provider_id=idempotency_key))  # replay
            else:
                self.received[m.key] += 1
                self.sent_to[m.key] = m.address
                if self.dedupes and idempotency_key:
                    remembered.add(m.key)
                out.append(SendResult(m.key, Outcome.ACCEPTED, provider_id=f"req-{self.calls}"))
        return out

    def _crash(self, messages: Sequence[Message]) -> list[SendResult]:
        """Copy the ledger as it is now (every sender is held on this lock) and stop listening."""
        assert self.ledger_path is not None and self.snapshot is not None
        src, dst = sqlite3.connect(self.ledger_path), sqlite3.connect(self.snapshot)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        self.dead = True
        self.in_flight_at_crash = {k for k, n in self._in_flight.items() if n > 0}
        return [SendResult(m.key, Outcome.CONFIG_ERROR, reason="process is dead") for m in messages]


class ModelAdapter(Adapter):
    """The adapter for the provider in memory; its limits are set per example."""

    name: ClassVar[str] = "model"
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.SMS})

    def __init__(self, provider: Provider, batch_size: int, concurrency: int) -> None:
        self.provider = provider
        self.limits = Limits(batch_size=batch_size, concurrency=concurrency, deduplicates_by_key=provider.dedupes)

    def send(self, messages: Sequence[Message], *, idempotency_key: str) -> list[SendResult]:
        return self.provider.call(messages, idempotency_key)


@dataclass
class World:
    """The reference model: what was planned, suppressed and received, and what the ledger may say."""

    seed: int
    path: Path
    provider: Provider
    adapter: ModelAdapter
    rng: random.Random
    planned: dict[str, Message] = field(default_factory=dict)
    opted_out: set[str] = field(default_factory=set)
    bounced: set[str] = field(default_factory=set)  # permanent: nothing more of any purpose
    claimed_at_crash: set[str] = field(default_factory=set)
    receipts: dict[str, State] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    crashes: int = 0

    # -- steps ------------------------------------------------------------------------------------

    def plan(self) -> None:
        n = self.rng.randint(1, 12)
        start = len(self.planned)
        campaign = f"c{self.rng.randint(1, 3)}"
        for i in range(start, start + n):
            purpose = Purpose.AD if self.rng.random() < 0.8 else Purpose.INFO
            body = f"{'(광고) ' if purpose is Purpose.AD else ''}고객{i}님 쿠폰 {i % 7}0% 무료수신거부 080-123-4567"
            key = f"{campaign}:{i:04d}"
            self.planned[key] = Message(
                key, campaign, f"cust{i}", Channel.SMS, purpose, self.rng.choice(ADDRESSES), body
            )
        self.steps.append(f"plan {n}")

    def suppress(self) -> None:
        address = self.rng.choice(ADDRESSES[:30])
        kind = self.rng.choice([SuppressionKind.OPTED_OUT, SuppressionKind.PERMANENT])
        with Ledger(self.path) as ledger:
            ledger.suppress(
                str(Channel.SMS), address, "080 opt-out" if kind is SuppressionKind.OPTED_OUT else "bounce", kind
            )
        (self.opted_out if kind is SuppressionKind.OPTED_OUT else self.bounced).add(address)
        self.steps.append(f"suppress {address} {kind}")

    def receipt(self) -> None:
        with Ledger(self.path) as ledger:
            candidates = sorted(k for k, n in self.provider.received.items() if n and k in self.planned)
            if not candidates:
                return
            key = self.rng.choice(candidates)
            state = self.rng.choice([State.DELIVERED, State.OPENED, State.CLICKED])
            before = ledger.states([key]).get(key)
            ledger.advance(key, state)
            after = ledger.states([key]).get(key)
        if before in SENT | {State.UNKNOWN}:
            assert after in SENT, (key, before, state, after)  # a receipt shows the message went out
            self.receipts[key] = after
        self.steps.append(f"receipt {key} {state}: {before} -> {after}")

    def settle_unknowns(self) -> None:
        """A person checks the provider's records for each unknown message."""
        with Ledger(self.path) as ledger:
            unknown = [r.key for r in ledger.unknowns()]
            went = [k for k in unknown if self.provider.received[k]]
            ledger.resolve(went, sent=True, note="in the provider's log")
            ledger.resolve([k for k in unknown if k not in went], sent=False, note="not in the provider's log")
        self.steps.append(f"settle {len(unknown)} unknown ({len(went)} went)")

    def run(self, profile: Profile, crash: bool) -> None:
        if not self.planned:
            return
        provider = self.provider
        messages = list(self.planned.values())
        self.rng.shuffle(messages)
        if self.rng.random() < 0.2:  # the planner handed the same message twice
            messages.append(self.rng.choice(messages))
        before = Counter(provider.received)
        claimed_before = self.claimed()
        provider.profile = profile
        if crash:
            provider.crash_on = self.rng.choice(messages).key
            provider.crash_after_take = self.rng.random() < 0.5
            provider.ledger_path = self.path
            provider.snapshot = self.path.with_name(f"ledger-{self.crashes + 1}.sqlite")
        self.steps.append(
            f"run {len(messages)} {profile}"
            + (
                f" crash on {provider.crash_on} {'after' if provider.crash_after_take else 'before'} take"
                if crash
                else ""
            )
        )
        with Ledger(self.path) as ledger, contextlib.suppress(ChannelError):
            deliver(
                messages,
                self.adapter,
                ledger,
                base_delay=0.001,
                max_delay=0.004,
                max_attempts=3,
                outage_threshold=50,
            )
        crashed = provider.dead
        provider.crash_on = None
        if crashed:
            self.crashes += 1
            self.path = provider.snapshot  # type: ignore[assignment]
            provider.dead = False
            claimed = self.claimed()
            limit = self.adapter.limits.concurrency * self.adapter.limits.batch_size
            # Besides what was in flight, claims kept to go again under the same key (an answer was lost).
            fresh = claimed - claimed_before - provider.ambiguous
            assert len(fresh) <= limit, f"{len(fresh)} messages claimed at the crash; at most {limit} can be in flight"
            self.claimed_at_crash |= claimed
            self.steps.append(f"  crashed: {len(claimed)} claimed, in flight {sorted(provider.in_flight_at_crash)}")
        self.check(before, healthy=profile == HEALTHY and not crashed)

    # -- the model's verdict ------------------------------------------------------------------------

    def states(self) -> dict[str, State]:
        with Ledger(self.path) as ledger:
            return ledger.states(sorted(self.planned))

    def claimed(self) -> set[str]:
        return {k for k, s in self.states().items() if s is State.CLAIMED}

    def check(self, before: Counter[str], healthy: bool) -> None:
        provider = self.provider
        state = self.states()
        twice = {k: n for k, n in provider.received.items() if n > 1}
        assert not twice, f"sent twice: {twice}"
        for key, m in self.planned.items():
            got = state.get(key, State.PLANNED)
            went = provider.received[key] > 0
            if got in SENT:
                assert went, f"{key} is {got} in the ledger but the provider never took it"
            if got is State.FAILED:
                assert not went, f"{key} failed in the ledger but the provider took it"
            if went:
                assert got in SENT | {State.UNKNOWN, State.CLAIMED}, (
                    f"{key} was taken by the provider but the ledger says {got}: it would go again"
                )
            if got is State.UNKNOWN:
                assert key in provider.ambiguous | self.claimed_at_crash, (
                    f"{key} is unknown although its request was neither lost nor in flight at a crash"
                )
            if key in self.receipts:
                assert got in SENT, f"{key} had a receipt but the ledger says {got}"
            if provider.received[key] > before[key]:  # went out in this run
                sent_to = provider.sent_to[key]
                assert sent_to not in self.bounced, f"{key} went to a suppressed address"
                assert not (m.purpose is Purpose.AD and sent_to in self.opted_out), f"ad {key} went to an opt-out"
            if healthy:
                assert got in SETTLED, f"{key} is {got} after a run against a healthy provider"
        # What the provider answered as a bad address is suppressed for what comes next.
        self.bounced |= {m.address for k, m in self.planned.items() if m.address.startswith("bad") and state.get(k)}

    def finish(self) -> None:
        """Heal, settle the unknowns as a person would, run again: the ledger equals the provider."""
        self.run(HEALTHY, crash=False)
        self.settle_unknowns()
        self.run(HEALTHY, crash=False)
        with Ledger(self.path) as ledger:
            state = {r.key: r.state for r in ledger.rows()}
        assert {k for k, s in state.items() if s in SENT} == {k for k, n in self.provider.received.items() if n}
        assert set(state.values()) <= SENT | {State.FAILED}, Counter(state.values())
        assert set(state) == set(self.planned)


KINDS = {
    "one-message": (1, 4, False),
    "one-message, deduplicating": (1, 4, True),
    "batch": (4, 2, False),
    "batch, deduplicating": (4, 2, True),
}
FAULTY = [
    Profile(refuse=0.3),
    Profile(throttle=0.3),
    Profile(lost_after=0.2, lost_before=0.1),
    Profile(refuse=0.1, throttle=0.1, lost_after=0.1, lost_before=0.05),
]


def example(seed: int, tmp_path: Path) -> World:
    rng = random.Random(seed)
    kind = rng.choice(sorted(KINDS))
    batch_size, concurrency, dedupes = KINDS[kind]
    provider = Provider(seed, dedupes)
    world = World(seed, tmp_path / "ledger.sqlite", provider, ModelAdapter(provider, batch_size, concurrency), rng)
    world.steps.append(f"adapter: {kind}")
    try:
        for _ in range(rng.randint(3, 9)):
            step = rng.random()
            if step < 0.3:
                world.plan()
            elif step < 0.7:
                faulty = rng.random() < 0.5
                world.run(rng.choice(FAULTY) if faulty else HEALTHY, crash=rng.random() < 0.35)
            elif step < 0.8:
                world.receipt()
            elif step < 0.9:
                world.suppress()
            else:
                world.settle_unknowns()
        world.finish()
    except BaseException as exc:
        steps = "\n  ".join(world.steps)
        raise AssertionError(
            f"model-based example failed; replay with DANGOL_MODEL_SEED={seed}\n  {steps}\n{exc}"
        ) from exc
    return world


def seeds(default: int) -> list[int]:
    if os.environ.get("DANGOL_MODEL_SEED"):
        return [int(os.environ["DANGOL_MODEL_SEED"])]
    n = int(os.environ.get("DANGOL_MODEL_EXAMPLES", default))
    base = random.SystemRandom().randrange(10**9)
    return [base + i for i in range(n)]


def test_random_sequences_keep_the_ledgers_promises(tmp_path: Path) -> None:
    crashes = 0
    for seed in seeds(30):
        crashes += example(seed, tmp_path / str(seed)).crashes
    print(f"model-based: {crashes} crashes")


@pytest.mark.slow
def test_many_random_sequences(tmp_path: Path) -> None:
    for seed in seeds(300):
        example(seed, tmp_path / str(seed))
