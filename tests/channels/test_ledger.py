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
    ledger.claim(["k0"], batch_id="b1")
    ledger.record([SendResult("k0", Outcome.ACCEPTED, provider_id="req-1")])
    assert ledger.plan(messages, "nhn_sms") == 0
    assert ledger.states(["k0", "k1"]) == {"k0": State.ACCEPTED, "k1": State.PLANNED}
    row = ledger.rows(state=State.ACCEPTED)[0]
    assert (row.key, row.attempts, row.provider_id) == ("k0", 1, "req-1")


def test_claim_remembers_batch_and_time(ledger: Ledger) -> None:
    ledger.plan([sms(1), sms(2)], "nhn_alimtalk")
    ledger.claim_batches([(["k1"], "b1"), (["k2"], "b2")])
    claims = ledger.claims(["k1", "k2"])
    assert {k: c.batch_id for k, c in claims.items()} == {"k1": "b1", "k2": "b2"}
    assert all(c.claimed_at is not None for c in claims.values())


def test_results_map_to_states_and_suppressions(ledger: Ledger) -> None:
    messages = [sms(i) for i in range(6)]
    ledger.plan(messages, "nhn_sms")
    ledger.claim([m.key for m in messages])
    ledger.record(
        [
            SendResult("k0", Outcome.ACCEPTED, provider_id="r"),
            SendResult("k1", Outcome.PERMANENT, reason="NHN -2019: invalid 01012340001"),
            SendResult("k2", Outcome.PERMANENT, suppress=False, reason="ad form"),
            SendResult("k3", Outcome.OPTED_OUT, reason="080"),
            SendResult("k4", Outcome.RETRY, reason="HTTP 503"),
            SendResult("k5", Outcome.UNKNOWN, reason="no answer"),
        ],
        {m.key: (str(m.channel), m.address) for m in messages},
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
    ledger.claim(["k1"])
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
        ledger.record([SendResult(m.key, Outcome.PERMANENT, reason="bad")], {m.key: ("sms", m.address)})
    dump = "\n".join(sqlite3.connect(path).iterdump())
    assert m.address not in dump and address_hash(m.address) in dump


def test_concurrent_writers_from_threads(ledger: Ledger) -> None:
    messages = [sms(i) for i in range(400)]
    ledger.plan(messages, "nhn_sms")

    def work(part: int) -> None:
        mine = [m.key for m in messages[part::4]]
        for key in mine:
            ledger.claim([key])
            ledger.record([SendResult(key, Outcome.ACCEPTED)])

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
        ledger.claim(["k1"], batch_id="b")
        assert ledger.claims(["k1"])["k1"].batch_id == "b"
        assert ledger.counts() == {"claimed": 1, "accepted": 1}
        ledger.claim(["k2"], batch_id="b2")
        ledger.record_batch("b2", [sms(2)], _accepted([sms(2)]), "x")
        assert [(r.key, r.customer_id, r.state, r.provider_id) for r in ledger.rows(state=State.ACCEPTED)] == [
            ("k0", "cust0", State.ACCEPTED, "req-0"),
            ("k2", "cust2", State.ACCEPTED, "req-9"),
        ]
    with Ledger(path) as ledger:  # opening it again changes nothing
        assert ledger.counts() == {"claimed": 1, "accepted": 2}


def _accepted(messages: list[Message], provider_id: str = "req-9") -> list[SendResult]:
    return [SendResult(m.key, Outcome.ACCEPTED, provider_id=provider_id) for m in messages]


def test_a_batch_accepted_whole_reads_like_full_rows(tmp_path: Path) -> None:
    """The compact record of a whole accepted batch (one `batches` row, narrow message rows) reads back
    exactly as the full per-message rows written for any other answer."""
    batch = [sms(i) for i in range(5)]
    compact, full = Ledger(tmp_path / "compact.sqlite"), Ledger(tmp_path / "full.sqlite")
    with compact, full:
        for ledger in (compact, full):
            ledger.plan(batch[:2], "nhn_sms")  # two were planned first; three are written with their answer
            ledger.claim([m.key for m in batch], batch_id="b1")
        compact.record_batch("b1", batch, _accepted(batch), "nhn_sms")
        full.commit_round((), _accepted(batch), None, "nhn_sms", {m.key: m for m in batch})
        assert compact.rows() == full.rows()
        assert [r.customer_id for r in compact.rows()] == [f"cust{i}" for i in range(5)]
        assert compact.counts("c1") == full.counts("c1") == {"accepted": 5}
        assert compact.claims([m.key for m in batch]) == {}
        db = sqlite3.connect(compact.path)
        assert db.execute("select count(*) from batches").fetchone() == (1,)
        assert db.execute("select count(*) from messages where campaign_id is null").fetchone() == (3,)
        # A receipt moves a compact row forward like any other.
        assert compact.advance("k3", State.DELIVERED)
        assert compact.rows(keys=["k3"])[0].state is State.DELIVERED


def test_a_batch_recorded_from_its_claim_keeps_every_key_and_customer(ledger: Ledger) -> None:
    """`whole_claim`: the keys are read back from the claim. Keys and customer ids that JSON must escape
    (quotes, backslashes, control characters) or that are not ASCII come back unchanged."""
    odd = ['q"uote', "back\\slash", "new\nline", "탭\t한글", "plain"]
    batch = [
        Message(f"c1:{text}", "c1", f"cust:{text}", Channel.SMS, Purpose.AD, f"0101234{i:04d}", "(광고) body")
        for i, text in enumerate(odd)
    ]
    ledger.claim([m.key for m in batch], batch_id="b1")
    assert set(ledger.claims([m.key for m in batch])) == {m.key for m in batch}
    ledger.record_batch("b1", batch, _accepted(batch), "nhn_sms", whole_claim=True)
    rows = {r.key: r for r in ledger.rows()}
    assert {k: (r.state, r.customer_id) for k, r in rows.items()} == {
        m.key: (State.ACCEPTED, m.customer_id) for m in batch
    }
    assert ledger.claims([m.key for m in batch]) == {}


def test_a_batch_recorded_from_a_missing_claim_is_refused(ledger: Ledger) -> None:
    """Reading keys from a claim that is not there (or holds another number of keys) would record
    nothing: the ledger refuses instead, and the batch stays as it was."""
    batch = [sms(i) for i in range(3)]
    with pytest.raises(sqlite3.IntegrityError, match="no claim"):
        ledger.record_batch("b1", batch, _accepted(batch), "nhn_sms", whole_claim=True)
    ledger.claim([m.key for m in batch[:2]], batch_id="b1")
    with pytest.raises(sqlite3.IntegrityError, match="no claim"):
        ledger.record_batch("b1", batch, _accepted(batch), "nhn_sms", whole_claim=True)
    assert ledger.counts() == {"claimed": 2}
    assert sqlite3.connect(ledger.path).execute("select count(*) from batches").fetchone() == (0,)


def test_a_batch_with_any_other_answer_is_written_in_full(ledger: Ledger) -> None:
    batch = [sms(i) for i in range(4)]
    ledger.claim([m.key for m in batch], batch_id="b1")
    results = _accepted(batch)
    results[2] = SendResult("k2", Outcome.PERMANENT, reason="invalid number")
    ledger.record_batch("b1", batch, results, "nhn_sms", {m.key: ("sms", m.address) for m in batch})
    assert ledger.states([m.key for m in batch]) == {
        "k0": State.ACCEPTED,
        "k1": State.ACCEPTED,
        "k2": State.FAILED,
        "k3": State.ACCEPTED,
    }
    assert sqlite3.connect(ledger.path).execute("select count(*) from batches").fetchone() == (0,)
    assert ("sms", address_hash(batch[2].address)) in ledger.suppressed()


def test_answering_part_of_a_claim_leaves_the_rest_claimed(ledger: Ledger) -> None:
    """A batch resent after a crash may hold only some of its claim's keys: the others stay claimed."""
    batch = [sms(i) for i in range(4)]
    ledger.claim([m.key for m in batch], batch_id="b1")
    ledger.record_batch("b1", batch[:2], _accepted(batch[:2]), "nhn_sms")
    ledger.record_batch("b1", batch[2:3], _accepted(batch[2:3]), "nhn_sms", kept=())
    assert set(ledger.claims([m.key for m in batch])) == {"k3"}
    ledger.record_batch("b1", batch[3:], [SendResult("k3", Outcome.UNKNOWN)], "nhn_sms", kept={"k3"})
    assert set(ledger.claims(["k3"])) == {"k3"}  # kept: it goes again under b1


def test_one_round_closes_whole_and_partly_answered_claims(ledger: Ledger) -> None:
    """The one-message APIs close many claims per commit: whole ones go in one statement, a claim
    answered in part keeps its other keys, and a batch id seen twice in a round counts both answers."""
    ledger.claim_batches([(["k0"], "b0"), (["k1"], "b1"), (["k2", "k3", "k4"], "b2"), (["k5"], "b5")])
    messages = {m.key: m for m in (sms(i) for i in range(6))}
    ledger.commit_round(
        [(["k6"], "b6")],
        _accepted([messages[k] for k in ("k0", "k1", "k2", "k4")]),
        None,
        "nhn_sms",
        messages,
        closes=[("b0", ["k0"]), ("b1", ["k1"]), ("b2", ["k2"]), ("b2", ["k4"])],
    )
    open_claims = ledger.claims([f"k{i}" for i in range(7)])
    assert {k: c.batch_id for k, c in open_claims.items()} == {"k3": "b2", "k5": "b5", "k6": "b6"}
    assert ledger.counts() == {"accepted": 4, "claimed": 3}


def test_durable_commits_fsync_the_wal_sqlite_writes(tmp_path: Path) -> None:
    """Claims are made durable by fsyncing the WAL file after the commit (see `Ledger._tx`): that must
    be the file SQLite writes, also after another connection to the ledger came and went."""
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        ledger.claim(["k1"], batch_id="b1")
        with Ledger(path) as other:
            other.claim(["k2"], batch_id="b2")
        ledger.claim(["k3"], batch_id="b3")
        assert ledger._wal_fd is not None
        assert os.fstat(ledger._wal_fd).st_ino == os.stat(f"{path}-wal").st_ino
        assert set(ledger.claims(["k1", "k2", "k3"])) == {"k1", "k2", "k3"}
