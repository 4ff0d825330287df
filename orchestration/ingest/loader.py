"""Loads each contract file into `raw.<table>`; every broken rule becomes a row of `raw.quarantine`.

All parsing and checking happens inside DuckDB, so 10M order lines load in seconds. The file is first
read as text (nothing can fail there), then every rule is a SQL predicate over that text.

A file that did not change since its last load is not read again (`raw.loaded_files` remembers each
load's fingerprint): the nightly run at a million customers then pays only for the files that moved.
A file is loaded again when its size or modification time differs (or, when the time is too close to the
last load to be trusted, its content does), when the contract or time zone changed, when a file it
references was loaded again, when the load clock went back, or when the clock has reached a row that was
quarantined for lying in the future. `full_reload=True` loads every file regardless.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from orchestration.ingest.contract import CONTRACTS, Column, FileContract, Kind
from orchestration.lib.warehouse import scalar

log = logging.getLogger(__name__)

_TRUE = ("true", "1", "y", "yes", "t")
_FALSE = ("false", "0", "n", "no", "f")
_SQL_TYPES = {
    Kind.TEXT: "varchar",
    Kind.TIMESTAMP: "timestamp",
    Kind.DATE: "date",
    Kind.INTEGER: "bigint",
    Kind.DECIMAL: "decimal(18, 2)",
    Kind.BOOLEAN: "boolean",
    Kind.PHONE: "varchar",
    Kind.EMAIL: "varchar",
}

# A Korean mobile number: 010 and 8 subscriber digits; the legacy 011, 016-019 prefixes keep 7 or 8.
MOBILE_PATTERN = "010[0-9]{8}|01[16789][0-9]{7,8}"
# What a rule expects, in the quarantine detail (the operator fixes the row from it).
_EXPECTED = {
    Kind.PHONE: "a Korean mobile number: 010 and 8 digits (011, 016-019: 7 or 8)",
    Kind.EMAIL: "an e-mail address",
}

IMPORT_REJECTS_FILE = "import_rejects.csv"  # source_file, source_line, column_name, rule, detail

QUARANTINE_DDL = """
create table if not exists raw.quarantine (
    file varchar not null,
    line bigint,
    column_name varchar,
    rule varchar not null,
    detail varchar,
    loaded_at timestamp not null
)
"""


LOADED_FILES_DDL = """
create table if not exists raw.loaded_files (
    file varchar primary key,  -- the file's absolute path
    contract varchar not null,
    size bigint not null,
    mtime_ns bigint not null,
    sha256 varchar not null,
    rows_read bigint not null,
    load_clock timestamp not null,
    recorded_ns bigint not null,
    earliest_future timestamp  -- the earliest row quarantined for lying in the future, if any
)
"""
# A modification time this close to the moment it was recorded may hide a later write of the same size
# (file systems stamp times coarsely): such a file is compared by content instead (as git does).
_RACY_NS = 2_000_000_000


class ContractError(ValueError):
    """A whole file breaks the contract (missing required file or column): nothing of it can load."""


@dataclass
class FileReport:
    table: str
    present: bool
    rows_read: int = 0
    rows_loaded: int = 0
    quarantined_rows: int = 0
    rules: dict[str, int] = field(default_factory=dict)
    reloaded: bool = True  # False: the file had not changed since its last load, which stands
    # The earliest main timestamp among rows quarantined for lying in the future: a later clock may accept it.
    earliest_future: datetime | None = None


def _q(value: str) -> str:
    """Quote a string literal that comes from code or configuration (never from file contents)."""
    return "'" + value.replace("'", "''") + "'"


def _parsed(col: Column, timezone: str) -> str:
    raw = f"nullif(trim(\"{col.name}\"), '')"
    match col.kind:
        case Kind.TEXT:
            expr = raw
        case Kind.TIMESTAMP:
            expr = f"timezone({_q(timezone)}, try_cast({raw} as timestamptz))"
        case Kind.BOOLEAN:
            expr = f"case when lower({raw}) in {_TRUE} then true when lower({raw}) in {_FALSE} then false end"
        case Kind.PHONE:
            digits = f"regexp_replace({raw}, '[^0-9+]', '', 'g')"
            local = (
                f"case when {digits} like '+82%' then '0' || substr({digits}, 4)"
                f" when {digits} like '82%' and length({digits}) in (11, 12) then '0' || substr({digits}, 3)"
                f" else {digits} end"
            )
            expr = f"case when regexp_full_match({local}, '{MOBILE_PATTERN}') then {local} end"
        case Kind.EMAIL:
            expr = f"case when regexp_full_match({raw}, '[^@\\s]+@[^@\\s]+\\.[^@\\s]+') then lower({raw}) end"
        case _:
            expr = f"try_cast({raw} as {_SQL_TYPES[col.kind]})"
    if col.default is not None:
        expr = f"coalesce({expr}, {_q(col.default)})" if col.kind is Kind.TEXT else expr
    return expr


def _shown(col: Column) -> str:
    """The offending value for the quarantine detail, masked when it is personal data."""
    raw = f'"{col.name}__raw"'
    if not col.personal:
        return f"'''' || left({raw}, 60) || ''''"
    if col.kind is Kind.EMAIL:
        return f"'''' || left({raw}, 1) || '***' || coalesce('@' || split_part({raw}, '@', 2), '') || ''''"
    return f"'''***' || right({raw}, 2) || '''' || ' (masked, ' || length({raw}) || ' characters)'"


def _q_detail(col: Column) -> str:
    expected = _EXPECTED.get(col.kind)
    return f" (expected {expected})".replace("'", "''") if expected else ""


def _violations(contract: FileContract, now_local: datetime) -> list[str]:
    """One select per rule, each yielding (_line, column_name, rule, detail)."""
    out: list[str] = []

    def add(column: str | None, rule: str, predicate: str, detail: str) -> None:
        col_sql = _q(column) if column else "null"
        out.append(f"select _line, {col_sql}, {_q(rule)}, {detail} from _parsed where {predicate}")

    for col in contract.columns:
        raw, val = f'"{col.name}__raw"', f'"{col.name}"'
        if col.required:
            add(col.name, "missing_required", f"{raw} is null", f"'{col.name} is required'")
        add(
            col.name,
            f"invalid_{col.kind}",
            f"{raw} is not null and {val} is null",
            f"{_shown(col)} || ' is not a valid {col.kind}{_q_detail(col)}'",
        )
        if col.allowed:
            add(
                col.name,
                "not_allowed_value",
                f"{val} is not null and {val} not in {col.allowed}",
                f"{_shown(col)} || ' is not one of {', '.join(col.allowed)}'",
            )
        if col.minimum is not None:
            add(
                col.name,
                col.minimum_rule,
                f"{val} < {col.minimum}",
                f"{_shown(col)} || ' is below {col.minimum:g}'",
            )
        if col.maximum is not None:
            add(
                col.name,
                "above_maximum",
                f"{val} > {col.maximum}",
                f"{_shown(col)} || ' is above {col.maximum:g}'",
            )
    if contract.future_column:
        limit = (now_local + timedelta(days=1)).isoformat(sep=" ", timespec="seconds")
        add(
            contract.future_column,
            "timestamp_in_future",
            f'"{contract.future_column}" > timestamp {_q(limit)}',
            f"cast(\"{contract.future_column}\" as varchar) || ' is after the load time'",
        )
    if contract.at_least_one_of:
        names = " and ".join(f'"{c}" is null' for c in contract.at_least_one_of)
        add(
            None,
            contract.at_least_one_rule,
            names,
            f"'one of {', '.join(contract.at_least_one_of)} is required'",
        )
    return out


def load_file(
    con: duckdb.DuckDBPyConnection, contract: FileContract, data_dir: Path, timezone: str, now_local: datetime
) -> FileReport:
    """Replace `raw.<table>` with the file's good rows and its quarantine rows with the bad ones."""
    path = data_dir / contract.file_name
    con.execute("delete from raw.quarantine where file = ?", [contract.file_name])
    target = f"raw.{contract.table}"
    if not path.exists():
        if contract.required_file:
            raise ContractError(f"{contract.file_name} is required but missing from {data_dir}")
        log.warning("%s not found in %s: loading it as an empty table", contract.file_name, data_dir)
        cols = ", ".join(f'"{c.name}" {_SQL_TYPES[c.kind]}' for c in contract.columns)
        con.execute(f"create or replace table {target} ({cols}, _line bigint)")
        return FileReport(contract.table, present=False)

    con.execute("drop table if exists _src")
    con.execute("drop table if exists reject_errors")
    con.execute("drop table if exists reject_scans")
    con.execute(
        "create temp table _src as select * from read_csv(?, header = true, all_varchar = true,"
        " store_rejects = true, auto_detect = true)",
        [str(path)],
    )
    header = {row[0] for row in con.execute("select name from pragma_table_info('_src')").fetchall()}
    missing = [c.name for c in contract.columns if c.required and c.name not in header]
    if missing:
        raise ContractError(f"{contract.file_name} lacks required column(s) {', '.join(missing)}")

    rejects = con.execute("select line, error_type, error_message from reject_errors order by line").fetchall()
    # Record numbers: the header is line 1; rejected records are skipped by the reader, so good rows
    # are numbered by the lines left over once the rejected ones are taken out.
    con.execute("create or replace temp table _lines as select rowid as rid, rowid + 2 as line from _src")
    if rejects:
        total = scalar(con, "select count(*) from _src") + len(rejects)
        con.execute(
            "create or replace temp table _lines as select row_number() over (order by range) - 1 as rid,"
            " range as line from range(2, ?) where range not in (select unnest(?::bigint[]))",
            [total + 2, [r[0] for r in rejects]],
        )
    selects = []
    for col in contract.columns:
        source = f'"{col.name}"' if col.name in header else "cast(null as varchar)"
        selects.append(f'{source} as "{col.name}"')
    con.execute(
        f"create or replace temp table _text as select l.line as _line, {', '.join(selects)}"
        " from _src join _lines l on l.rid = _src.rowid order by l.line"
    )
    parsed = [f'{_parsed(c, timezone)} as "{c.name}", "{c.name}" as "{c.name}__raw"' for c in contract.columns]
    con.execute(f"create or replace temp table _parsed as select _line, {', '.join(parsed)} from _text")

    con.execute("create or replace temp table _bad (_line bigint, column_name varchar, rule varchar, detail varchar)")
    for select in _violations(contract, now_local):
        con.execute(f"insert into _bad {select}")
    for line, error_type, message in rejects:
        con.execute("insert into _bad values (?, null, 'malformed_csv', ?)", [line, f"{error_type}: {message}"[:200]])

    keep = ", ".join(f'"{c.name}"' for c in contract.columns)
    con.execute(
        f"create or replace temp table _good as select {keep}, _line from _parsed"
        " where _line not in (select _line from _bad where _line is not null)"
    )
    if contract.key:
        key = ", ".join(f'"{k}"' for k in contract.key)
        con.execute(
            "insert into _bad select _line, " + _q(contract.key[0]) + ", 'duplicate_key',"
            f" 'key ' || concat_ws(', ', {key}) || ' already on line ' || first_line from ("
            f" select _line, {key}, min(_line) over (partition by {key}) as first_line from _good)"
            " where _line <> first_line"
        )
    for ref in contract.references:
        con.execute(
            f"insert into _bad select g._line, {_q(ref.column)}, {_q(ref.rule)},"
            f" '{ref.column} ' || g.\"{ref.column}\" || ' not found in {ref.table}.csv'"
            f' from _good g anti join raw.{ref.table} p on g."{ref.column}" = p."{ref.table_column}"'
        )
    con.execute(
        f"create or replace table {target} as select * from _good"
        " where _line not in (select _line from _bad where _line is not null) order by _line"
    )
    con.execute(
        "insert into raw.quarantine select ?, _line, column_name, rule, detail, ? from _bad order by _line, rule",
        [contract.file_name, now_local],
    )
    rules = dict(con.execute("select rule, count(*) from _bad group by rule order by rule").fetchall())
    earliest_future = None
    if contract.future_column:
        earliest_future = scalar(
            con,
            f'select min("{contract.future_column}") from _parsed'
            " where _line in (select _line from _bad where rule = 'timestamp_in_future')",
        )
    report = FileReport(
        contract.table,
        present=True,
        rows_read=scalar(con, "select count(*) from _text") + len(rejects),
        rows_loaded=scalar(con, f"select count(*) from {target}"),
        quarantined_rows=scalar(con, "select count(distinct _line) from _bad"),
        rules=rules,
        earliest_future=earliest_future,
    )
    for name in ("_src", "_lines", "_text", "_parsed", "_good", "_bad"):
        con.execute(f"drop table if exists {name}")
    return report


def load_import_rejects(con: duckdb.DuckDBPyConnection, data_dir: Path, now_local: datetime) -> int:
    """Move an importer's rejected source lines (`import_rejects.csv`) into raw.quarantine.

    A converter from another format (e.g. `dangol import online-retail`) drops some source lines before
    they become contract rows; they must not vanish either. Their quarantine rows name the source file and
    line, and are replaced at every load like every other file's.
    """
    contract_files = tuple(contract.file_name for contract in CONTRACTS)
    con.execute(f"delete from raw.quarantine where file not in {contract_files}")
    path = data_dir / IMPORT_REJECTS_FILE
    if not path.exists():
        return 0
    con.execute(
        "insert into raw.quarantine select source_file, cast(source_line as bigint), nullif(column_name, ''),"
        " rule, detail, ? from read_csv(?, header = true, all_varchar = true)"
        " order by cast(source_line as bigint), rule",
        [now_local, str(path)],
    )
    return scalar(con, f"select count(*) from raw.quarantine where file not in {contract_files}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def _contract_print(contract: FileContract, timezone: str) -> str:
    return hashlib.sha256(f"{contract!r}|{timezone}".encode()).hexdigest()


def _unchanged(
    con: duckdb.DuckDBPyConnection, contract: FileContract, path: Path, timezone: str, now_local: datetime
) -> bool:
    """True when the last load of this file still stands (see the module docstring for what breaks it)."""
    known = con.execute(
        "select contract, size, mtime_ns, sha256, load_clock, recorded_ns, earliest_future from raw.loaded_files"
        " where file = ?",
        [str(path.resolve())],
    ).fetchone()
    if known is None or not path.exists():
        return False
    printed, size, mtime_ns, sha, clock, recorded_ns, earliest_future = known
    if printed != _contract_print(contract, timezone) or now_local < clock:
        return False
    # The future rule's limit (a day after the load): a row it quarantined that the clock now accepts.
    if earliest_future is not None and earliest_future <= now_local + timedelta(days=1):
        return False
    exists = scalar(
        con,
        "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = ?",
        [contract.table],
    )
    if not exists:
        return False
    stat = path.stat()
    if stat.st_size != size or stat.st_mtime_ns != mtime_ns:
        return False
    return stat.st_mtime_ns < recorded_ns - _RACY_NS or (bool(sha) and _sha256(path) == sha)


def _record_load(
    con: duckdb.DuckDBPyConnection,
    contract: FileContract,
    path: Path,
    stat: os.stat_result,
    timezone: str,
    now_local: datetime,
    report: FileReport,
) -> None:
    """Remember the file as it was before it was read (`stat`): a write during the load shows next time.

    Its content is hashed only when its time is too recent to be trusted (a file written just now)."""
    recorded_ns = time.time_ns()
    racy = stat.st_mtime_ns >= recorded_ns - _RACY_NS
    con.execute(
        "insert or replace into raw.loaded_files values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            str(path.resolve()),
            _contract_print(contract, timezone),
            stat.st_size,
            stat.st_mtime_ns,
            _sha256(path) if racy else "",
            report.rows_read,
            now_local,
            recorded_ns,
            report.earliest_future,
        ],
    )


def _standing_report(con: duckdb.DuckDBPyConnection, contract: FileContract, path: Path) -> FileReport:
    """The figures of a load that still stands, read back from the warehouse."""
    name = contract.file_name
    rules = dict(
        con.execute(
            "select rule, count(*) from raw.quarantine where file = ? group by rule order by rule", [name]
        ).fetchall()
    )
    return FileReport(
        contract.table,
        present=True,
        rows_read=scalar(con, "select rows_read from raw.loaded_files where file = ?", [str(path.resolve())]),
        rows_loaded=scalar(con, f"select count(*) from raw.{contract.table}"),
        quarantined_rows=scalar(con, "select count(distinct line) from raw.quarantine where file = ?", [name]),
        rules=rules,
        reloaded=False,
    )


def load_folder(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path,
    timezone: str,
    now_local: datetime,
    *,
    full_reload: bool = False,
    progress: Callable[[int, int, FileReport, float], None] | None = None,
) -> list[FileReport]:
    """Load every contract file in dependency order (customers before the files that reference them).

    Files unchanged since their last load keep it (see the module docstring); `full_reload` loads all.
    `progress(done, total, report, seconds)` hears of each file as it is done (a load at 1M customers
    takes minutes: the run's log says where it is)."""
    if not data_dir.is_dir():
        raise ContractError(f"data folder {data_dir} does not exist")
    con.execute("create schema if not exists raw")
    con.execute(QUARANTINE_DDL)
    con.execute(LOADED_FILES_DDL)
    # A warehouse whose record predates the column (every load then reads every file once).
    con.execute("alter table raw.loaded_files add column if not exists earliest_future timestamp")
    reports: list[FileReport] = []
    reloaded: set[str] = set()
    for contract in CONTRACTS:
        started = time.monotonic()
        path = data_dir / contract.file_name
        parents_stand = not any(ref.table in reloaded for ref in contract.references)
        if not full_reload and parents_stand and _unchanged(con, contract, path, timezone, now_local):
            reports.append(_standing_report(con, contract, path))
        else:
            reports.append(_load_and_record(con, contract, path, data_dir, timezone, now_local))
            reloaded.add(contract.table)
        if progress is not None:
            progress(len(reports), len(CONTRACTS), reports[-1], time.monotonic() - started)
    imported = load_import_rejects(con, data_dir, now_local)
    if imported:
        log.warning("%s: %d rejected source line rule(s) moved to raw.quarantine", IMPORT_REJECTS_FILE, imported)
    return reports


def _load_and_record(
    con: duckdb.DuckDBPyConnection,
    contract: FileContract,
    path: Path,
    data_dir: Path,
    timezone: str,
    now_local: datetime,
) -> FileReport:
    """Load the file and remember how it was (its state before the read), or forget it when it is missing."""
    stat = path.stat() if path.exists() else None
    report = load_file(con, contract, data_dir, timezone, now_local)
    con.execute("delete from raw.loaded_files where file = ?", [str(path.resolve())])
    if report.present and stat is not None:
        _record_load(con, contract, path, stat, timezone, now_local, report)
    return report
