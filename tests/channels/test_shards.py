"""Delivery shards: a stable hash splits one send list so several workers deliver it in parallel, never
the same message twice and none left out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from channels.fakes import running_fakes
from channels.ledger import Ledger, State
from channels.shards import Shard, shard_of, shards

ROOT = Path(__file__).resolve().parents[2]
SENDER = Path(__file__).with_name("_sender.py")
KEYS = [f"2025-06-16:win_back:c{i}:email" for i in range(20_000)]


@pytest.mark.parametrize("count", [2, 3, 8])
def test_shards_never_overlap_and_together_cover_the_list(count: int) -> None:
    taken = [[k for k in KEYS if shard.holds(k)] for shard in shards(count)]
    assert sorted(k for part in taken for k in part) == sorted(KEYS)  # every key, each exactly once
    sizes = [len(part) for part in taken]
    assert max(sizes) - min(sizes) < 0.1 * len(KEYS) / count  # and the work is evenly spread


def test_a_shard_is_the_same_in_every_process() -> None:
    """Python salts `hash()` per process; a worker started elsewhere must take the same messages."""
    code = (
        "import json, sys; from channels.shards import shard_of;"
        " print(json.dumps([shard_of(k, 4) for k in sys.argv[1:]]))"
    )
    other = subprocess.run(
        [sys.executable, "-c", code, *KEYS[:500]],
        env=os.environ | {"PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(other.stdout) == [shard_of(k, 4) for k in KEYS[:500]]


def test_a_shard_must_exist() -> None:
    assert Shard.parse("1/2") == Shard(1, 2)
    for bad in ("2/2", "-1/2", "0/0", "x"):
        with pytest.raises(ValueError):
            Shard.parse(bad)


def test_two_workers_deliver_one_send_list_in_parallel_without_overlap(tmp_path: Path) -> None:
    per_adapter = 300
    ledger_path = tmp_path / "ledger.sqlite"
    with running_fakes(latency_ms=5) as fakes:
        desc = tmp_path / "fakes.json"
        desc.write_text(json.dumps(fakes.describe()))
        args = ["--desc", str(desc), "--ledger", str(ledger_path), "--outbox", str(tmp_path / "outbox")]
        env = os.environ | {"PYTHONPATH": str(ROOT)}
        workers = [
            subprocess.Popen(
                [sys.executable, str(SENDER), *args, "--per-adapter", str(per_adapter), "--shard", f"{i}/2"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        reports = []
        for worker in workers:
            out, err = worker.communicate(timeout=300)
            assert worker.returncode == 0, err[-3000:]
            reports.append(json.loads(out.strip().splitlines()[-1]))
        received = Counter(k for fake in fakes.all().values() for k in fake.received_keys())
        outbox = tmp_path / "outbox" / "outbox.jsonl"
        received.update(json.loads(line)["key"] for line in outbox.read_text().splitlines())
    # Each worker took its own shard of every adapter's list, and the two shards make the whole list.
    for name, planned in reports[0]["planned"].items():
        assert planned + reports[1]["planned"][name] == per_adapter
        assert 0 < planned < per_adapter
    with Ledger(ledger_path) as ledger:
        rows = ledger.rows()
    assert len(rows) == per_adapter * 8
    assert [k for k, n in received.items() if n > 1] == []  # no message reached a provider twice
    accepted = {r.key for r in rows if r.state is State.ACCEPTED}
    assert {r.state for r in rows} <= {State.ACCEPTED, State.FAILED}  # none left behind
    assert accepted == set(received)
