"""A channel whose provider settings are missing stops alone: the others are delivered, and the run
fails at the end naming the channel and the variable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from channels.fakes import FakeSet, running_fakes
from channels.ledger import Ledger, State
from orchestration.defs.deliver.deliveries import hand_off, raise_if_stopped
from orchestration.lib.resources import ChannelsResource

DAY = date(2026, 12, 4)


@pytest.fixture
def fakes() -> Iterator[FakeSet]:
    with running_fakes() as running:
        yield running


def planned(key: str, channel: str, address: str) -> dict[str, object]:
    # Informational, so the night rule never defers them whatever the clock says.
    return {
        "send_key": key,
        "campaign_id": "notice",
        "step": 1,
        "customer_id": f"c-{key}",
        "as_of_date": DAY,
        "cycle": "x",
        "channel": channel,
        "message_type": "sms" if channel == "sms" else "email",
        "purpose": "info",
        "priority": 1,
        "cap_class": "service",
        "address": address,
        "subject": "안내" if channel == "email" else None,
        "body": "주문하신 상품이 발송되었습니다.",
        "data": json.dumps({}),
        "content_bytes": 30,
        "render_warnings": None,
        "scheduled_at": datetime(2026, 12, 4, 10),
        "scheduled_date": DAY,
        "cost_krw": 12.0,
        "state": "scheduled",
        "planned_at": datetime(2026, 12, 4, 2),
    }


def test_a_missing_variable_stops_only_its_channel(
    fakes: FakeSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = pd.DataFrame([planned("k-email", "email", "minji@example.com"), planned("k-sms", "sms", "01012345678")])
    sms = fakes.describe()["nhn_sms"]
    for name in ("SENDGRID_API_KEY", "DANGOL_EMAIL_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DANGOL_EMAIL_FROM", "shop@dangol.test")
    monkeypatch.setenv("NHN_SMS_APP_KEY", sms["app_key"])
    monkeypatch.setenv("NHN_SMS_SECRET_KEY", sms["secret_key"])
    monkeypatch.setenv("NHN_SMS_SEND_NO", sms["send_no"])
    monkeypatch.setenv("NHN_SMS_BASE_URL", sms["base_url"])
    ledger = tmp_path / "ledger.sqlite"
    context = dg.build_asset_context(partition_key=DAY.isoformat())
    # The hand-off of the due sends (the asset's gate, clock and records are tested in
    # tests/integration/test_handoff_runs.py): each channel on its own, the failure after all of them.
    channels = ChannelsResource(mode="live", outbox_dir=str(tmp_path / "outbox"), ledger_path=str(ledger))
    recorded, stopped = hand_off(context, rows, channels)
    with pytest.raises(dg.Failure) as failure:
        raise_if_stopped(stopped)
    assert "email" in str(failure.value) and "SENDGRID_API_KEY" in str(failure.value)
    assert fakes.nhn_sms.received_keys() == ["k-sms"]  # the channel after it still went
    with Ledger(ledger) as led:
        assert {r.key: r.state for r in led.rows(keys=["k-sms", "k-email"])} == {"k-sms": State.ACCEPTED}
    assert list(zip(recorded["send_key"], recorded["state"], strict=True)) == [("k-sms", "accepted")]
