"""Turning raw numeric columns into contract CSV text with DuckDB.

Generators produce only numbers (codes, seconds, indices); all text is made here in SQL, which is many
times faster than building Python strings and keeps memory flat. DuckDB keeps insertion order, so the
same columns always give the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from orchestration.demo.dirty import CODE, Dirt
from orchestration.lib.warehouse import duckdb_config

NONE = -1  # sentinel in integer columns for "no value"; rendered as an empty field


@dataclass(frozen=True)
class Table:
    """One CSV file: raw columns, and per contract column the SQL expression that renders it.

    ``labels`` turns integer code columns into text (code -1 = empty).
    """

    file: str
    columns: Mapping[str, np.ndarray]
    select: Sequence[tuple[str, str]]
    labels: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.columns["dirty"])


class CsvWriter:
    """Writes tables with one DuckDB connection on one background thread.

    numpy builds the next table while DuckDB formats the previous one (both release the GIL), which
    nearly halves the wall time on two cores. At most one table waits, so memory stays bounded, and
    each file is still written whole by a single ordered COPY: the bytes do not depend on timing.
    """

    def __init__(self, out_dir: Path, threads: int | None = None) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir = out_dir
        self._con = duckdb.connect(config=duckdb_config())
        self._con.execute("SET preserve_insertion_order = true")
        if threads:
            self._con.execute(f"SET threads = {int(threads)}")
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-csv")
        self._pending: Future[None] | None = None

    def __enter__(self) -> CsvWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)
            self._con.close()

    def write(self, table: Table) -> None:
        self._wait()
        self._pending = self._pool.submit(_write_one, self._con, table, self.out_dir / table.file)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()  # re-raises a failed write here, in the caller's thread


def _write_one(con: duckdb.DuckDBPyConnection, table: Table, path: Path) -> None:
    frame = pd.DataFrame(
        {
            name: (
                pd.Categorical.from_codes(values, categories=list(table.labels[name]))
                if name in table.labels
                else values
            )
            for name, values in table.columns.items()
        },
        copy=False,
    )
    exprs = ", ".join(f'{expr} AS "{name}"' for name, expr in table.select)
    target = str(path).replace("'", "''")
    con.register("src", frame)
    try:
        con.execute(f"COPY (SELECT {exprs} FROM src) TO '{target}' (HEADER, DELIMITER ',')")
    finally:
        con.unregister("src")


# --- SQL snippets shared by the tables ---------------------------------------------------------------


def key(prefix: str, col: str, width: int) -> str:
    """A text key such as C0000042; NULL where the column holds NONE.

    Zero-padding by adding 10**width and dropping the leading 1 is a third cheaper than lpad, which
    counts on tens of millions of event rows.
    """
    return f"CASE WHEN {col} >= 0 THEN '{prefix}' || substr(CAST({col} + {10**width} AS VARCHAR), 2) END"


def _ts(col: str) -> str:
    return f"make_timestamp({col} * 1000000)"


def offset_formats(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """Per row: 0 = shop-local without offset; 1 = +09:00; 2 = UTC with Z (share split evenly)."""
    fmt = np.zeros(n, dtype=np.int8)
    rows = rng.choice(n, size=round(share * n), replace=False)
    fmt[rows] = 1
    fmt[rows[: len(rows) // 2]] = 2
    return fmt


def timestamp(col: str, *, fmt: str | None = None) -> str:
    """Render shop-local seconds as ISO text.

    ``fmt`` 1 and 2 write the same moment with an explicit +09:00 offset or in UTC with Z, as exports
    from other systems do. Rows marked bad_timestamp get text no ISO parser accepts.
    """
    plain = f"CAST({_ts(col)} AS VARCHAR)"
    text = plain
    if fmt is not None:
        text = (
            f"CASE {fmt} WHEN 1 THEN strftime({_ts(col)}, '%Y-%m-%dT%H:%M:%S') || '+09:00' "
            f"WHEN 2 THEN strftime({_ts(f'({col} - 32400)')}, '%Y-%m-%dT%H:%M:%SZ') "
            f"ELSE {plain} END"
        )
    garbage = (
        f"CASE {col} % 4 "
        f"WHEN 0 THEN strftime({_ts(col)}, '%Y') || '-02-30 ' || strftime({_ts(col)}, '%H:%M:%S') "
        f"WHEN 1 THEN '0000-00-00 00:00:00' "
        f"WHEN 2 THEN strftime({_ts(col)}, '%Y-13-%d %H:%M:%S') "
        f"ELSE strftime({_ts(col)}, '%Y년 %-m월 %-d일 %H:%M') END"
    )
    return f"CASE WHEN dirty = {CODE[Dirt.BAD_TIMESTAMP]} THEN {garbage} ELSE {text} END"


def optional_timestamp(col: str) -> str:
    return f"CASE WHEN {col} >= 0 THEN CAST({_ts(col)} AS VARCHAR) END"


def b64url(blob_sql: str) -> str:
    """Unpadded base64url, the alphabet of push tokens and Web Push keys."""
    return f"replace(replace(replace(to_base64({blob_sql}), '+', '-'), '/', '_'), '=', '')"


def random_bytes(seed_col: str, salt: str, sha256_blocks: int = 0, md5: bool = False) -> str:
    """Deterministic pseudo-random bytes (hex) derived from a numpy-drawn seed column.

    Hashing in SQL avoids building millions of Python byte strings; the seed column carries the
    randomness, so the result is as reproducible as the numpy stream.
    """
    parts = [f"sha256(CAST({seed_col} AS VARCHAR) || '{salt}{i}')" for i in range(sha256_blocks)]
    if md5:
        parts.append(f"md5(CAST({seed_col} AS VARCHAR) || '{salt}m')")
    return " || ".join(parts)
