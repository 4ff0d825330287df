"""The delivery loop against the fakes: once and only once, retries, stops, crash recovery."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from collections import Counter

import pytest

from channels.base import Adapter
from channels.delivery import deliver
from channels.errors import ChannelConfigError, ChannelError, TransientChannelError
from channels.fakes import FakeSet, Faults, adapters_from_description
from channels.fakes.workload import messages
from channels.ledger import Ledger, State, SuppressionKind
from channels.models import Outcome, Purpose, SendResult
from channels.transport import RateLimiter, limiter_for


def cannot_be_asked(adapter: Adapter) -> Adapter:
    """This adapter's provider answers every lookup with "cannot tell" (its list API is down)."""
    adapter.lookup = lambda messages, **_: [  # type: ignore[method-assign]
        SendResult(m.key, Outcome.UNKNOWN, reason="list API down") for m in messages
    ]
    return adapter


def dup_count(keys: list[str]) -> int:
    return sum(n - 1 for n in Counter(keys).values() if n > 1)


def test_second_run_sends_nothing(fakes: FakeSet, ledger: Ledger) -> None:
    desc = fakes.describe()
    batch = messages("nhn_sms", 2500, desc, bad_every=50)
    with adapters_from_description(desc)["nhn_sms"] as adapter:
        first = deliver(batch, adapter, ledger)
        second = deliver(batch, adapter, ledger)
    assert first.accepted == 2450 and first.failed == 50
    assert second.skipped_already_sent == 2500 and second.requests == 0
    assert sorted(fakes.nhn_sms.received_keys()) == sorted(r.key for r in ledger.rows(state=State.ACCEPTED))


def test_retry_after_and_backoff_until_accepted(fakes: FakeSet, ledger: Ledger) -> None:
    desc = fakes.describe()
    fakes.fcm.faults = Faults(throttle=0.2, retry_after="0.02", error=0.2)
    batch = messages("fcm", 200, desc)
    with adapters_from_description(desc)["fcm"] as adapter:
        report = deliver(
            batch, adapter, ledger, base_delay=0.005, max_delay=0.1, max_attempts=40, outage_threshold=1000
        )
    assert report.accepted == 200 and report.retries > 0
    assert dup_count(fakes.fcm.received_keys()) == 0 and len(fakes.fcm.received) == 200


def test_retries_are_bounded_and_left_for_the_next_run(fakes: FakeSet, ledger: Ledger) -> None:
    desc = fakes.describe()
    fakes.webhook.faults = Faults(error=1.0)
    batch = messages("webhook", 20, desc)
    with adapters_from_description(desc)["webhook"] as adapter:
        report = deliver(batch, adapter, ledger, base_delay=0.001, max_attempts=3, outage_threshold=10_000)
        assert report.pending_retry == 20 and fakes.webhook.requests == 60
        assert ledger.counts() == {"retry": 20}
        fakes.webhook.faults = Faults()
        assert deliver(batch, adapter, ledger).accepted == 20


def test_outage_raises_transient_error_and_loses_nothing(fakes: FakeSet, ledger: Ledger) -> None:
    desc = fakes.describe()
    fakes.fcm.faults = Faults(error=1.0)
    batch = messages("fcm", 500, desc)
    with adapters_from_description(desc)["fcm"] as adapter:
        with pytest.raises(TransientChannelError) as stopped:
            deliver(batch, adapter, ledger, base_delay=0.001)
        assert stopped.value.report is not None and stopped.value.report.stopped == "outage"
        assert fakes.fcm.requests < 200  # stopped early, not 500 x 4 attempts
        assert set(ledger.counts()) <= {"planned", "retry"}
        fakes.fcm.faults = Faults()
        assert deliver(batch, adapter, ledger).accepted == 500


def test_config_error_stops_the_channel(fakes: FakeSet, ledger: Ledger) -> None:
    desc = fakes.describe()
    desc["sendgrid"]["api_key"] = "SG.revoked"
    batch = messages("sendgrid", 8000, desc)
    adapter = adapters_from_description(desc)["sendgrid"]
    with adapter, pytest.raises(ChannelConfigError, match="HTTP 401"):
        deliver(batch, adapter, ledger)
    assert fakes.sendgrid.requests <= adapter.limits.concurrency  # the first wave, then stop
    assert set(ledger.counts()) <= {"planned", "retry"}


def test_suppressed_addresses_are_not_messaged_again(fakes: FakeSet, ledger: Ledger) -> None:
    desc = fakes.describe()
    ads = messages("nhn_sms", 10, desc, bad_every=5, campaign_id="c1")  # 0 and 5 are 080 opt-outs
    with adapters_from_description(desc)["nhn_sms"] as adapter:
        assert deliver(ads, adapter, ledger).failed == 2
        again = messages("nhn_sms", 10, desc, bad_every=5, campaign_id="c2")
        report = deliver(again, adapter, ledger)
        assert report.suppressed == 2 and report.accepted == 8
        # An opt-out stops advertising only: an informational message still goes.
        info = [
            dataclasses.replace(m, key=m.key + ":info", purpose=Purpose.INFO, body="주문이 발송되었습니다")
            for m in again[:1]
        ]
        assert deliver(info, adapter, ledger).accepted == 1


def test_crash_after_call_non_dedupe_provider_becomes_unknown(fakes: FakeSet, ledger: Ledger) -> None:
    desc = fakes.describe()
    batch = messages("sendgrid", 5, desc)
    with adapters_from_description(desc)["sendgrid"] as adapter:
        ledger.plan(batch, adapter.name)
        ledger.claim(batch, "b-crashed", adapter.name)
        adapter.send(batch, idempotency_key="b-crashed")  # ...and the process died before recording
        report = deliver(batch, adapter, ledger)
    assert report.unknown == 5 and report.requests == 0
    assert len(fakes.sendgrid.received) == 5  # sent once, never again
    assert [r.key for r in ledger.unknowns()] == sorted(m.key for m in batch)


@pytest.mark.parametrize("asked", [True, False])
def test_crash_after_call_dedupe_provider_resends_same_key(fakes: FakeSet, ledger: Ledger, asked: bool) -> None:
    """Sent, answer never recorded: NHN is asked, or (when it cannot tell) the batch goes again under its
    key and NHN drops the repeat."""
    desc = fakes.describe()
    batch = messages("nhn_alimtalk", 30, desc)
    adapter = adapters_from_description(desc)["nhn_alimtalk"]
    with adapter if asked else cannot_be_asked(adapter):
        ledger.plan(batch, adapter.name)
        ordered = sorted(batch, key=lambda m: m.key)
        ledger.claim(ordered, "b-crashed", adapter.name)
        adapter.send(ordered, idempotency_key="b-crashed")  # accepted, answer never recorded
        report = deliver(batch, adapter, ledger)
    assert report.accepted == 30
    if asked:
        assert report.settled_by_lookup == 30 and report.requests == 0
    else:
        assert report.resent_after_crash == 30 and fakes.nhn_alimtalk.replays == 1  # -1005: already accepted
    assert len(fakes.nhn_alimtalk.received) == 30 and dup_count(fakes.nhn_alimtalk.received_keys()) == 0


@pytest.mark.parametrize("asked", [True, False])
def test_a_crashed_batch_is_resent_whole_under_its_id_even_if_batches_got_smaller(
    fakes: FakeSet, ledger: Ledger, asked: bool
) -> None:
    """Killed before the call. Asked, NHN says it never got the batch: it goes as new batches. Where NHN
    cannot tell, the batch goes again as one request under its id (the provider deduplicates by it)."""
    desc = fakes.describe()
    batch = sorted(messages("nhn_alimtalk", 30, desc), key=lambda m: m.key)
    adapter = adapters_from_description(desc)["nhn_alimtalk"]
    with adapter if asked else cannot_be_asked(adapter):
        ledger.claim(batch, "b-crashed", adapter.name)  # killed before the call
        adapter.limits = dataclasses.replace(adapter.limits, batch_size=10)  # lowered before the rerun
        report = deliver(batch, adapter, ledger)
    if asked:
        assert report.resent_after_crash == 0 and report.requests == 3 and report.accepted == 30
    else:
        assert report.resent_after_crash == 30 and report.requests == 1 and report.accepted == 30
    assert len(fakes.nhn_alimtalk.received) == 30 and dup_count(fakes.nhn_alimtalk.received_keys()) == 0
    assert ledger.counts() == {"accepted": 30}


def test_stale_claim_outside_dedupe_window_is_unknown(fakes: FakeSet, ledger: Ledger) -> None:
    desc = fakes.describe()
    batch = messages("nhn_alimtalk", 3, desc)
    with adapters_from_description(desc)["nhn_alimtalk"] as adapter:
        ledger.plan(batch, adapter.name)
        ledger.claim(batch, "b-old", adapter.name)
        with sqlite3.connect(ledger.path) as db:
            db.execute("update messages set claimed_at = '2020-01-01T00:00:00+00:00'")
        report = deliver(batch, adapter, ledger)
    assert report.unknown == 3 and fakes.nhn_alimtalk.requests == 0


@pytest.mark.parametrize("adapter_name", ["nhn_alimtalk", "webhook"])
def test_lost_answers_resent_with_same_key_where_provider_dedupes(
    adapter_name: str, fakes: FakeSet, ledger: Ledger
) -> None:
    desc = fakes.describe()
    fake = fakes.all()[adapter_name]
    fake.faults = Faults(drop=1.0)  # every answer lost until the provider has taken a few requests

    def heal() -> None:
        while fake.requests < 3:
            time.sleep(0.001)
        fake.faults = Faults(drop=0.2)

    healer = threading.Thread(target=heal)
    healer.start()
    batch = messages(adapter_name, 1500 if adapter_name == "nhn_alimtalk" else 150, desc)
    with adapters_from_description(desc)[adapter_name] as adapter:
        report = deliver(batch, adapter, ledger, base_delay=0.01, max_attempts=20)
    healer.join()
    assert report.accepted == len(batch) and report.unknown == 0
    assert fake.replays > 0 and dup_count(fake.received_keys()) == 0 and len(fake.received) == len(batch)


def test_lost_answers_are_unknown_where_provider_does_not_dedupe(fakes: FakeSet, ledger: Ledger) -> None:
    desc = fakes.describe()
    fakes.fcm.faults = Faults(drop=1.0)
    batch = messages("fcm", 40, desc)
    with adapters_from_description(desc)["fcm"] as adapter:
        report = deliver(batch, adapter, ledger, outage_threshold=1000)
        assert report.unknown == 40 and fakes.fcm.requests == 40
        fakes.fcm.faults = Faults()
        assert deliver(batch, adapter, ledger).requests == 0  # never re-sent automatically
    assert len(fakes.fcm.received) == 40


def test_rate_limit_is_shared_across_threads() -> None:
    limiter = RateLimiter(rate=400, burst=1)
    started = time.monotonic()
    threads = [threading.Thread(target=lambda: [limiter.acquire() for _ in range(50)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - started >= 399 / 400 * 0.95
    assert limiter_for("p:x", 10) is limiter_for("p:x", 10)


def test_a_429_pauses_the_whole_provider() -> None:
    limiter = RateLimiter(rate=None)
    limiter.pause(0.2)
    started = time.monotonic()
    limiter.acquire()
    assert time.monotonic() - started >= 0.18


def test_adapter_must_support_the_channel(fakes: FakeSet, ledger: Ledger) -> None:
    desc = fakes.describe()
    with pytest.raises(ValueError, match="does not send"):
        deliver(messages("nhn_sms", 1, desc), adapters_from_description(desc)["fcm"], ledger)


def test_once_ambiguous_a_batch_keeps_its_key_through_later_refusals(fakes: FakeSet, ledger: Ledger) -> None:
    """Lost answer, then 503s: the retries must carry the first key, or the provider sends twice."""
    desc = fakes.describe()
    fake = fakes.nhn_alimtalk
    fake.faults = Faults(drop=1.0)

    def then_refuse() -> None:
        while fake.requests < 1:
            time.sleep(0.001)
        fake.faults = Faults(error=1.0)
        while fake.requests < 4:
            time.sleep(0.001)
        fake.faults = Faults()

    switcher = threading.Thread(target=then_refuse)
    switcher.start()
    batch = messages("nhn_alimtalk", 50, desc)
    with adapters_from_description(desc)["nhn_alimtalk"] as adapter:
        report = deliver(batch, adapter, ledger, base_delay=0.01, max_attempts=10, outage_threshold=1000)
    switcher.join()
    assert report.accepted == 50 and fake.replays == 1
    assert len(fake.received) == 50 and dup_count(fake.received_keys()) == 0


def test_ambiguous_batch_left_claimed_when_the_channel_stops(fakes: FakeSet, ledger: Ledger) -> None:
    desc = fakes.describe()
    fake = fakes.nhn_alimtalk
    fake.faults = Faults(drop=1.0)
    batch = messages("nhn_alimtalk", 20, desc)
    with adapters_from_description(desc)["nhn_alimtalk"] as adapter:
        report = deliver(batch, adapter, ledger, base_delay=0.001, max_attempts=2, outage_threshold=1000)
        assert report.outcomes["claimed"] == 20 and ledger.counts() == {"claimed": 20}
        fake.faults = Faults()
        again = deliver(batch, cannot_be_asked(adapter), ledger)
    assert again.resent_after_crash == 20 and again.accepted == 20 and fake.replays >= 1
    assert len(fake.received) == 20


class _LedgerFailingOnRecord(Ledger):
    """A ledger whose disk fails when it records the `fail_at`-th batch (and after)."""

    fail_at = 2

    def record(self, results, *args, **kwargs) -> None:
        if results:
            self.fail_at -= 1
            if self.fail_at <= 0:
                raise sqlite3.OperationalError("disk I/O error")
        super().record(results, *args, **kwargs)


def test_a_batch_api_sender_goes_on_only_through_the_ledger(fakes: FakeSet, tmp_path) -> None:
    """Each round records the answers that came back and claims the next batch in one commit. When
    that commit fails, the next batch was never claimed: it is not sent, and the next run sends it."""
    desc = fakes.describe()
    batch = messages("nhn_sms", 50, desc)
    with adapters_from_description(desc)["nhn_sms"] as adapter:
        adapter.limits = dataclasses.replace(adapter.limits, batch_size=10)  # five batches
        with (
            _LedgerFailingOnRecord(tmp_path / "ledger.sqlite") as failing,
            pytest.raises(ChannelError, match="OperationalError"),
        ):
            deliver(batch, adapter, failing, concurrency=1)
        assert len(fakes.nhn_sms.received) == 20  # the first batch, and the one whose record failed
        with Ledger(tmp_path / "ledger.sqlite") as ledger:
            assert ledger.counts() == {"accepted": 10, "claimed": 10, "planned": 30}
            again = deliver(batch, adapter, ledger)
            # NHN SMS cannot deduplicate, but it can be asked: the batch whose answer was lost is listed.
            assert again.settled_by_lookup == 10 and again.unknown == 0 and again.accepted == 40
            assert ledger.counts() == {"accepted": 50}
    assert len(fakes.nhn_sms.received) == 50 and dup_count(fakes.nhn_sms.received_keys()) == 0


def test_a_claimed_message_whose_address_opted_out_since_is_not_resent(fakes: FakeSet, ledger: Ledger) -> None:
    """Killed after the claim, before the call; the customer opts out before the rerun. Resending under
    the same key could be the message's first send, to an address that refused ads: it is left to a
    person instead (the model-based test found this)."""
    desc = fakes.describe()
    ads = messages("webhook", 3, desc)  # advertising, to a receiver that deduplicates by key
    with adapters_from_description(desc)["webhook"] as adapter:
        for i, m in enumerate(ads):
            ledger.claim([m], f"b-crashed-{i}", adapter.name)
        ledger.suppress("webhook", ads[1].address, "unsubscribed", SuppressionKind.OPTED_OUT)
        report = deliver(ads, adapter, ledger)
    assert sorted(fakes.webhook.received_keys()) == [ads[0].key, ads[2].key]
    assert report.unknown == 1 and ledger.states([ads[1].key]) == {ads[1].key: State.UNKNOWN}
