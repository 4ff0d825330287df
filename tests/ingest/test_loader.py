"""Each contract rule, table-driven: the bad row lands in raw.quarantine naming file, line, column and rule,
and every good row still loads."""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from orchestration.ingest.loader import ContractError, load_folder

NOW = datetime(2026, 11, 23, 12, 0)
CUSTOMERS = "customer_id,name,email,phone,signed_up_at\n"
GOOD_CUSTOMER = "c1,김민지,minji@naver.com,010-1234-5678,2025-01-01 10:00\n"
ORDERS = "order_id,customer_id,ordered_at,amount,status\n"


def _load(tmp_path: Path, files: dict[str, str]) -> duckdb.DuckDBPyConnection:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    files = {"customers.csv": CUSTOMERS + GOOD_CUSTOMER, "orders.csv": ORDERS} | files
    for name, text in files.items():
        (data / name).write_text(text, encoding="utf-8")
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("set TimeZone = 'Asia/Seoul'")
    load_folder(con, data, "Asia/Seoul", NOW)
    return con


@pytest.mark.parametrize(
    ("file", "text", "line", "column", "rule"),
    [
        (
            "customers.csv",
            CUSTOMERS + GOOD_CUSTOMER + "c2,이서준,seojun@daum.net,02-123-4567,2025-01-01\n",
            3,
            "phone",
            "invalid_phone",
        ),
        (
            "customers.csv",
            CUSTOMERS + GOOD_CUSTOMER + "c2,이서준,not-an-email,,2025-01-01\n",
            3,
            "email",
            "invalid_email",
        ),
        (
            "customers.csv",
            CUSTOMERS + GOOD_CUSTOMER + "c1,김민지,other@naver.com,,2025-02-01\n",
            3,
            "customer_id",
            "duplicate_key",
        ),
        ("customers.csv", CUSTOMERS + GOOD_CUSTOMER + ",박지우,,,2025-01-01\n", 3, "customer_id", "missing_required"),
        (
            "customers.csv",
            CUSTOMERS + GOOD_CUSTOMER + "c3,최유진,,,2031-01-01 00:00\n",
            3,
            "signed_up_at",
            "timestamp_in_future",
        ),
        ("orders.csv", ORDERS + "o1,c1,2025-03-01 10:00,-1000,paid\n", 2, "amount", "negative_amount"),
        ("orders.csv", ORDERS + "o1,c9,2025-03-01 10:00,1000,paid\n", 2, "customer_id", "unknown_customer"),
        ("orders.csv", ORDERS + "o1,c1,yesterday,1000,paid\n", 2, "ordered_at", "invalid_timestamp"),
        ("orders.csv", ORDERS + "o1,c1,2025-03-01 10:00,1000,shipped\n", 2, "status", "not_allowed_value"),
        ("orders.csv", ORDERS + "o1,c1,2025-03-01 10:00,1000,paid,extra\n", 2, None, "malformed_csv"),
    ],
)
def test_a_bad_row_is_quarantined_with_its_line_and_rule(
    tmp_path: Path, file: str, text: str, line: int, column: str | None, rule: str
) -> None:
    con = _load(tmp_path, {file: text})
    rows = con.execute("select file, line, column_name, rule from raw.quarantine").fetchall()
    assert (file, line, column, rule) in rows
    # the good customer always loads
    assert con.execute("select customer_id from raw.customers").fetchall() == [("c1",)]


def test_line_numbers_stay_right_after_a_malformed_record(tmp_path: Path) -> None:
    orders = ORDERS + "".join(
        ["o1,c1,2025-03-01,1,paid\n", "o2,c1,2025-03-01,1,paid,x\n", "o3,c1,2025-03-01,1,paid\n", "o4,c1,,1,paid\n"]
    )
    con = _load(tmp_path, {"orders.csv": orders})
    assert con.execute("select line, rule from raw.quarantine order by line").fetchall() == [
        (3, "malformed_csv"),
        (5, "missing_required"),
    ]
    loaded = con.execute("select order_id, _line from raw.orders order by _line").fetchall()
    assert loaded == [("o1", 2), ("o3", 4)]


def test_offsets_are_converted_to_shop_time_and_phones_normalised(tmp_path: Path) -> None:
    customers = CUSTOMERS + "c1,김민지,MinJi@Naver.com,+82 10-1234-5678,2025-01-01T01:00:00Z\n"
    con = _load(tmp_path, {"customers.csv": customers})
    assert con.execute("select email, phone, signed_up_at from raw.customers").fetchone() == (
        "minji@naver.com",
        "01012345678",
        datetime(2025, 1, 1, 10, 0),
    )


def test_personal_data_is_masked_in_quarantine_details(tmp_path: Path) -> None:
    customers = CUSTOMERS + GOOD_CUSTOMER + "c2,이서준,seojun.lee@@daum.net,010-99-1234,2025-01-01\n"
    con = _load(tmp_path, {"customers.csv": customers})
    details = " ".join(r[0] for r in con.execute("select detail from raw.quarantine").fetchall())
    assert "seojun.lee" not in details and "010-99-1234" not in details
    assert details


def test_missing_optional_file_is_an_empty_table_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        con = _load(tmp_path, {})
    assert con.execute("select count(*) from raw.events").fetchone() == (0,)
    assert "events.csv not found" in caplog.text


def test_missing_required_column_names_the_file_and_column(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match=r"orders.csv lacks required column\(s\) amount"):
        _load(tmp_path, {"orders.csv": "order_id,customer_id,ordered_at\no1,c1,2025-01-01\n"})


def test_reloading_replaces_rather_than_appends(tmp_path: Path) -> None:
    _load(tmp_path, {"orders.csv": ORDERS + "o1,c1,2025-03-01,-5,paid\n"}).close()
    con = _load(tmp_path, {"orders.csv": ORDERS + "o1,c1,2025-03-01,-5,paid\n"})
    assert con.execute("select count(*) from raw.quarantine").fetchone() == (1,)


@pytest.mark.parametrize(
    ("phone", "loads"),
    [
        ("010-1234-5678", True),
        ("+82 10-1234-5678", True),
        ("011-123-4567", True),  # legacy prefixes keep 7 or 8 subscriber digits
        ("016-1234-5678", True),
        ("010-123-4567", False),  # 010 always has 8
        ("010-1234-56789", False),
        ("+82 10-123-4567", False),
        ("011-12-3456", False),
    ],
)
def test_a_mobile_number_has_the_right_length(tmp_path: Path, phone: str, loads: bool) -> None:
    con = _load(tmp_path, {"customers.csv": CUSTOMERS + f"c1,김민지,,{phone},2025-01-01\n"})
    assert bool(con.execute("select count(*) from raw.customers").fetchone()[0]) is loads
    quarantined = con.execute("select line, column_name, rule, detail from raw.quarantine").fetchall()
    if loads:
        assert quarantined == []
    else:
        [(line, column, rule, detail)] = quarantined
        assert (line, column, rule) == (2, "phone", "invalid_phone")
        assert "010 and 8 digits" in detail and phone not in detail


# -- a file that did not change is not read again --------------------------------------------------------


def _write(path: Path, text: str, mtime: float | None = None) -> None:
    path.write_text(text, encoding="utf-8")
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def _reloaded(con: duckdb.DuckDBPyConnection, data: Path, **kwargs: object) -> dict[str, bool]:
    return {r.table: r.reloaded for r in load_folder(con, data, "Asia/Seoul", NOW, **kwargs) if r.present}


def _customer_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("select name from raw.customers order by customer_id").fetchall()]


def test_an_unchanged_file_keeps_its_load_and_a_touched_one_is_read_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    hour_ago = time.time() - 3600
    _write(data / "customers.csv", CUSTOMERS + GOOD_CUSTOMER, hour_ago)
    _write(data / "orders.csv", ORDERS + "o1,c1,2025-02-01 10:00,1000,paid\n", hour_ago)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    assert _reloaded(con, data) == {"customers": True, "orders": True}

    # Same size and time, other bytes: only a read could tell, and an unchanged file is not read.
    _write(data / "customers.csv", (CUSTOMERS + GOOD_CUSTOMER).replace("김민지", "박민지"), hour_ago)
    assert _reloaded(con, data) == {"customers": False, "orders": False}
    assert _customer_names(con) == ["김민지"]
    assert con.execute("select count(*) from raw.orders").fetchone() == (1,)

    os.utime(data / "customers.csv")  # a new modification time: read again, and the files that reference it
    assert _reloaded(con, data) == {"customers": True, "orders": True}
    assert _customer_names(con) == ["박민지"]
    assert _reloaded(con, data, full_reload=True) == {"customers": True, "orders": True}


def test_a_file_written_just_now_is_compared_by_content(tmp_path: Path) -> None:
    """A write within the file system's time resolution can leave size and time as they were."""
    data = tmp_path / "data"
    data.mkdir()
    _write(data / "customers.csv", CUSTOMERS + GOOD_CUSTOMER)
    _write(data / "orders.csv", ORDERS)
    stamp = (data / "customers.csv").stat().st_mtime_ns
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    _reloaded(con, data)
    (data / "customers.csv").write_text((CUSTOMERS + GOOD_CUSTOMER).replace("김민지", "박민지"), encoding="utf-8")
    os.utime(data / "customers.csv", ns=(stamp, stamp))
    assert _reloaded(con, data)["customers"] is True
    assert _customer_names(con) == ["박민지"]
    assert _reloaded(con, data)["customers"] is False  # same content now


def test_rows_quarantined_for_lying_in_the_future_are_judged_again_once_the_clock_reaches_them(
    tmp_path: Path,
) -> None:
    """The future rule depends on the clock: the file is read again once a later clock would accept a row."""
    data = tmp_path / "data"
    data.mkdir()
    hour_ago = time.time() - 3600
    _write(data / "customers.csv", CUSTOMERS + GOOD_CUSTOMER + "c3,최유진,,,2026-11-26 00:00\n", hour_ago)
    _write(data / "orders.csv", ORDERS, hour_ago)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))

    def load(at: datetime) -> bool:
        return {r.table: r.reloaded for r in load_folder(con, data, "Asia/Seoul", at)}["customers"]

    assert load(NOW) is True  # 2026-11-23 12:00: c3 signed up "after the load time"
    assert load(NOW + timedelta(days=1)) is False  # 11-24 12:00: still more than a day ahead
    quarantined = con.execute("select rule from raw.quarantine where file = 'customers.csv'").fetchall()
    assert quarantined == [("timestamp_in_future",)]
    assert load(NOW + timedelta(days=2)) is True  # 11-25 12:00: within the rule's day, c3 now loads
    assert con.execute("select count(*) from raw.customers").fetchone() == (2,)
    assert con.execute("select count(*) from raw.quarantine where file = 'customers.csv'").fetchone() == (0,)


def test_each_file_reports_its_progress_as_it_is_done(tmp_path: Path) -> None:
    from orchestration.ingest.contract import CONTRACTS

    data = tmp_path / "data"
    data.mkdir()
    hour_ago = time.time() - 3600
    _write(data / "customers.csv", CUSTOMERS + GOOD_CUSTOMER, hour_ago)
    _write(data / "orders.csv", ORDERS, hour_ago)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    load_folder(con, data, "Asia/Seoul", NOW)
    heard: list[tuple[int, int, str, bool]] = []
    load_folder(con, data, "Asia/Seoul", NOW, progress=lambda d, t, r, s: heard.append((d, t, r.table, r.reloaded)))
    total = len(CONTRACTS)
    assert [(d, t, table) for d, t, table, _ in heard] == [(i + 1, total, c.table) for i, c in enumerate(CONTRACTS)]
    assert {table: again for _, _, table, again in heard}["customers"] is False  # unchanged: kept
