"""The ledger's state machine, suppression list and the person-facing unknowns API."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from channels.__main__ import main as cli
from channels.ledger import Ledger, State, SuppressionKind, address_hash
from channels.models import Channel, Message, Outcome, Purpose, SendResult


def sms(i: int, purpose: Purpose = Purpose.AD) -> Message:
    return Message(f"k{i}", "c1", f"cust{i}", Channel.SMS, purpose, f"0101234{i:04d}", "(광고) body")


def test_plan_is_idempotent_and_keeps_states(ledger: Ledger) -> None:
    messages = [sms(i) for i in range(3)]
    assert ledger.plan(messages, "nhn_sms") == 3
    ledger.claim(messages[:1], "b1", "nhn_sms")
    ledger.record([SendResult("k0", Outcome.ACCEPTED, provider_id="req-1")])
    assert ledger.plan(messages, "nhn_sms") == 0
    assert ledger.states(["k0", "k1"]) == {"k0": State.ACCEPTED, "k1": State.PLANNED}
    row = ledger.rows(state=State.ACCEPTED)[0]
    assert (row.key, row.attempts, row.provider_id) == ("k0", 1, "req-1")


def test_claim_remembers_batch_and_time(ledger: Ledger) -> None:
    ledger.plan([sms(1), sms(2)], "nhn_alimtalk")
    with ledger.atomic():
        ledger.claim([sms(1)], "b1", "nhn_alimtalk")
        ledger.claim([sms(2)], "b2", "nhn_alimtalk")
    claims = ledger.claims(["k1", "k2"])
    assert {k: c.batch_id for k, c in claims.items()} == {"k1": "b1", "k2": "b2"}
    assert all(c.claimed_at is not None for c in claims.values())


def test_results_map_to_states_and_suppressions(ledger: Ledger) -> None:
    messages = [sms(i) for i in range(6)]
    ledger.plan(messages, "nhn_sms")
    ledger.claim(messages, "b1", "nhn_sms")
    ledger.record(
        [
            SendResult("k0", Outcome.ACCEPTED, provider_id="r"),
            SendResult("k1", Outcome.PERMANENT, reason="NHN -2019: invalid 01012340001"),
            SendResult("k2", Outcome.PERMANENT, suppress=False, reason="ad form"),
            SendResult("k3", Outcome.OPTED_OUT, reason="080"),
            SendResult("k4", Outcome.RETRY, reason="HTTP 503"),
            SendResult("k5", Outcome.UNKNOWN, reason="no answer"),
        ]
    )
    states = ledger.states([m.key for m in messages])
    assert [states[f"k{i}"] for i in range(6)] == [
        State.ACCEPTED,
        State.FAILED,
        State.FAILED,
        State.FAILED,
        State.RETRY,
        State.UNKNOWN,
    ]
    assert ledger.suppressions() == {
        ("sms", address_hash(messages[1].address)): SuppressionKind.PERMANENT,
        ("sms", address_hash(messages[3].address)): SuppressionKind.OPTED_OUT,
    }
    reasons = {r.key: r.reason for r in ledger.rows()}
    assert "01012340001" not in str(reasons)  # reasons are masked before they are stored


def test_receipts_only_move_forward(ledger: Ledger) -> None:
    ledger.plan([sms(1)], "nhn_sms")
    ledger.claim([sms(1)], "b1", "nhn_sms")
    ledger.record([SendResult("k1", Outcome.ACCEPTED)])
    assert ledger.advance("k1", State.OPENED)
    assert not ledger.advance("k1", State.DELIVERED)  # a late "delivered" never moves it back
    assert ledger.advance("k1", State.CLICKED)
    assert ledger.advance("k1", State.FAILED, "bounce")  # a bounce overrides
    assert not ledger.advance("nope", State.DELIVERED)
    assert [s for s, _, _ in ledger.history("k1")] == ["opened", "clicked", "failed"]


def test_unknowns_are_listed_and_resolved_by_a_person(ledger: Ledger, tmp_path: Path, capsys) -> None:
    ledger.plan([sms(i) for i in range(3)], "nhn_sms")
    ledger.mark(["k0", "k1"], State.UNKNOWN, "claimed before a crash")
    assert [r.key for r in ledger.unknowns()] == ["k0", "k1"]
    assert ledger.resolve(["k0"], sent=True, note="seen in the NHN console") == 1
    assert ledger.resolve(["k2"], sent=True) == 0  # not unknown: untouched
    assert cli(["resolve", "--ledger", str(ledger.path), "--requeue", "k1"]) == 0
    assert ledger.states(["k0", "k1", "k2"]) == {"k0": State.ACCEPTED, "k1": State.PLANNED, "k2": State.PLANNED}
    assert cli(["unknowns", "--ledger", str(ledger.path)]) == 0
    assert cli(["status", "--ledger", str(ledger.path)]) == 0
    out = capsys.readouterr().out
    assert "1 of 1 unknown messages marked re-queued" in out and '"accepted": 1' in out


def test_addresses_never_stored(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        m = sms(7)
        ledger.plan([m], "nhn_sms")
        ledger.record([SendResult(m.key, Outcome.PERMANENT, reason="bad")])
    dump = "\n".join(sqlite3.connect(path).iterdump())
    assert m.address not in dump and address_hash(m.address) in dump


def test_concurrent_writers_from_threads(ledger: Ledger) -> None:
    messages = [sms(i) for i in range(400)]
    ledger.plan(messages, "nhn_sms")

    def work(part: int) -> None:
        for m in messages[part::4]:
            ledger.claim([m], f"b-{m.key}", "nhn_sms")
            ledger.record([SendResult(m.key, Outcome.ACCEPTED)])

    threads = [threading.Thread(target=work, args=(p,)) for p in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.counts() == {"accepted": 400}


def test_opening_an_old_ledger_adds_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "create table messages (key text primary key, campaign_id text not null, customer_id text not null,"
        " channel text not null, purpose text not null, adapter text not null, address_hash text not null,"
        " state text not null, attempts integer not null default 0, provider_id text, reason text,"
        " planned_at text not null, updated_at text not null);"
        "create table suppressions (channel text not null, address_hash text not null, reason text not null,"
        " at text not null, primary key (channel, address_hash));"
        "insert into messages values ('k0', 'c1', 'cust0', 'sms', 'ad', 'x', 'h', 'accepted', 1, 'req-0', null,"
        " '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:01+00:00');"
    )
    db.close()
    with Ledger(path) as ledger:
        ledger.plan([sms(1)], "x")
        ledger.claim([sms(1)], "b", "x")
        assert ledger.claims(["k1"])["k1"].batch_id == "b"
        assert ledger.counts() == {"claimed": 1, "accepted": 1}
        ledger.claim([sms(2)], "b2", "x")
        ledger.record(_accepted([sms(2)]))
        assert [(r.key, r.customer_id, r.state, r.provider_id) for r in ledger.rows(state=State.ACCEPTED)] == [
            ("k0", "cust0", State.ACCEPTED, "req-0"),
            ("k2", "cust2", State.ACCEPTED, "req-9"),
        ]
    with Ledger(path) as ledger:  # opening it again changes nothing
        assert ledger.counts() == {"claimed": 1, "accepted": 2}


def _accepted(messages: list[Message], provider_id: str = "req-9") -> list[SendResult]:
    return [SendResult(m.key, Outcome.ACCEPTED, provider_id=provider_id) for m in messages]


def test_a_message_claimed_before_it_was_planned_reads_like_one_planned_first(tmp_path: Path) -> None:
    """The delivery loop does not plan what it sends at once: a claim writes the message's row. Either
    way the row reads the same, and a receipt moves it forward like any other."""
    batch = [sms(i) for i in range(5)]
    lazy, planned = Ledger(tmp_path / "lazy.sqlite"), Ledger(tmp_path / "planned.sqlite")
    with lazy, planned:
        lazy.plan(batch[:2], "nhn_sms")  # two were planned first; three are written by their claim
        planned.plan(batch, "nhn_sms")
        for ledger in (lazy, planned):
            ledger.claim(batch, "b1", "nhn_sms")
            ledger.record(_accepted(batch))
        assert lazy.rows() == planned.rows()
        assert [r.customer_id for r in lazy.rows()] == [f"cust{i}" for i in range(5)]
        assert lazy.counts("c1") == planned.counts("c1") == {"accepted": 5}
        assert lazy.claims([m.key for m in batch]) == {}
        assert lazy.advance("k3", State.DELIVERED)
        assert lazy.rows(keys=["k3"])[0].state is State.DELIVERED


def test_keys_and_customers_that_json_must_escape_come_back_unchanged(ledger: Ledger) -> None:
    odd = ['q"uote', "back\\slash", "new\nline", "탭\t한글", "plain"]
    batch = [
        Message(f"c1:{text}", "c1", f"cust:{text}", Channel.SMS, Purpose.AD, f"0101234{i:04d}", "(광고) body")
        for i, text in enumerate(odd)
    ]
    ledger.claim(batch, "b1", "nhn_sms")
    assert set(ledger.claims([m.key for m in batch])) == {m.key for m in batch}
    ledger.record(_accepted(batch))
    rows = {r.key: r for r in ledger.rows()}
    assert {k: (r.state, r.customer_id) for k, r in rows.items()} == {
        m.key: (State.ACCEPTED, m.customer_id) for m in batch
    }
    assert ledger.claims([m.key for m in batch]) == {}
    assert ledger.states([m.key for m in batch]) == {m.key: State.ACCEPTED for m in batch}


def test_a_claim_refuses_what_is_settled_or_claimed_under_another_request(ledger: Ledger) -> None:
    """Two runs of the same campaign at once: whichever claims a message first sends it."""
    batch = [sms(i) for i in range(4)]
    ledger.claim(batch[:2], "b1", "nhn_sms")
    ledger.record(_accepted(batch[:1]))
    assert ledger.claim(batch, "b2", "nhn_sms") == ["k0", "k1"]
    assert {k: c.batch_id for k, c in ledger.claims([m.key for m in batch]).items()} == {
        "k1": "b1",
        "k2": "b2",
        "k3": "b2",
    }
    assert ledger.claim(batch[1:2], "b1", "nhn_sms") == []  # the same request again: a same-key resend
    assert ledger.rows(keys=["k1"])[0].attempts == 2


def test_a_batch_with_any_other_answer_is_recorded_per_message(ledger: Ledger) -> None:
    batch = [sms(i) for i in range(4)]
    ledger.claim(batch, "b1", "nhn_sms")
    results = _accepted(batch)
    results[2] = SendResult("k2", Outcome.PERMANENT, reason="invalid number")
    ledger.record(results)
    assert ledger.states([m.key for m in batch]) == {
        "k0": State.ACCEPTED,
        "k1": State.ACCEPTED,
        "k2": State.FAILED,
        "k3": State.ACCEPTED,
    }
    assert ("sms", address_hash(batch[2].address)) in ledger.suppressed()


def test_answering_part_of_a_claim_leaves_the_rest_claimed(ledger: Ledger) -> None:
    """A batch resent after a crash may be answered in parts: the others stay claimed."""
    batch = [sms(i) for i in range(4)]
    ledger.claim(batch, "b1", "nhn_sms")
    ledger.record(_accepted(batch[:2]))
    ledger.record(_accepted(batch[2:3]))
    assert set(ledger.claims([m.key for m in batch])) == {"k3"}


def test_one_transaction_records_answers_and_claims_the_next_requests(ledger: Ledger) -> None:
    """The delivery loop's round: answers of several requests and the claims of those leaving now."""
    messages = [sms(i) for i in range(7)]
    with ledger.atomic():
        for i in (0, 1, 5):
            ledger.claim([messages[i]], f"b{i}", "nhn_sms")
        ledger.claim(messages[2:5], "b2", "nhn_sms")
    with ledger.atomic():
        ledger.record(_accepted([messages[k] for k in (0, 1, 2, 4)]))
        ledger.claim([messages[6]], "b6", "nhn_sms")
    open_claims = ledger.claims([f"k{i}" for i in range(7)])
    assert {k: c.batch_id for k, c in open_claims.items()} == {"k3": "b2", "k5": "b5", "k6": "b6"}
    assert ledger.counts() == {"accepted": 4, "claimed": 3}


def test_a_failed_transaction_leaves_nothing_behind(ledger: Ledger) -> None:
    messages = [sms(i) for i in range(2)]
    ledger.claim(messages[:1], "b0", "nhn_sms")
    with pytest.raises(RuntimeError), ledger.atomic():
        ledger.record(_accepted(messages[:1]))
        ledger.claim(messages[1:], "b1", "nhn_sms")
        raise RuntimeError("disk gone")
    assert ledger.states(["k0", "k1"]) == {"k0": State.CLAIMED}


def test_claims_are_on_disk_before_the_call(tmp_path: Path) -> None:
    """A claim is made durable by fsyncing the WAL file after the commit (see `Ledger.sync`): that must
    be the file SQLite writes, also after another connection to the ledger came and went."""
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        ledger.claim([sms(1)], "b1", "nhn_sms")
        with Ledger(path) as other:
            other.claim([sms(2)], "b2", "nhn_sms")
        ledger.claim([sms(3)], "b3", "nhn_sms")
        assert ledger._wal_fd is not None and ledger._synced == ledger._committed
        assert os.fstat(ledger._wal_fd).st_ino == os.stat(f"{path}-wal").st_ino
        with ledger.atomic(durable=False):
            ledger.claim([sms(4)], "b4", "nhn_sms")
        assert ledger._synced < ledger._committed  # the sender syncs before its call
        ledger.sync()
        assert ledger._synced == ledger._committed
        assert set(ledger.claims(["k1", "k2", "k3", "k4"])) == {"k1", "k2", "k3", "k4"}


def test_opening_a_ledger_of_two_shapes_gives_one_row_per_message(tmp_path: Path) -> None:
    """The ledger before this version: a batch accepted whole was one `batches` row plus narrow message
    rows behind the `message_rows` view, and open claims JSON key lists in `claims`."""
    path = tmp_path / "two-shapes.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "create table messages (key text primary key, campaign_id text, customer_id text, channel text,"
        " purpose text, adapter text, address_hash text, state text not null, attempts integer not null default 0,"
        " provider_id text, reason text, planned_at text, updated_at text, batch integer, pos integer);"
        "create table claims (batch_id text primary key, adapter text not null, claimed_at text not null,"
        " keys text not null);"
        "create table batches (id integer primary key, batch_id text not null, adapter text not null,"
        " campaign_id text not null, channel text not null, purpose text not null, provider_id text,"
        " answered_at text not null, customers text not null);"
        "create table suppressions (channel text not null, address_hash text not null, reason text not null,"
        " at text not null, kind text not null default 'permanent', primary key (channel, address_hash));"
        "create view message_rows as select m.key from messages m;"
        "insert into batches values (1, 'b1', 'nhn_sms', 'c1', 'sms', 'ad', 'req-1', '2026-01-01T00:00:00+00:00',"
        ' \'["cust0","cust1"]\');'
        "insert into messages (key, state, attempts, batch, pos) values ('k0', 'accepted', 1, 1, 0),"
        " ('k1', 'accepted', 1, 1, 1);"
        "insert into messages values ('k2', 'c1', 'cust2', 'sms', 'ad', 'nhn_sms', 'h2', 'failed', 1, null, 'bad',"
        " '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:01+00:00', null, null);"
        "insert into messages values ('k3', 'c1', 'cust3', 'sms', 'ad', 'nhn_sms', 'h3', 'planned', 0, null, null,"
        " '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', null, null);"
        "insert into claims values ('b2', 'nhn_sms', '2026-01-01T00:00:02+00:00', '[\"k3\"]');"
    )
    db.close()
    with Ledger(path) as ledger:
        assert [(r.key, r.customer_id, r.state, r.provider_id) for r in ledger.rows()] == [
            ("k0", "cust0", State.ACCEPTED, "req-1"),
            ("k1", "cust1", State.ACCEPTED, "req-1"),
            ("k2", "cust2", State.FAILED, None),
            ("k3", "cust3", State.CLAIMED, None),
        ]
        assert ledger.claims(["k3"])["k3"].batch_id == "b2"
    tables = {
        n for (n,) in sqlite3.connect(path).execute("select name from sqlite_master where type in ('table', 'view')")
    }
    assert not tables & {"batches", "claims", "message_rows", "messages_before"}


def test_an_opt_out_answer_never_weakens_a_permanent_suppression(ledger: Ledger) -> None:
    """A hard-bounced number later answered with an 080 opt-out stays suppressed for every purpose."""
    m = sms(1)
    ledger.suppress("sms", m.address, "hard bounce", SuppressionKind.PERMANENT)
    ledger.claim([m], "b1", "nhn_sms")
    ledger.record([SendResult(m.key, Outcome.OPTED_OUT, reason="080")])
    assert ledger.suppressions() == {("sms", address_hash(m.address)): SuppressionKind.PERMANENT}
