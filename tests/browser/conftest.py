"""A real Dagster UI (dagster-webserver + daemon on 127.0.0.1) over a small designed shop, driven by
Debian's Chromium through Playwright, and the screenshots it takes (test-artifacts/browser/)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT, ShopEnv

BIN = Path(sys.executable).parent
ARTIFACTS = Path(os.environ.get("DANGOL_TEST_ARTIFACTS", PROJECT_ROOT / "test-artifacts")) / "browser"
# Chromium as the machine allows it: no sandbox (root), no GPU, and no calls home (the network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The machine may be loaded two or three times over: every wait is generous.
UI_TIMEOUT_MS = 90_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serves_graph(port: int) -> bool:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": "{ assetNodes { id } }"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return bool(json.load(response).get("data", {}).get("assetNodes"))
    except OSError:
        return False


def _stop(process: subprocess.Popen) -> None:
    """Stop a server and everything it started (the webserver's code server, the daemon's workers)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _campaigns_with_a_broken_one(folder: Path) -> None:
    """The shipped campaigns plus `vip_blast`, whose audience is every customer: the guard holds it."""
    from orchestration.campaigns.spec import CAMPAIGNS_DIR

    shutil.copytree(CAMPAIGNS_DIR, folder)
    blast = yaml.safe_load((folder / "vip_note.yaml").read_text(encoding="utf-8"))
    blast.update(id="vip_blast", audience="dim_customers", cycle_column=None, holdout_share=0.0, priority=99, guard={})
    blast = {k: v for k, v in blast.items() if v is not None}
    (folder / "vip_blast.yaml").write_text(yaml.safe_dump(blast, allow_unicode=True), encoding="utf-8")
    policy = yaml.safe_load((folder / "_policy.yaml").read_text(encoding="utf-8"))
    policy["guard"].update(min_count=2, max_share=0.3)  # a designed shop is small
    (folder / "_policy.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")


@dataclass
class Console:
    """The UI a marketer opens, and where its runs leave their traces."""

    url: str
    shop: ShopEnv
    home: Path
    dbt_project: Path


def _copy_of_the_dbt_project(source: Path, copy: Path) -> Path:
    """The project with its prepared manifest (dates kept, so it is not parsed again at start)."""
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"))
    (copy / "target").mkdir()
    for name in ("manifest.json", "partial_parse.msgpack"):
        if (source / "target" / name).exists():
            shutil.copy2(source / "target" / name, copy / "target" / name)
    return copy


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, dbt_manifest: Path) -> Iterator[Console]:
    from orchestration.lib.instance import prepare_instance
    from tests.integration.test_campaigns_e2e import write_shop

    shop = ShopEnv(tmp_path_factory.mktemp("console"))
    write_shop(shop.root / "shop")
    _campaigns_with_a_broken_one(shop.root / "campaigns")
    home = prepare_instance(shop.root / "dagster_home")
    dbt_copy = _copy_of_the_dbt_project(dbt_manifest.parent.parent, shop.root / "dbt_project")
    env = shop.env | {
        "DANGOL_DATA_DIR": str(shop.root / "shop"),
        "DANGOL_CAMPAIGNS_DIR": str(shop.root / "campaigns"),
        "DANGOL_DBT_PROJECT_DIR": str(dbt_copy),  # the test edits a model in it
    }
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    port = _free_port()
    logs = ARTIFACTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = []
    try:
        for name, command in (
            ("webserver", [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)]),
            ("daemon", [str(BIN / "dagster-daemon"), "run", "-w", workspace]),
        ):
            with open(logs / f"{name}.log", "w") as log:
                started.append(
                    subprocess.Popen(
                        command, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )
        deadline = time.monotonic() + 240
        while not _serves_graph(port):
            assert time.monotonic() < deadline, f"the Dagster UI never served the graph (see {logs})"
            assert started[0].poll() is None, f"dagster-webserver exited (see {logs / 'webserver.log'})"
            time.sleep(2)
        yield Console(f"http://127.0.0.1:{port}", ShopEnv(shop.root), home, dbt_copy)
    finally:
        for process in reversed(started):
            _stop(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is missing: run scripts/install-browser (make test does)")
    with sync_playwright() as playwright:
        # A fresh, empty profile each time (Playwright's default); never a downloaded browser.
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser, console: Console) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1440, "height": 960}, locale="ko-KR", timezone_id="Asia/Seoul")
    context.set_default_timeout(UI_TIMEOUT_MS)
    ui = context.new_page()
    # Dagster's one-time "join the community" prompt covers the page whenever it shows up.
    ui.add_locator_handler(ui.get_by_role("button", name="Skip"), lambda button: button.click())
    try:
        yield ui
    finally:
        context.close()


def screenshot(page, name: str) -> Path:
    """Keep what the marketer saw at this step (test-artifacts/browser/NAME.png)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
