"""Fixtures for the channels tests: one set of real fake servers per session, reset per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from channels.fakes import NO_FAULTS, FakeSet, running_fakes
from channels.ledger import Ledger


@pytest.fixture(scope="session")
def fake_servers() -> Iterator[FakeSet]:
    with running_fakes() as fakes:
        yield fakes


@pytest.fixture
def fakes(fake_servers: FakeSet) -> FakeSet:
    """The session's fakes with faults off, latency 0 and nothing recorded."""
    fake_servers.set_faults(NO_FAULTS, latency_ms=0)
    for fake in fake_servers.all().values():
        fake.reset()
    return fake_servers


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.sqlite") as led:
        yield led
