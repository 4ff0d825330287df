"""The dbt project unchanged on Spark (dbt-spark in session mode, pyspark on Java 17): the 360, segments,
eligibility and audiences built there hold the same rows as on DuckDB, and a rerun of the window replaces
its days (the incremental models drop the window's partitions first).

Marked `spark` and `slow` (out of the default run: a session-mode build costs minutes on 2 cores). Needs the
`spark` extra: `uv pip install -e '.[spark]'`, then `pytest -m spark tests/portability`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from orchestration.demo.shop import ShopSpec, generate_shop
from orchestration.ingest.loader import load_folder
from tests.portability.test_postgres_parity import COMPARED_SCHEMAS, D, _difference, comparable, dbt

pytestmark = [pytest.mark.spark, pytest.mark.slow]
HELPER = Path(__file__).with_name("spark_tables.py")


def _spark_env(spark_dir: Path) -> dict[str, str]:
    """dbt's spark output, and the shop's zone for pyspark: it turns naive Python datetimes into Spark
    timestamps (and back) in the process's local zone, which must be the session's for wall times to hold."""
    return {
        "DANGOL_DBT_TARGET": "spark",
        "DANGOL_SPARK_DIR": str(spark_dir),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "TZ": "Asia/Seoul",
    }


def _helper(*args: str, spark_dir: Path) -> None:
    env = {**os.environ, **_spark_env(spark_dir)}
    result = subprocess.run([sys.executable, str(HELPER), *args], env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]


def _sorted(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return sorted(rows, key=lambda row: tuple((v is None, str(v)) for v in row))


@pytest.fixture(scope="module")
def spark_tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    if shutil.which("java") is None:
        pytest.fail("the Spark test needs Java (17): apt-get install openjdk-17-jre-headless")
    pytest.importorskip("pyspark", reason="the Spark test needs the `spark` extra: uv pip install -e '.[spark]'")
    root = tmp_path_factory.mktemp("spark")
    generate_shop(ShopSpec(customers=150, days=200, seed=7, end_date=D + timedelta(days=10)), root / "shop")
    warehouse = root / "dangol.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("set TimeZone = 'Asia/Seoul'")
        load_folder(con, root / "shop", "Asia/Seoul", datetime(2025, 7, 1, 12, 0))
    dbt("run", root / "target-duckdb", {"DANGOL_WAREHOUSE": str(warehouse), "DANGOL_DBT_TARGET": "duckdb"})
    spark_dir = root / "spark"
    _helper("load", str(warehouse), str(spark_dir), spark_dir=spark_dir)
    dbt("run", root / "target-spark", _spark_env(spark_dir))
    # the same window again: incremental now, each day replaced, not doubled
    dbt("run", root / "target-spark", _spark_env(spark_dir))
    out = root / "spark.json"
    _helper("dump", str(spark_dir), str(out), *COMPARED_SCHEMAS, spark_dir=spark_dir)
    return warehouse, json.loads(out.read_text())


def test_spark_holds_the_same_rows_as_duckdb_after_a_rerun(spark_tables: tuple[Path, dict[str, dict]]) -> None:
    warehouse, on_spark = spark_tables
    differences: dict[str, str] = {}
    with duckdb.connect(str(warehouse), read_only=True) as duck:
        duck.execute("set TimeZone = 'Asia/Seoul'")
        names = [
            name
            for (name,) in duck.execute(
                "select table_schema || '.' || table_name from information_schema.tables"
                " where table_type = 'BASE TABLE' and table_schema in (select unnest(?)) order by 1",
                [list(COMPARED_SCHEMAS)],
            ).fetchall()
        ]
        assert "marts.dim_customers" in names
        for name in names:
            if name not in on_spark:
                differences[name] = "missing on spark"
                continue
            columns = on_spark[name]["columns"]
            quoted = ", ".join(f'"{c}"' for c in columns)
            left = _sorted(
                [tuple(comparable(v) for v in row) for row in duck.execute(f"select {quoted} from {name}").fetchall()]
            )
            right = _sorted([tuple(comparable(v) for v in row) for row in on_spark[name]["rows"]])
            if left != right:
                differences[name] = _difference(columns, left, right, other="spark")
    assert not differences, "\n".join(f"{k}: {v}" for k, v in differences.items())
