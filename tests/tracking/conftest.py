"""The tracking service, for real: uvicorn serving the Starlette app on 127.0.0.1, one per test."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn

from channels.ledger import Ledger
from channels.tracking.app import TrackConfig, TrackService, create_app
from channels.tracking.eventlog import Cursor, read_from
from channels.tracking.links import LinkStore, PlannedSend, RenderedLinks
from channels.tracking.tokens import Signer

KEYS = {"k2": b"current-secret", "k1": b"older-secret"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Running:
    url: str
    config: TrackConfig
    service: TrackService
    folder: Path

    def events(self) -> list[dict[str, Any]]:
        return read_from(self.config.event_log, Cursor.parse(None))[0]

    def wait_applied(self, timeout: float = 5.0) -> None:
        """Until the ledger applier has caught up with the log."""
        deadline = time.monotonic() + timeout
        total = len(self.events())
        while self.service.applier and self.service.applier.applied < total:
            if time.monotonic() > deadline:
                raise AssertionError("the ledger applier did not catch up")
            time.sleep(0.02)


def start(config: TrackConfig) -> tuple[uvicorn.Server, threading.Thread, str, TrackService]:
    port = free_port()
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the tracking service did not start")
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{port}", app.state.service


@pytest.fixture
def make_track(tmp_path: Path) -> Iterator[Any]:
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def make(**overrides: Any) -> Running:
        folder = tmp_path / "tracking"
        config = TrackConfig(
            event_log=folder / "events",
            link_store=folder / "links.sqlite",
            ledger=tmp_path / "ledger.sqlite",
            signer=Signer(KEYS),
            **overrides,
        )
        server, thread, url, service = start(config)
        servers.append((server, thread))
        return Running(url, config, service, folder)

    yield make
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def track(make_track: Any) -> Running:
    return make_track()


def plan_send(
    running: Running,
    key: str = "k" * 32,
    channel: str = "email",
    *,
    urls: tuple[str, ...] = (),
    address: str = "minji@example.com",
    customer: str = "c1",
    campaign: str = "win_back",
    day: str = "2026-12-04",
    purpose: str = "ad",
    contacts: tuple[tuple[str, str], ...] = (),
) -> PlannedSend:
    """What the planner writes for one send: its links at render time, its addresses at plan time."""
    send = PlannedSend(key, channel, campaign, customer, day, purpose)
    with LinkStore(running.config.link_store) as store:
        store.register([RenderedLinks(send, urls)])
        store.register_addresses([(key, channel, address)], [(customer, c, a) for c, a in contacts])
    return send


def get(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, allow_redirects=False, timeout=5, **kwargs)


@pytest.fixture
def ledger_of(track: Running) -> Iterator[Ledger]:
    with Ledger(track.config.ledger) as ledger:
        yield ledger
