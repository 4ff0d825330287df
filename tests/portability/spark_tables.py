"""Run in its own process by the Spark test (the embedded metastore admits one JVM at a time):

python spark_tables.py load <duckdb file> <spark dir>        copy raw.* from DuckDB into Spark tables
python spark_tables.py dump <spark dir> <out.json> <schema>...   every table of the schemas, as JSON rows
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
from pyspark.sql import SparkSession

_TYPES = {"VARCHAR": "string", "DOUBLE": "double", "BIGINT": "bigint", "INTEGER": "int", "BOOLEAN": "boolean"}


def session(spark_dir: Path) -> SparkSession:
    """The same warehouse dir and metastore as dbt_project/profiles.yml's spark output."""
    return (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.warehouse.dir", str(spark_dir / "warehouse"))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL", f"jdbc:derby:;databaseName={spark_dir}/metastore;create=true"
        )
        .config("spark.sql.session.timeZone", "Asia/Seoul")
        .config("spark.ui.enabled", "false")
        .enableHiveSupport()
        .getOrCreate()
    )


def load(warehouse: Path, spark_dir: Path) -> None:
    spark = session(spark_dir)
    spark.sql("create database if not exists raw")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute("select table_name from information_schema.tables where table_schema = 'raw'").fetchall()
        for (table,) in tables:
            columns = con.execute(f'describe raw."{table}"').fetchall()
            ddl = ", ".join(f"`{name}` {_TYPES.get(kind, kind.lower())}" for name, kind, *_ in columns)
            spark.sql(f"create table raw.`{table}` ({ddl}) using parquet")
            rows = con.execute(f'select * from raw."{table}"').fetchall()
            if rows:
                spark.createDataFrame(rows, spark.table(f"raw.`{table}`").schema).write.insertInto(f"raw.`{table}`")
    spark.stop()


def dump(spark_dir: Path, out: Path, schemas: list[str]) -> None:
    spark = session(spark_dir)
    tables: dict[str, dict[str, object]] = {}
    for schema in schemas:
        for row in spark.sql(f"show tables in {schema}").collect():
            if row["isTemporary"]:
                continue
            frame = spark.table(f"{schema}.`{row['tableName']}`")
            if (
                spark.sql(f"describe table extended {schema}.`{row['tableName']}`")
                .filter("col_name = 'Type'")
                .collect()[0]["data_type"]
                == "VIEW"
            ):
                continue
            tables[f"{schema}.{row['tableName']}"] = {
                "columns": frame.columns,
                "rows": [[float(v) if isinstance(v, Decimal) else v for v in r] for r in frame.collect()],
            }
    out.write_text(json.dumps(tables, default=str))
    spark.stop()


if __name__ == "__main__":
    if sys.argv[1] == "load":
        load(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        dump(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4:])
