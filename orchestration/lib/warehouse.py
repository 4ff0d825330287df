"""The one way to open the DuckDB warehouse.

DuckDB allows one writing process per file. Every writer (ingest, dbt, send lists, delivery) takes an
exclusive lock on a sibling `.lock` file and readers a shared one, so a backfill and the nightly run
wait for each other instead of failing with "Could not set lock on file".
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb


class WarehouseBusy(TimeoutError):
    """Another run held the warehouse for longer than we were willing to wait."""


@contextmanager
def _flock(lock_path: Path, mode: int, timeout: float, busy: str) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise WarehouseBusy(busy) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def warehouse_lock(path: Path, *, exclusive: bool = True, timeout: float = 3600.0) -> Iterator[None]:
    """Held around each connection (and around dbt): one writer at a time, readers together."""
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    with _flock(path.with_name(path.name + ".lock"), mode, timeout, f"warehouse {path} is locked by another run"):
        yield


@contextmanager
def run_lock(path: Path, *, timeout: float = 24 * 3600.0) -> Iterator[None]:
    """Held for a whole run over the warehouse, so two runs never interleave their steps.

    Intermediate models and dim_customers hold only the current window: between one run's dbt step and
    its BG/NBD fit, another run's dbt step would replace the rows the fit reads. A separate lock file from
    `warehouse_lock`, which the run's own steps take inside it (flock conflicts even within one process).
    """
    with _flock(path.with_name(path.name + ".run.lock"), fcntl.LOCK_EX, timeout, f"another run held {path} too long"):
        yield


def duckdb_config() -> dict[str, str | bool | int | float | list[str]]:
    """What one DuckDB connection may take (settings: DANGOL_DUCKDB_MEMORY_LIMIT, DANGOL_DUCKDB_THREADS).

    DuckDB's default is 80% of the machine's memory and all its cores; the warehouse shares both with
    dbt, the Dagster processes and everything else on the machine. Beyond the limit DuckDB spills to disk.
    """
    from orchestration.settings import load_settings

    settings = load_settings()
    return {"memory_limit": settings.duckdb_memory_limit, "threads": str(settings.duckdb_threads)}


def _open(path: Path, read_only: bool, attempts: int = 30) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting out a process that holds DuckDB's own lock outside ours (a closing dbt, a tool)."""
    for attempt in range(attempts):
        try:
            return duckdb.connect(str(path), read_only=read_only, config=duckdb_config())
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or attempt == attempts - 1:
                raise
            time.sleep(1.0)
    raise AssertionError("unreachable")


@contextmanager
def connect(
    path: Path, *, read_only: bool = False, timezone: str = "Asia/Seoul", timeout: float = 3600.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse under the right lock; read-only connections share it."""
    with warehouse_lock(path, exclusive=not read_only, timeout=timeout):
        if read_only and not path.exists():
            raise FileNotFoundError(f"no warehouse at {path}: run `dangol run` first")
        con = _open(path, read_only)
        try:
            con.execute(f"set TimeZone = '{timezone}'")
            yield con
        finally:
            con.close()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] | None = None) -> Any:
    """The single value of a query that returns one row (a count, a max): one way to read it, typed."""
    row = con.execute(sql, params).fetchone()
    if row is None:
        raise LookupError(f"the query returned no row: {sql.split()[0]} ...")
    return row[0]


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether `schema.table` exists: readers of a warehouse that may not have run every step yet."""
    return bool(
        scalar(
            con,
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        )
    )
