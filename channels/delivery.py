"""Sends planned messages through one adapter, with the ledger guarding against double sends.

A pass, in order:

1. `triage` (pure) sorts the messages by what the ledger knows: to send, left claimed by an
   interrupted run, to an address suppressed since, or settled already;
2. `recover` settles what an interrupted run left claimed: it asks the provider where the adapter can
   (`Adapter.lookup`); else it resends the batch whole under its id where the provider deduplicates and
   its window has not passed; else the messages become `unknown` for a person;
3. the `Scheduler` keeps up to `concurrency` requests in flight on a thread pool. Each round, in one
   ledger transaction, it records the answers that came back and claims the batches leaving now, so
   nothing is claimed before it is about to be sent; the worker threads only call `adapter.send`;
4. `judge` (pure) decides per answered batch what is recorded, what goes again under a new key (after
   max(Retry-After, exponential backoff with jitter), at most `max_attempts` times in this run), what
   goes again under the same key (the provider may already have it, and deduplicates), and whether the
   channel stops: a CONFIG_ERROR stops it (`ChannelConfigError`), as does a run of failures with no
   success in between (`TransientChannelError`), so the orchestrator retries the run later; both carry
   the `DeliveryReport` of what was done before the stop. A 429 pauses the whole provider.

Lost answers (UNKNOWN) are resent under the same key where the provider deduplicates; where it can be
asked they are looked up at the end of the pass; elsewhere they stay `unknown` for a person.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from channels.base import Adapter, Limits
from channels.errors import ChannelConfigError, ChannelError, TransientChannelError
from channels.ledger import SENDABLE_STATES, STATE_OF_OUTCOME, Claim, Ledger, State, SuppressionKind, address_hash
from channels.masking import mask_address, mask_text
from channels.models import Message, Outcome, Purpose, SendResult
from channels.report import DeliveryReport
from channels.transport import RateLimiter, limiter_for

log = logging.getLogger(__name__)

# Answers that show the provider working: it took or refused the recipient itself.
_SETTLED_BY_PROVIDER = frozenset({Outcome.ACCEPTED, Outcome.PERMANENT, Outcome.OPTED_OUT})


@dataclass(frozen=True)
class Batch:
    """One request's messages (in key order) and its idempotency key."""

    messages: tuple[Message, ...]
    batch_id: str
    attempt: int = 1  # sends of these messages under a new key in this pass
    same_key_resends: int = 0
    # The provider may already have this batch (an answer was lost, or a killed run sent it): from then
    # on every attempt must carry the same key, whatever the provider answers in between.
    ambiguous: bool = False

    @property
    def keys(self) -> list[str]:
        return [m.key for m in self.messages]


def batches_of(messages: Iterable[Message], size: int, attempt: int = 1) -> list[Batch]:
    """Fresh batches of at most `size`, in key order: each batch's ledger rows then land in one stretch
    of the key index, which keeps an aged ledger's writes local."""
    ordered = sorted(messages, key=lambda m: m.key)
    return [Batch(tuple(ordered[i : i + size]), uuid.uuid4().hex, attempt) for i in range(0, len(ordered), size)]


@dataclass(frozen=True)
class Policy:
    """How hard one pass tries before leaving the rest to the next."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    outage_threshold: int = 6

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Exponential, capped, with jitter (half to all of it)."""
        jitter = (rng or random).random()
        return min(self.max_delay, self.base_delay * 2 ** (attempt - 1)) * (0.5 + jitter / 2)


# -- what the ledger knows, before anything is sent ------------------------------------------------


def is_barred(m: Message, suppressions: Mapping[tuple[str, str], SuppressionKind]) -> bool:
    """A suppressed address gets nothing; an opted-out one gets no advertising."""
    if not suppressions:
        return False
    kind = suppressions.get((str(m.channel), address_hash(m.address)))
    return kind is SuppressionKind.PERMANENT or (kind is SuppressionKind.OPTED_OUT and m.purpose is Purpose.AD)


@dataclass
class Triage:
    send: list[Message] = field(default_factory=list)
    claimed: dict[str, list[Message]] = field(default_factory=dict)  # batch id -> messages an earlier run claimed
    barred: list[Message] = field(default_factory=list)
    skipped: int = 0  # settled by an earlier pass, or handed twice


def triage(
    messages: Sequence[Message],
    states: Mapping[str, State],
    claims: Mapping[str, Claim],
    suppressions: Mapping[tuple[str, str], SuppressionKind],
) -> Triage:
    out = Triage()
    seen: set[str] = set()
    for m in messages:
        if m.key in seen:
            out.skipped += 1
            continue
        seen.add(m.key)
        state = states.get(m.key, State.PLANNED)
        if state in SENDABLE_STATES:
            (out.barred if is_barred(m, suppressions) else out.send).append(m)
        elif state is State.CLAIMED and m.key in claims:
            out.claimed.setdefault(claims[m.key].batch_id, []).append(m)
        else:
            out.skipped += 1
    return out


# -- what an answer means ---------------------------------------------------------------------------


@dataclass
class Verdict:
    """What to do after one batch's answers."""

    record: list[SendResult] = field(default_factory=list)  # store now
    again: list[Message] = field(default_factory=list)  # send again under a new key, after `delay`
    same_key: list[Message] = field(default_factory=list)  # send again under this batch's id, after `delay`
    look_up: list[Message] = field(default_factory=list)  # answer lost; ask the provider at the end
    delay: float = 0.0
    pause: float = 0.0  # the provider asked every sender to wait (429)
    config_error: str | None = None
    progress: bool = False  # the provider settled some recipient itself: it works
    outright_failure: bool = False  # every answer a transient failure: a step towards an outage
    outcomes: Counter[str] = field(default_factory=Counter)  # what this pass leaves each message as


def judge(
    batch: Batch,
    results: Sequence[SendResult],
    limits: Limits,
    policy: Policy,
    *,
    stopping: bool,
    can_lookup: bool = False,
    rng: random.Random | None = None,
) -> Verdict:
    v = Verdict()
    if all(r.outcome is Outcome.ACCEPTED for r in results):  # the common case
        v.record = list(results)
        v.outcomes[str(State.ACCEPTED)] = len(results)
        v.progress = True
        return v
    by_key = {m.key: m for m in batch.messages}
    for r in results:
        m = by_key[r.key]
        if r.outcome in _SETTLED_BY_PROVIDER:
            v.progress = True
        if r.throttled and r.retry_after:
            v.pause = max(v.pause, min(r.retry_after, policy.max_delay))
        if r.outcome is Outcome.CONFIG_ERROR:
            v.config_error = v.config_error or mask_text(r.reason) or "configuration error"
        # The provider may have it, and would drop a repeat under this key: never a new key from here on,
        # even after a clean "not processed" (the earlier attempt may have gone through).
        if limits.deduplicates_by_key and (
            r.outcome is Outcome.UNKNOWN or (batch.ambiguous and r.outcome in (Outcome.RETRY, Outcome.CONFIG_ERROR))
        ):
            if stopping or v.config_error or batch.same_key_resends >= policy.max_attempts:
                v.outcomes[str(State.CLAIMED)] += 1  # the next run resends it under this key, or settles it
            else:
                v.same_key.append(m)
                v.delay = max(v.delay, r.retry_after or 0.0)
            continue
        if r.outcome is Outcome.UNKNOWN and can_lookup:
            v.look_up.append(m)
            continue
        if r.outcome is Outcome.RETRY:
            delay = max(r.retry_after or 0.0, policy.backoff(batch.attempt, rng))
            if batch.attempt < policy.max_attempts and delay <= policy.max_delay and not stopping:
                v.again.append(m)
                v.delay = max(v.delay, delay)
            else:
                v.outcomes[str(State.RETRY)] += 1
        else:
            v.outcomes[str(STATE_OF_OUTCOME[r.outcome])] += 1
        v.record.append(r)  # a message going again is `retry` until it is claimed again
    v.outright_failure = all(r.outcome in (Outcome.RETRY, Outcome.UNKNOWN) and not r.throttled for r in results)
    return v


def send_batch(adapter: Adapter, limiter: RateLimiter, batch: Batch) -> tuple[list[SendResult], BaseException | None]:
    """One request (on a worker thread); an exception is turned into results and handed back."""
    limiter.acquire(1)
    messages = list(batch.messages)
    try:
        results = adapter.send(messages, idempotency_key=batch.batch_id)
    except ChannelConfigError as exc:
        return [SendResult(m.key, Outcome.CONFIG_ERROR, reason=str(exc)) for m in messages], None
    except Exception as exc:  # a bug or an unexpected library error: the request's fate is unknown
        return [SendResult(m.key, Outcome.UNKNOWN, reason=f"send raised {type(exc).__name__}") for m in messages], exc
    if [r.key for r in results] != batch.keys:
        failure = ChannelError(f"{adapter.name} answered {len(results)} results for {len(messages)} messages")
        return [SendResult(m.key, Outcome.UNKNOWN, reason="adapter answered wrongly") for m in messages], failure
    return results, None


# -- after a crash ----------------------------------------------------------------------------------


def recover(
    claimed: Mapping[str, Sequence[Message]],
    claims: Mapping[str, Claim],
    adapter: Adapter,
    ledger: Ledger,
    suppressions: Mapping[tuple[str, str], SuppressionKind],
    report: DeliveryReport,
    *,
    resend: bool = True,
) -> tuple[list[Batch], list[Message]]:
    """Settle messages left claimed (by a killed run, or by a lost answer in this one).

    Returns the batches to resend under their own id (the provider deduplicates, within its window)
    and the messages the provider certainly never got (sent again under a new key)."""
    same_key: list[Batch] = []
    fresh: list[Message] = []
    now = datetime.now(UTC)
    window = adapter.limits.dedupe_window_seconds
    for batch_id, group in claimed.items():
        pending = sorted(group, key=lambda m: m.key)
        claimed_at = min(claims[m.key].claimed_at for m in pending)
        if adapter.can_lookup:
            pending = _look_up(adapter, ledger, batch_id, pending, claimed_at, suppressions, report, fresh)
        if not pending:
            continue
        barred = [m for m in pending if is_barred(m, suppressions)]
        pending = [m for m in pending if not is_barred(m, suppressions)]
        # Suppressed since it was claimed: a resend could be its first send, to an address that must not
        # get it. Whether the first attempt went is for a person.
        _settle_unknown(ledger, barred, "claimed before a crash; address suppressed since", report)
        in_window = window is None or (now - claimed_at).total_seconds() < window * 0.9
        if pending and resend and adapter.limits.deduplicates_by_key and in_window:
            # Whole, under its id, even if today's batch size is smaller: the provider deduplicates by it.
            report.resent_after_crash += len(pending)
            same_key.append(Batch(tuple(pending), batch_id, ambiguous=True))
        elif pending:
            _settle_unknown(ledger, pending, "no answer; the provider cannot deduplicate or be asked", report)
    return same_key, fresh


def _look_up(
    adapter: Adapter,
    ledger: Ledger,
    batch_id: str,
    group: list[Message],
    claimed_at: datetime,
    suppressions: Mapping[tuple[str, str], SuppressionKind],
    report: DeliveryReport,
    fresh: list[Message],
) -> list[Message]:
    """Ask the provider about one claimed batch; settle what it knows. Returns what it cannot tell."""
    try:
        results = adapter.lookup(group, idempotency_key=batch_id, sent_at=claimed_at)
        if [r.key for r in results] != [m.key for m in group]:
            raise ChannelError(f"{adapter.name} looked up {len(results)} results for {len(group)} messages")
    except Exception as exc:  # asking failed: as if it could not tell
        log.warning("%s: lookup of batch %s failed: %s", adapter.name, batch_id, type(exc).__name__)
        return group
    by_key = {m.key: m for m in group}
    known = [r for r in results if r.outcome in _SETTLED_BY_PROVIDER]
    never = [by_key[r.key] for r in results if r.outcome is Outcome.RETRY]
    refused = [
        SendResult(m.key, Outcome.PERMANENT, suppress=False, reason="suppressed address")
        for m in never
        if is_barred(m, suppressions)
    ]
    again = [m for m in never if not is_barred(m, suppressions)]
    settled = known + refused + [SendResult(m.key, Outcome.RETRY, reason="never reached the provider") for m in again]
    if settled:
        ledger.settle(settled, f"{adapter.name} was asked")
        report.settled_by_lookup += len(known) + len(refused)
        report.outcomes.update(str(STATE_OF_OUTCOME[r.outcome]) for r in known + refused)
        fresh.extend(again)
    return [by_key[r.key] for r in results if r.outcome not in _SETTLED_BY_PROVIDER | {Outcome.RETRY}]


def _settle_unknown(ledger: Ledger, messages: Sequence[Message], why: str, report: DeliveryReport) -> None:
    if messages:
        ledger.settle([SendResult(m.key, Outcome.UNKNOWN, reason=why) for m in messages], why)
        report.outcomes[str(State.UNKNOWN)] += len(messages)
        log.warning("%d messages are unknown: %s", len(messages), why)


# -- the scheduler ------------------------------------------------------------------------------------


class Scheduler:
    """Hands batches to worker threads and owns everything else: the ledger, retries, pauses, stops.
    Only this thread touches the ledger and the pass's state; workers only send."""

    def __init__(
        self,
        adapter: Adapter,
        ledger: Ledger,
        policy: Policy,
        report: DeliveryReport,
        workers: int,
        sleep: Callable[[float], None],
    ) -> None:
        self.adapter, self.ledger, self.policy, self.report = adapter, ledger, policy, report
        self.workers = workers
        self.sleep = sleep
        self.limiter = limiter_for(adapter.limiter_key, adapter.limits.rate_per_second)
        self.ready: deque[Batch] = deque()
        self.delayed: list[tuple[float, int, Batch]] = []
        self._seq = itertools.count()
        self.claimed: set[str] = set()
        self.look_up: dict[str, list[Message]] = {}  # batch id -> messages whose answer was lost
        self.stopped: str | None = None
        self.error: BaseException | None = None
        self.config_reason: str | None = None
        self._failures_in_a_row = 0

    def run(self, batches: Iterable[Batch]) -> None:
        self.ready.extend(batches)
        finished: queue.SimpleQueue[tuple[Batch, list[SendResult], BaseException | None]] = queue.SimpleQueue()
        answers: list[SendResult] = []
        inflight = 0

        def work(batch: Batch) -> None:
            try:
                self.ledger.sync()  # its claim is on disk before the provider sees it
            except Exception as exc:  # not sent: the claim may not survive a power cut
                finished.put(
                    (
                        batch,
                        [SendResult(m.key, Outcome.RETRY, reason="ledger not on disk") for m in batch.messages],
                        exc,
                    )
                )
                return
            finished.put((batch, *send_batch(self.adapter, self.limiter, batch)))

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=f"send-{self.adapter.name}") as pool:
            while self.ready or self.delayed or inflight or answers:
                self._due()
                if self.stopped:
                    self._drop_waiting()
                leaving = [self.ready.popleft() for _ in range(min(len(self.ready), self.workers - inflight))]
                try:
                    leaving = self._commit(answers, leaving)
                except Exception as exc:  # the ledger failed: nothing more is claimed, so nothing more is sent
                    self._stop("error", exc)
                    leaving = []
                answers = []
                for batch in leaving:
                    pool.submit(work, batch)
                inflight += len(leaving)
                if not inflight:
                    if self.delayed:
                        self.sleep(max(0.0, self.delayed[0][0] - time.monotonic()))
                    continue
                timeout = max(0.0, self.delayed[0][0] - time.monotonic()) if self.delayed and not self.ready else None
                try:
                    done = [finished.get(timeout=timeout)]
                except queue.Empty:
                    continue
                while not finished.empty():
                    done.append(finished.get_nowait())
                inflight -= len(done)
                for batch, results, failure in done:
                    answers.extend(self._answered(batch, results, failure))

    def _commit(self, answers: list[SendResult], leaving: list[Batch]) -> list[Batch]:
        """Record the answers that came back and claim what leaves now, in one transaction; each worker
        puts it on disk (`Ledger.sync`) before its request, so this thread never waits for the disk."""
        if not answers and not leaving:
            return []
        with self.ledger.atomic(durable=False):
            self.ledger.record(answers)
            refused = set(self.ledger.claim_batches([(b.batch_id, b.messages) for b in leaving], self.adapter.name))
        if refused:  # another run settled or claimed them meanwhile: not sent
            self.report.skipped_already_sent += len(refused)
            leaving = [replace(b, messages=tuple(m for m in b.messages if m.key not in refused)) for b in leaving]
        out = [b for b in leaving if b.messages]
        for batch in out:
            self.claimed.update(batch.keys)
        self.report.requests += len(out)
        return out

    def _answered(self, batch: Batch, results: list[SendResult], failure: BaseException | None) -> list[SendResult]:
        if failure is not None:
            log.error("%s: send raised %s; stopping the channel", self.adapter.name, type(failure).__name__)
            self._stop("error", failure)
        v = judge(
            batch,
            results,
            self.adapter.limits,
            self.policy,
            stopping=self.stopped is not None,
            can_lookup=self.adapter.can_lookup,
        )
        self.report.outcomes.update(v.outcomes)
        if v.pause:
            self.limiter.pause(v.pause)
        if v.config_error:
            self.config_reason = self.config_reason or v.config_error
            self._stop("config_error")
        if v.progress:
            self._failures_in_a_row = 0
        elif v.outright_failure:
            self._failures_in_a_row += 1
            if self._failures_in_a_row >= self.policy.outage_threshold and not self.stopped:
                log.error(
                    "%s: %d failed requests in a row; stopping the channel", self.adapter.name, self._failures_in_a_row
                )
                self._stop("outage")
        if v.again:
            self.report.retries += len(v.again)
            for nb in batches_of(v.again, self.adapter.limits.batch_size, batch.attempt + 1):
                self._later(v.delay, nb)
        if v.same_key:
            self.report.retries += len(v.same_key)
            nb = Batch(tuple(v.same_key), batch.batch_id, batch.attempt, batch.same_key_resends + 1, ambiguous=True)
            self._later(max(v.delay, self.policy.backoff(nb.same_key_resends)), nb)
        if v.look_up:
            self.look_up.setdefault(batch.batch_id, []).extend(v.look_up)
        if log.isEnabledFor(logging.DEBUG):
            addresses = {m.key: (str(m.channel), m.address) for m in batch.messages}
            for r in results:
                if r.outcome is not Outcome.ACCEPTED:
                    log.debug(
                        "%s: %s %s -> %s (%s)",
                        self.adapter.name,
                        r.key,
                        mask_address(*addresses[r.key]),
                        r.outcome,
                        mask_text(r.reason),
                    )
        return v.record

    def _later(self, delay: float, batch: Batch) -> None:
        heapq.heappush(self.delayed, (time.monotonic() + delay, next(self._seq), batch))

    def _due(self) -> None:
        now = time.monotonic()
        while self.delayed and self.delayed[0][0] <= now:
            self.ready.append(heapq.heappop(self.delayed)[2])

    def _drop_waiting(self) -> None:
        """A stopped channel sends nothing more: new-key retries stay `retry` (recorded so when they
        were judged), same-key resends stay claimed for the next run."""
        for batch in [*self.ready, *(b for _, _, b in self.delayed)]:
            state = State.CLAIMED if batch.ambiguous else (State.RETRY if batch.attempt > 1 else None)
            if state is not None:
                self.report.outcomes[str(state)] += len(batch.messages)
        self.ready.clear()
        self.delayed.clear()

    def _stop(self, why: str, error: BaseException | None = None) -> None:
        self.stopped = self.stopped or why
        self.error = self.error or error


# -- the entry point ------------------------------------------------------------------------------------


def deliver(
    messages: Sequence[Message],
    adapter: Adapter,
    ledger: Ledger,
    *,
    max_attempts: int = 4,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    concurrency: int | None = None,
    outage_threshold: int | None = None,
) -> DeliveryReport:
    """Deliver each message at most once (exactly once where the provider deduplicates by key)."""
    for m in messages:
        if m.channel not in adapter.channels:
            raise ValueError(f"adapter {adapter.name} does not send {m.channel} (message {m.key})")
    report = DeliveryReport(planned=len(messages))
    workers = max(1, concurrency or adapter.limits.concurrency)
    policy = Policy(max_attempts, base_delay, max_delay, outage_threshold or max(6, 2 * workers))

    keys = [m.key for m in messages]
    states = ledger.states(keys)
    claims = ledger.claims([k for k, s in states.items() if s is State.CLAIMED])
    suppressions = ledger.suppressions()
    sorted_out = triage(messages, states, claims, suppressions)
    report.skipped_already_sent = sorted_out.skipped
    if sorted_out.barred:
        ledger.plan(sorted_out.barred, adapter.name)
        ledger.mark([m.key for m in sorted_out.barred], State.FAILED, "suppressed address")
        report.outcomes[str(State.FAILED)] += len(sorted_out.barred)
        report.suppressed += len(sorted_out.barred)
    resend, fresh = recover(sorted_out.claimed, claims, adapter, ledger, suppressions, report)
    to_send = sorted_out.send + fresh

    scheduler = Scheduler(adapter, ledger, policy, report, workers, sleep)
    scheduler.run([*resend, *batches_of(to_send, adapter.limits.batch_size)])

    if scheduler.look_up and scheduler.error is None:
        # Answers lost this pass, from a provider that can be asked: ask now (a message it cannot tell
        # about is unknown; one it never got is `retry`, for the next run).
        lost_claims = ledger.claims([m.key for group in scheduler.look_up.values() for m in group])
        groups = {bid: [m for m in ms if m.key in lost_claims] for bid, ms in scheduler.look_up.items()}
        _, never = recover(groups, lost_claims, adapter, ledger, suppressions, report, resend=False)
        report.outcomes[str(State.RETRY)] += len(never)
    # Messages never claimed (the channel stopped first) get their planned row.
    unclaimed = [m for m in to_send if m.key not in scheduler.claimed]
    if unclaimed:
        ledger.plan(unclaimed, adapter.name)
    log.info("%s: %s", adapter.name, dict(report.outcomes))
    report.stopped = scheduler.stopped
    if scheduler.stopped == "config_error":
        raise ChannelConfigError(f"{adapter.name}: {scheduler.config_reason}; channel stopped", report)
    if scheduler.stopped == "outage":
        raise TransientChannelError(f"{adapter.name}: provider failing; {report.requests} requests made", report)
    if scheduler.error is not None:
        error = scheduler.error
        raise ChannelError(f"{adapter.name}: {type(error).__name__} ({mask_text(str(error))[:200]})", report) from error
    return report
