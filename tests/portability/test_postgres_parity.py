"""The dbt project unchanged on PostgreSQL: the 360, the segments, eligibility and the audiences built there
(with every unit and data test) hold the same rows as on DuckDB, from the same generated shop."""

from __future__ import annotations

import json
import math
import os
import subprocess
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg2
import pytest

from orchestration.demo.shop import ShopSpec, generate_shop
from orchestration.ingest.loader import load_folder
from orchestration.lib.dbt import DBT_EXECUTABLE, DBT_PROJECT_DIR
from orchestration.lib.postgres import copy_schemas
from tests.portability.conftest import Postgres

D = date(2025, 6, 15)
WINDOW = {"start_date": (D - timedelta(days=2)).isoformat(), "end_date": D.isoformat()}
SELECTION = (
    "+dim_customers",
    "+fct_segment_sizes_daily",
    "+int_customer_eligibility_daily",
    "+path:models/marts/audiences",
)
COMPARED_SCHEMAS = ("intermediate", "marts")


def dbt(command: str, target: Path, env: dict[str, str]) -> str:
    args = [DBT_EXECUTABLE, command, "--select", *SELECTION, "--vars", json.dumps(WINDOW)]
    args += ["--profiles-dir", str(DBT_PROJECT_DIR), "--project-dir", str(DBT_PROJECT_DIR)]
    args += ["--target-path", str(target), "--log-path", str(target / "logs")]
    full_env = {**os.environ, "DANGOL_TIMEZONE": "Asia/Seoul", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **env}
    result = subprocess.run(args, env=full_env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:]
    return result.stdout


def comparable(value: object) -> object:
    """One value as both warehouses can agree on it: numbers to 9 significant digits, NaN as None."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal | float | int):
        number = float(value)
        if math.isnan(number):
            return None
        return float(f"{number:.9g}")
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    return str(value)


def rows_of(cursor: object, table: str, columns: list[str]) -> list[tuple[object, ...]]:
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor.execute(f"select {quoted} from {table}")  # type: ignore[attr-defined]
    rows = [tuple(comparable(v) for v in row) for row in cursor.fetchall()]  # type: ignore[attr-defined]
    return sorted(rows, key=lambda row: tuple((v is None, str(v)) for v in row))


def _difference(
    columns: list[str], left: list[tuple[object, ...]], right: list[tuple[object, ...]], other: str = "postgres"
) -> str:
    """How two tables differ, naming rows by their first two columns (keys) and the columns that differ,
    never the values (the 360 holds names, addresses and phone numbers)."""
    only_left = [row for row in left if row not in right]
    only_right = [row for row in right if row not in left]
    by_key = {row[:2]: row for row in only_right}
    differing = sorted(
        {columns[i] for row in only_left if row[:2] in by_key for i, v in enumerate(row) if by_key[row[:2]][i] != v}
    )
    return (
        f"{len(left)} rows on duckdb, {len(right)} on {other}; {len(only_left)} only on duckdb (keys"
        f" {[row[:2] for row in only_left[:3]]}), {len(only_right)} only on {other}; differing columns {differing}"
    )


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, postgres: Postgres) -> tuple[Path, Postgres, str]:
    """One 150-customer shop loaded once, its raw tables copied to Postgres, the graph built on both."""
    root = tmp_path_factory.mktemp("parity")
    generate_shop(ShopSpec(customers=150, days=200, seed=7, end_date=D + timedelta(days=10)), root / "shop")
    warehouse = root / "dangol.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("set TimeZone = 'Asia/Seoul'")
        load_folder(con, root / "shop", "Asia/Seoul", datetime(2025, 7, 1, 12, 0))
        copied = copy_schemas(con, postgres.dsn)
    assert {c.table for c in copied} >= {"raw.customers", "raw.orders", "raw.events", "raw.consents"}
    dbt("run", root / "target-duckdb", {"DANGOL_WAREHOUSE": str(warehouse), "DANGOL_DBT_TARGET": "duckdb"})
    output = dbt("build", root / "target-postgres", postgres.dbt_env)
    return warehouse, postgres, output


def test_the_graph_builds_on_postgres_with_every_test_passing(both: tuple[Path, Postgres, str]) -> None:
    *_, output = both
    assert "ERROR=0" in output and "WARN=0" in output
    assert "PASS=" in output and " SKIP=0" in output


def test_postgres_holds_the_same_rows_as_duckdb(both: tuple[Path, Postgres, str]) -> None:
    warehouse, postgres, _ = both
    with duckdb.connect(str(warehouse), read_only=True) as duck, psycopg2.connect(postgres.dsn) as pg:
        duck.execute("set TimeZone = 'Asia/Seoul'")
        tables = duck.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
            " where table_type = 'BASE TABLE' and table_schema in (select unnest(?)) order by 1",
            [list(COMPARED_SCHEMAS)],
        ).fetchall()
        names = [name for (name,) in tables]
        assert "marts.dim_customers" in names and "marts.fct_customer_segments_daily" in names
        assert sum(name.startswith("marts.fct_audience_") for name in names) >= 5
        differences: dict[str, str] = {}
        non_empty = 0
        with pg.cursor() as cur:
            for name in names:
                schema, table = name.split(".")
                columns = [
                    c
                    for (c,) in duck.execute(
                        "select column_name from information_schema.columns"
                        " where table_schema = ? and table_name = ? order by ordinal_position",
                        [schema, table],
                    ).fetchall()
                ]
                cur.execute(
                    "select column_name from information_schema.columns"
                    " where table_schema = %s and table_name = %s order by ordinal_position",
                    (schema, table),
                )
                pg_columns = [c for (c,) in cur.fetchall()]
                if pg_columns != columns:
                    differences[name] = f"columns differ: duckdb {columns} postgres {pg_columns}"
                    continue
                on_duckdb = rows_of(duck, name, columns)
                on_postgres = rows_of(cur, name, columns)
                non_empty += bool(on_duckdb)
                if on_duckdb != on_postgres:
                    differences[name] = _difference(columns, on_duckdb, on_postgres)
    assert not differences, "\n".join(f"{k}: {v}" for k, v in differences.items())
    # the comparison is worth something only if the shop made rows in most tables
    assert non_empty >= len(names) * 2 // 3, f"only {non_empty} of {len(names)} tables have rows"
