"""The engagement loop on the demo: a click on a delivered message goes through the real tracking
service (`dangol track`, its own process) and the sensor into the warehouse, and a one-click
unsubscribe from a delivered email reaches the suppression list. Slow (a demo run, ~1-3 minutes):
`pytest -m slow tests/integration/test_engagement_demo.py`."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request

import duckdb
import pytest
import requests

from channels.ledger import Ledger, SuppressionKind, address_hash
from tests.conftest import DANGOL, PROJECT_ROOT, ShopEnv

BROWSER = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131 Mobile Safari/537.36"
# What the Dagster daemon does for the sensor, in process: evaluate it on the instance, run what it asks.
SENSOR_THEN_RUN = """
import json, sys
import dagster as dg
from orchestration.cli import ensure_dagster_home
ensure_dagster_home()
from orchestration.definitions import defs
definitions = defs()
sensor = definitions.resolve_sensor_def("message_events_sensor")
job = definitions.resolve_job_def("load_message_events")
with dg.DagsterInstance.get() as instance:
    with dg.build_sensor_context(instance=instance, repository_def=definitions.get_repository_def()) as context:
        result = sensor.evaluate_tick(context)
    (request,) = result.run_requests
    run = job.execute_in_process(instance=instance, partition_key=request.partition_key, tags=request.tags)
print(json.dumps({"success": run.success, "cursor": result.cursor}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_click_in_the_demo_reaches_the_warehouse_through_the_service_and_the_sensor(shop_env: ShopEnv) -> None:
    data = shop_env.root / "shop"
    shop_env.dangol("demo", "--channels", "fake", "--customers", "300", "--days", "400", "--out", str(data))
    with duckdb.connect(str(shop_env.warehouse), read_only=True) as con:
        sent = con.execute(
            "select p.send_key, p.campaign_id, p.customer_id, p.address, p.body from sends.fct_planned_sends p"
            " join sends.deliveries d using (send_key) where d.state = 'accepted' and p.channel = 'email'"
            " and p.body like '%/c/%' order by p.send_key limit 1"
        ).fetchall()
    assert sent, "no delivered email carried a tracked link"
    send_key, campaign_id, customer_id, address, body = sent[0]
    click_path = re.search(r"https://t\.shop\.example\.com(/c/[A-Za-z0-9_.-]+)", body).group(1)
    unsubscribe_path = re.search(r"https://t\.shop\.example\.com(/u/[A-Za-z0-9_.-]+)", body).group(1)

    port = _free_port()
    service = subprocess.Popen(
        [DANGOL, "track", "--port", str(port)],
        env=shop_env.env,
        cwd=shop_env.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and service.poll() is None, "dangol track did not start"
                time.sleep(0.2)
        click = requests.get(base + click_path, headers={"User-Agent": BROWSER}, allow_redirects=False, timeout=10)
        assert click.status_code == 302
        assert click.headers["location"].startswith("https://shop.example.com/")
        assert f"utm_campaign={campaign_id}" in click.headers["location"]
        one_click = requests.post(
            base + unsubscribe_path,
            data="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        )
        assert one_click.status_code == 200
    finally:
        service.terminate()
        output = service.communicate(timeout=30)[0]
    assert address not in output  # no personal data in the service's log

    with Ledger(shop_env.ledger) as ledger:
        assert ledger.suppressions()[("email", address_hash(address))] is SuppressionKind.OPTED_OUT

    run = subprocess.run(
        [sys.executable, "-c", SENSOR_THEN_RUN],
        env=shop_env.env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1])["success"]
    with duckdb.connect(str(shop_env.warehouse), read_only=True) as con:
        events = con.execute(
            "select event_type, campaign_id, customer_id, is_human from sends.message_events where send_key = ?"
            " order by event_type",
            [send_key],
        ).fetchall()
    assert events == [("clicked", campaign_id, customer_id, True), ("unsubscribed", campaign_id, customer_id, True)]
