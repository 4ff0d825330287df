"""The warehouse on PostgreSQL: copy the tables the Python steps write in DuckDB to a Postgres warehouse.

The Python side (ingest, predictions, send lists, delivery records) writes DuckDB; dbt then reads those
tables as sources. To run the dbt graph on Postgres, the same source tables are copied there, schema for
schema, with the column types mapped one to one. A copy replaces the table: the source is the truth.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import duckdb
import psycopg2
from psycopg2 import sql

# DuckDB type -> PostgreSQL type. Anything else is refused by name rather than guessed.
_TYPES = {
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "numeric(38, 0)",
    "UBIGINT": "numeric(20, 0)",
    "UINTEGER": "bigint",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "TIME": "time",
    "UUID": "uuid",
    "JSON": "jsonb",
}
_NULL = "\\N"
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


@dataclass(frozen=True)
class Copied:
    """One table copied: where to, and how many rows."""

    table: str
    rows: int


def postgres_type(duckdb_type: str) -> str:
    """The PostgreSQL column type of a DuckDB column type."""
    if duckdb_type in _TYPES:
        return _TYPES[duckdb_type]
    if match := _DECIMAL.fullmatch(duckdb_type):
        return f"numeric({match[1]}, {match[2]})"
    if duckdb_type.endswith("[]"):
        return postgres_type(duckdb_type[:-2]) + "[]"
    raise TypeError(f"no PostgreSQL type for DuckDB type {duckdb_type}")


def tables_in(con: duckdb.DuckDBPyConnection, schemas: Iterable[str]) -> list[tuple[str, str]]:
    """(schema, table) of every base table in the given DuckDB schemas, in name order."""
    wanted = list(schemas)
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables"
        " where table_type = 'BASE TABLE' and table_schema in (select unnest(?)) order by 1, 2",
        [wanted],
    ).fetchall()
    return [(schema, table) for schema, table in rows]


def copy_table(con: duckdb.DuckDBPyConnection, pg: psycopg2.extensions.connection, schema: str, table: str) -> Copied:
    """Replace `schema.table` on Postgres by the DuckDB table of the same name (structure and rows)."""
    columns = con.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()
    target = sql.Identifier(schema, table)
    definition = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(postgres_type(kind))) for name, kind in columns
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    quoted = ", ".join('"' + name.replace('"', '""') + '"' for name, _ in columns)
    result = con.execute(f'select {quoted} from "{schema}"."{table}"')
    rows = 0
    while batch := result.fetchmany(10_000):
        for row in batch:
            # NULL is written \N, so an empty string stays an empty string
            writer.writerow([_NULL if value is None else _text(value) for value in row])
        rows += len(batch)
    buffer.seek(0)
    with pg.cursor() as cur:
        cur.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        cur.execute(sql.SQL("drop table if exists {} cascade").format(target))
        cur.execute(sql.SQL("create table {} ({})").format(target, definition))
        cur.copy_expert(
            sql.SQL("copy {} from stdin with (format csv, null '\\N')").format(target).as_string(cur),
            buffer,
        )
    return Copied(f"{schema}.{table}", rows)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "{" + ",".join('"' + str(v).replace('"', '\\"') + '"' for v in value) + "}"
    return str(value)


def copy_schemas(
    con: duckdb.DuckDBPyConnection, dsn: str, schemas: Sequence[str] = ("raw", "ledger", "predictions", "sends")
) -> list[Copied]:
    """Copy every table of `schemas` from DuckDB to the Postgres warehouse at `dsn`, in one transaction."""
    pg = psycopg2.connect(dsn)
    try:
        with pg:
            return [copy_table(con, pg, schema, table) for schema, table in tables_in(con, schemas)]
    finally:
        pg.close()
