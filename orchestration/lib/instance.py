"""The Dagster instance directory (DAGSTER_HOME) that the CLI, `make dev` and the daemon share."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from orchestration.settings import PROJECT_ROOT

INSTANCE_CONFIG = PROJECT_ROOT / "orchestration" / "instance" / "dagster.yaml"


def prepare_instance(home: Path) -> Path:
    """Write our instance config and create its storage once, in this process.

    A fresh SQLite instance opened first by two processes at once (the daemon and the webserver, or
    the daemon and `dagster job backfill`) can record two alembic heads and then refuse to open at all.
    """
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(INSTANCE_CONFIG, home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)):
        pass
    return home
