"""Asking the provider what became of a batch whose answer never came (`Adapter.lookup`), against fakes
that list what they registered as NHN's send lists do."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from channels.fakes import FakeSet, Faults, Reply
from channels.fakes.workload import messages
from channels.models import Outcome, Template

ASKABLE = ["nhn_sms", "nhn_alimtalk"]
LIST_DOWN = Reply(503, {"header": {"isSuccessful": False, "resultCode": -9999, "resultMessage": "down"}})


def sent(fakes: FakeSet, adapter: str, n: int, batch: str, *, lost: bool) -> list:  # type: ignore[type-arg]
    """`n` messages sent under `batch`; with `lost`, the provider takes them and the answer is lost."""
    batch_messages = messages(adapter, n, fakes.describe(), campaign_id=f"lookup-{batch}")
    fakes.all()[adapter].faults = Faults(drop=1.0) if lost else Faults()
    with fakes.adapters()[adapter] as a:
        results = a.send(batch_messages, idempotency_key=batch)
    fakes.all()[adapter].faults = Faults()
    assert {r.outcome for r in results} == {Outcome.UNKNOWN if lost else Outcome.ACCEPTED}
    return batch_messages


@pytest.mark.parametrize("adapter", ASKABLE)
def test_a_lost_answer_is_settled_by_asking(fakes: FakeSet, adapter: str) -> None:
    batch = uuid.uuid4().hex
    claimed_at = datetime.now(UTC) - timedelta(seconds=10)
    taken = sent(fakes, adapter, 3, batch, lost=True)
    never = messages(adapter, 2, fakes.describe(), campaign_id=f"lookup-{batch}", start=3)  # claimed, not sent
    other = uuid.uuid4().hex
    sent(fakes, adapter, 2, other, lost=False)  # another batch in the same minutes: not this one's
    with fakes.adapters()[adapter] as a:
        results = a.lookup(taken + never, idempotency_key=batch, sent_at=claimed_at)
    assert [r.key for r in results] == [m.key for m in taken + never]
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3 + [Outcome.RETRY] * 2, results
    request_ids = {item["key"]: item["request_id"] for item in fakes.all()[adapter].received}
    assert [r.provider_id for r in results[:3]] == [request_ids[m.key] for m in taken]


@pytest.mark.parametrize("adapter", ASKABLE)
def test_a_batch_that_never_left_may_be_sent_again(fakes: FakeSet, adapter: str) -> None:
    batch = messages(adapter, 4, fakes.describe(), campaign_id="lookup-never")
    with fakes.adapters()[adapter] as a:
        results = a.lookup(batch, idempotency_key=uuid.uuid4().hex, sent_at=datetime.now(UTC) - timedelta(minutes=5))
    assert [r.outcome for r in results] == [Outcome.RETRY] * 4


@pytest.mark.parametrize("adapter", ASKABLE)
def test_a_list_that_cannot_be_read_leaves_it_unknown(
    fakes: FakeSet, adapter: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = uuid.uuid4().hex
    taken = sent(fakes, adapter, 2, batch, lost=True)
    monkeypatch.setattr(fakes.all()[adapter], "list_messages", lambda *args: LIST_DOWN)
    with fakes.adapters()[adapter] as a:
        results = a.lookup(taken, idempotency_key=batch, sent_at=datetime.now(UTC) - timedelta(seconds=30))
    assert [r.outcome for r in results] == [Outcome.UNKNOWN] * 2


@pytest.mark.parametrize("adapter", ASKABLE)
def test_beyond_the_lists_reach_it_stays_unknown(fakes: FakeSet, adapter: str) -> None:
    batch = messages(adapter, 2, fakes.describe(), campaign_id="lookup-old")
    with fakes.adapters()[adapter] as a:
        results = a.lookup(batch, idempotency_key=uuid.uuid4().hex, sent_at=datetime.now(UTC) - timedelta(days=95))
    assert [r.outcome for r in results] == [Outcome.UNKNOWN] * 2


@pytest.mark.parametrize("adapter", ASKABLE)
def test_a_request_just_sent_is_asked_once_it_would_be_listed(fakes: FakeSet, adapter: str) -> None:
    """NHN lists a request once it has registered it: asked at once, the adapter waits that long."""
    batch = uuid.uuid4().hex
    claimed_at = datetime.now(UTC)
    taken = sent(fakes, adapter, 1, batch, lost=True)
    with fakes.adapters()[adapter] as a:
        [result] = a.lookup(taken, idempotency_key=batch, sent_at=claimed_at)
    assert result.outcome is Outcome.ACCEPTED
    assert (datetime.now(UTC) - claimed_at).total_seconds() >= 5


def test_lms_and_personalised_sms_are_found_too(fakes: FakeSet) -> None:
    """The LMS list is asked as well as the SMS list."""
    batch = uuid.uuid4().hex
    base = messages("nhn_sms", 2, fakes.describe(), campaign_id="lookup-lms")
    assert base[0].template is not None
    long = Template(
        base[0].template.body.replace("도착!", "도착!\n" + "봄 신상품을 둘러보세요. " * 6), "{{name}}님 쿠폰"
    )
    lms = [
        dataclasses.replace(m, template=long, body=long.fill(m.params)[0], subject=long.fill(m.params)[1]) for m in base
    ]
    fakes.nhn_sms.faults = Faults(drop=1.0)
    with fakes.adapters()["nhn_sms"] as a:
        a.send(lms, idempotency_key=batch)
        fakes.nhn_sms.faults = Faults()
        results = a.lookup(lms, idempotency_key=batch, sent_at=datetime.now(UTC) - timedelta(seconds=10))
    assert {r["endpoint"] for r in fakes.nhn_sms.received} == {"ad-mms"}
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 2
