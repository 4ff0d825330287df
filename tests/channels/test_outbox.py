"""The outbox writes each key once, to its table and to its JSON-lines file, even across a kill."""

from __future__ import annotations

import json
from pathlib import Path

from channels.adapters.outbox import OutboxAdapter
from channels.models import Channel, Message, Outcome, Purpose


def msg(i: int) -> Message:
    return Message(f"k{i}", "c", f"cust{i}", Channel.SMS, Purpose.INFO, "01012345678", "안녕하세요", data={"a": "b"})


def keys(path: Path) -> list[str]:
    return [json.loads(line)["key"] for line in path.read_text().splitlines()]


def test_same_key_twice_is_written_once(tmp_path: Path) -> None:
    with OutboxAdapter(tmp_path) as outbox:
        assert {r.outcome for r in outbox.send([msg(1), msg(2)], idempotency_key="b")} == {Outcome.ACCEPTED}
        outbox.send([msg(1)], idempotency_key="b")
    assert keys(tmp_path / "outbox.jsonl") == ["k1", "k2"]


def test_a_kill_between_table_and_file_is_repaired_on_open(tmp_path: Path) -> None:
    with OutboxAdapter(tmp_path) as outbox:
        outbox.send([msg(1), msg(2), msg(3)], idempotency_key="b")
    jsonl = tmp_path / "outbox.jsonl"
    lines = jsonl.read_text().splitlines()
    # k2 reached the table but the process died while appending it; k3 never got its line.
    jsonl.write_text(lines[0] + "\n" + lines[1][:15])
    with OutboxAdapter(tmp_path) as outbox:
        outbox.send([msg(2), msg(3), msg(4)], idempotency_key="b")
    assert keys(jsonl) == ["k1", "k2", "k3", "k4"]
    assert json.loads(jsonl.read_text().splitlines()[1])["data"] == {"a": "b"}
