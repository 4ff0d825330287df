"""The alert sensors post Slack-compatible JSON to a real HTTP server on 127.0.0.1: a failed run (a channel
configuration error named as such) and each held send list once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from orchestration.campaigns.planning import ensure_tables
from orchestration.defs.console.alerts import AlertWebhook, alert_on_failed_run, alert_on_held_send_list
from orchestration.defs.deliver.deliveries import CONFIG_ERRORS
from orchestration.lib.resources import WarehouseResource
from orchestration.lib.warehouse import connect


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    """A real HTTP endpoint that keeps every JSON body posted to it."""
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length).decode("utf-8")))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def _held_warehouse(path: Path) -> WarehouseResource:
    with connect(path) as con:
        ensure_tables(con)
        con.execute(
            "insert into sends.campaign_days values ('vip_blast', ?, 40, 40, 3, 9, 'held', 0, 40, 0, ?),"
            " ('win_back', ?, 5, 5, 4, 12, 'ok', 5, 0, 0, ?)",
            [date(2025, 6, 15), datetime(2025, 6, 16, 2), date(2025, 6, 15), datetime(2025, 6, 16, 2)],
        )
    return WarehouseResource(path=str(path))


def test_a_held_send_list_is_told_once_with_the_job_that_answers_it(
    tmp_path: Path, webhook: tuple[str, list[dict]]
) -> None:
    url, received = webhook
    resources = {"warehouse": _held_warehouse(tmp_path / "w.duckdb"), "alert_webhook": AlertWebhook(url=url)}
    with dg.build_sensor_context(resources=resources) as context:
        first = alert_on_held_send_list(context)
    assert isinstance(first, dg.SensorResult) and not first.skip_reason
    (posted,) = received
    assert posted["text"].startswith("dangol: send list held: vip_blast 2025-06-15")
    assert "approve_send_list" in posted["text"] and posted["blocks"][0]["type"] == "header"
    with dg.build_sensor_context(cursor=first.cursor, resources=resources) as context:
        again = alert_on_held_send_list(context)
    assert isinstance(again, dg.SensorResult) and again.skip_reason and len(received) == 1  # told once


def test_no_webhook_skips_saying_how_to_set_it(tmp_path: Path) -> None:
    resources = {"warehouse": _held_warehouse(tmp_path / "w.duckdb"), "alert_webhook": AlertWebhook(url="")}
    with dg.build_sensor_context(resources=resources) as context:
        result = alert_on_held_send_list(context)
    assert isinstance(result, dg.SkipReason) and "DANGOL_ALERT_WEBHOOK" in (result.skip_message or "")


def test_a_failed_run_with_a_channel_configuration_error_is_told_as_such(webhook: tuple[str, list[dict]]) -> None:
    url, received = webhook

    @dg.op
    def deliveries() -> None:  # fails as delivery does when a channel's settings are wrong
        raise dg.Failure(
            "channels stopped: sms: NHN_SMS_APP_KEY is not set",
            metadata={CONFIG_ERRORS: dg.MetadataValue.json(["sms"])},
            allow_retries=False,
        )

    @dg.job
    def nightly() -> None:
        deliveries()

    with dg.instance_for_test() as instance:
        result = nightly.execute_in_process(instance=instance, raise_on_error=False)
        run = instance.get_run_by_id(result.run_id)
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
        assert run is not None
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_failed_run",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=failure,
            resources={"alert_webhook": AlertWebhook(url=url)},
        ).for_run_failure()
        alert_on_failed_run(context)
    (posted,) = received
    assert posted["text"].startswith("dangol: channel configuration error (sms)")
    assert "job `nightly`" in posted["text"] and "NHN_SMS_APP_KEY is not set" in posted["text"]
