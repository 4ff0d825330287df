"""The event log into the warehouse: the sensor asks, the asset loads with a cursor, nothing twice or lost."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

from channels.tracking.eventlog import EventLog, new_event
from orchestration.defs.engage.message_events import message_events, message_events_sensor
from orchestration.lib.resources import WarehouseResource
from orchestration.settings import load_settings


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DANGOL_WAREHOUSE", str(tmp_path / "warehouse" / "dangol.duckdb"))
    monkeypatch.delenv("DANGOL_TRACKING_DIR", raising=False)
    return tmp_path


def _load(instance: dg.DagsterInstance) -> dg.ExecuteInJobResult:
    day = datetime.now(ZoneInfo("Asia/Seoul")).date().isoformat()
    warehouse = WarehouseResource(path=str(load_settings().warehouse))
    return dg.materialize([message_events], partition_key=day, resources={"warehouse": warehouse}, instance=instance)


def _new(result: dg.ExecuteInJobResult) -> int:
    (event,) = result.get_asset_materialization_events()
    return event.materialization.metadata["events_new"].value


def _rows() -> list[tuple]:
    with duckdb.connect(str(load_settings().warehouse), read_only=True) as con:
        return con.execute(
            "select event_type, send_key, campaign_id, is_human from sends.message_events order by occurred_at"
        ).fetchall()


def test_the_sensor_asks_and_each_event_lands_once(shop: Path) -> None:
    folder = load_settings().event_log
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(instance=instance) as context:
            assert isinstance(message_events_sensor(context), dg.SkipReason)  # no log yet

        with EventLog(folder) as log:
            log.append(
                new_event("clicked", send_key="k1", campaign_id="win_back", is_human=True, send_date="2026-12-04"),
                new_event("opened", send_key="k1", campaign_id="win_back", is_human=False, bot_reason="x"),
                new_event("delivered", event_id="sendgrid:e1", send_key="k1", channel="email"),
            )
        with dg.build_sensor_context(instance=instance) as context:
            result = message_events_sensor(context)
        assert isinstance(result, dg.SensorResult) and len(result.run_requests) == 1
        with dg.build_sensor_context(instance=instance, cursor=result.cursor) as context:
            assert isinstance(message_events_sensor(context), dg.SkipReason)  # nothing new since

        first = _load(instance)
        assert first.success
        assert sorted(r[0] for r in _rows()) == ["clicked", "delivered", "opened"]
        assert _new(first) == 3

        # A provider's replay that reached the log, and a new event; then a load with nothing new.
        with EventLog(folder) as log:
            log.append(
                new_event("delivered", event_id="sendgrid:e1", send_key="k1"), new_event("clicked", send_key="k2")
            )
        assert _new(_load(instance)) == 1
        assert _new(_load(instance)) == 0
        assert len(_rows()) == 4


def test_a_line_still_being_written_waits_for_the_next_load(shop: Path) -> None:
    folder = load_settings().event_log
    with EventLog(folder) as log:
        log.append(new_event("clicked", send_key="k1"))
    segment = next(folder.glob("events-*.jsonl"))
    whole = new_event("opened", send_key="k2")
    import json

    line = json.dumps(whole).encode() + b"\n"
    with segment.open("ab") as handle:
        handle.write(line[:20])
    with dg.instance_for_test() as instance:
        _load(instance)
        assert [r[0] for r in _rows()] == ["clicked"]
        with segment.open("ab") as handle:
            handle.write(line[20:])
        _load(instance)
        assert sorted(r[0] for r in _rows()) == ["clicked", "opened"]
