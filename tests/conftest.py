"""Shared fixtures: a prepared dbt manifest, and an isolated warehouse + Dagster home per test."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DANGOL = str(Path(sys.executable).with_name("dangol"))


def pytest_configure(config: pytest.Config) -> None:
    """Give each session its own temp root: pytest's default clean-up of older `pytest-N` folders would
    delete the live folders of another session running at the same time (a second developer, a bench)."""
    if config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="dangol-pytest-")


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """Parse dbt once per session, before any test loads the Dagster definitions.

    Only the folders whose tests load the definitions or run dbt ask for it (their conftest.py), so
    `pytest tests/channels` starts at once."""
    from orchestration.lib.dbt import dbt_project, prepare_manifest

    # Test workers run side by side (pytest -n): one parses, the others wait and find it fresh.
    lock = dbt_project.project_dir / "target" / ".manifest.lock"
    lock.parent.mkdir(exist_ok=True)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        return prepare_manifest()


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """A folder that `build` fills once per test run, shared by every test worker (pytest -n).

    A session fixture runs once per worker; an expensive shop built with the real CLI is worth building
    once. The first worker builds it under a lock; the others wait for it. Tests work on copies."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the folder the workers' own temp folders share
    folder = root / name
    with (root / f"{name}.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return folder


@dataclass
class ShopEnv:
    """Where one test's warehouse, ledger, outbox and Dagster instance live."""

    root: Path

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse" / "dangol.duckdb"

    @property
    def outbox_jsonl(self) -> Path:
        return self.root / "warehouse" / "outbox" / "outbox.jsonl"

    @property
    def ledger(self) -> Path:
        return self.root / "warehouse" / "ledger.sqlite"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DANGOL_WAREHOUSE": str(self.warehouse),
            "DAGSTER_HOME": str(self.root / "dagster_home"),
            "DANGOL_START_DATE": "2020-01-01",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }

    def dangol(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the real `dangol` console script in its own process, as a user would."""
        result = subprocess.run(
            [DANGOL, *args], env=self.env, capture_output=True, text=True, cwd=self.root, timeout=600
        )
        if check and result.returncode != 0:
            raise AssertionError(f"dangol {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result


@pytest.fixture
def shop_env(tmp_path: Path) -> Iterator[ShopEnv]:
    yield ShopEnv(tmp_path)
