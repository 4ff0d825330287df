"""The plan tells the tracking service each send's address and the customer's other addresses (hashed)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from channels.ledger import address_hash
from channels.tracking.links import LinkStore, PlannedSend, RenderedLinks
from orchestration.defs.campaigns.plan import register_addresses
from orchestration.settings import load_settings


def test_planned_addresses_and_contacts_reach_the_link_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DANGOL_TRACKING_DIR", str(tmp_path / "tracking"))
    path = load_settings().link_store
    with LinkStore(path) as store:
        store.register([RenderedLinks(PlannedSend("k1", "email", "win_back", "c1", "2026-12-04", "ad"), ())])
    planned = pd.DataFrame(
        [{"send_key": "k1", "channel": "email", "address": "minji@example.com", "customer_id": "c1"}]
    )
    eligibility = pd.DataFrame(
        [
            {"customer_id": "c1", "channel": "email", "address": "minji@example.com"},
            {"customer_id": "c1", "channel": "sms", "address": "01012345678"},
            {"customer_id": "c1", "channel": "app_push", "address": None},
            {"customer_id": "c2", "channel": "sms", "address": "01099998888"},
        ]
    )
    register_addresses(SimpleNamespace(planned=planned), SimpleNamespace(eligibility=eligibility))  # type: ignore[arg-type]
    with LinkStore(path) as store:
        send = store.send("k1", "email")
        contacts = store.contacts("c1")
    assert send is not None and send.address_hash == address_hash("minji@example.com")
    assert contacts == {"email": [address_hash("minji@example.com")], "sms": [address_hash("01012345678")]}
