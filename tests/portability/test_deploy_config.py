"""docs/deploy.md's instance config works as written: Dagster on PostgreSQL run storage records a real run."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from tests.conftest import PROJECT_ROOT
from tests.portability.conftest import Postgres


@dg.asset
def hello() -> int:
    return 1


def test_the_deploy_instance_keeps_runs_in_postgres(
    postgres: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = psycopg2.connect(postgres.dsn.rsplit("/", 1)[0] + "/postgres")
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute("create database dagster_deploy")
    con.close()
    for name, value in {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": str(postgres.port),
        "DAGSTER_PG_USER": "dangol",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": "dagster_deploy",
    }.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        result = dg.materialize([hello], instance=instance)
        assert result.success

    # the run is in the server, not in a file under DAGSTER_HOME
    with psycopg2.connect(postgres.dsn.rsplit("/", 1)[0] + "/dagster_deploy") as pg, pg.cursor() as cur:
        cur.execute("select run_id, status from runs")
        assert cur.fetchall() == [(result.run_id, "SUCCESS")]
