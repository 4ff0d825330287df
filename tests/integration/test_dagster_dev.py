"""`make dev` (dangol dev -> dagster dev -w workspace.yaml) serves the whole graph, daily-partitioned."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

from tests.conftest import DANGOL, ShopEnv

QUERY = "{ assetNodes { assetKey { path } groupName isMaterializable isPartitioned partitionDefinition { type } } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _asset_nodes(port: int) -> list[dict] | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            nodes = json.load(response).get("data", {}).get("assetNodes")
    except OSError:
        return None
    return nodes or None


def test_dagster_dev_serves_the_partitioned_graph(shop_env: ShopEnv) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [DANGOL, "dev", "--port", str(port)],
        env=shop_env.env,
        cwd=shop_env.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        nodes = None
        while nodes is None and time.monotonic() < deadline and process.poll() is None:
            time.sleep(2)
            nodes = _asset_nodes(port)
        assert nodes, "the Dagster UI never served the asset graph"
        groups = {n["groupName"] for n in nodes}
        assert {"ingest", "staging", "marts", "audiences", "campaigns", "deliver"} <= groups
        materializable = [n for n in nodes if n["isMaterializable"]]  # dbt sources written elsewhere are external
        unpartitioned = [
            n["assetKey"]["path"]
            for n in materializable
            if not (n["isPartitioned"] and n["partitionDefinition"]["type"] == "TIME_WINDOW")
        ]
        assert materializable and not unpartitioned
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
