"""Shards of one send list, so several workers deliver it in parallel without overlap.

A message belongs to shard `shard_of(key, count)`: the first eight bytes of the SHA-256 of its key,
modulo the number of shards. Every process, machine and Python version agrees on it (Python's own
`hash()` of a string is salted per process), and it depends on the key alone, so a worker that
restarts, or one started on another machine, takes exactly the messages it had. Each worker runs
`deliver` over its shard with the one shared ledger: the shards are disjoint, so no two workers claim,
settle or send the same message, and together they cover the list.

`tests/channels/_sender.py --shard i/n` is such a worker. The nightly run's `deliveries` asset still
hands its whole list off in one step (one shard); running shards as parallel steps of Dagster's
multiprocess executor needs that asset split into prepare, a step per shard and record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from channels.models import Message


def shard_of(key: str, count: int) -> int:
    """The shard (0 .. count - 1) a message key belongs to."""
    if count < 1:
        raise ValueError(f"a send list has at least one shard, not {count}")
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    """Shard `index` of `count` (the whole list is `Shard(0, 1)`)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index} of {self.count}: the index must be 0 .. {self.count - 1}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`"1/4"`: the second of four shards."""
        index, _, count = text.partition("/")
        try:
            return cls(int(index), int(count))
        except ValueError:
            raise ValueError(f"a shard is written index/count, such as 0/2, not {text!r}") from None

    def holds(self, key: str) -> bool:
        return self.count == 1 or shard_of(key, self.count) == self.index

    def select(self, messages: Iterable[Message]) -> list[Message]:
        """The messages of this shard, in their order."""
        return [m for m in messages if self.holds(m.key)]

    def keys(self, keys: Sequence[str]) -> list[str]:
        return [k for k in keys if self.holds(k)]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shards(count: int) -> list[Shard]:
    """Every shard of a list split `count` ways."""
    return [Shard(i, count) for i in range(count)]
