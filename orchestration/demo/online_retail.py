"""Convert the UCI Online Retail log (a real UK gift shop, 2010-12 .. 2011-12) into dangol's input contract.

The cleaning rule is the common one for this data set (see ../shared/data/online_retail/README.md): a line
counts when it has a customer, is not part of a cancellation (invoice_no starting with C), and has
quantity > 0 and unit_price > 0. Nothing vanishes silently: every rejected line is written to
`import_rejects.csv` with the rule(s) it broke, and the loader moves those rows into raw.quarantine
(file = this source file, line = its line number, header = line 1).

Mapping: customers = distinct customer ids (no names, e-mails or phones; country kept as an extra column,
which the contract ignores); orders = invoices (amount = sum of quantity x unit_price of the kept lines,
ordered_at = the invoice's first timestamp: 30 invoices carry two); order_items = kept lines, numbered in
file order; products = stock codes (category unknown, no list price or replenishment cycle). Several
invoices of a customer on one day stay separate orders: the purchase-day merge is dbt's job
(int_customer_purchase_days), as for any shop.

Time: the file's timestamps are UK local time (GMT in winter, BST in summer) without an offset. They are
written as they are, so the contract reads them as shop-local time: run this shop with
DANGOL_TIMEZONE=Europe/London (and DANGOL_CURRENCY=GBP). Calendar days, and so purchase days, are the UK
days whatever the setting; only the absolute instants would shift under another zone.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.lib.warehouse import duckdb_config, scalar
from orchestration.settings import PROJECT_ROOT

DEFAULT_SOURCE = PROJECT_ROOT.parent / "shared" / "data" / "online_retail" / "lines.csv.gz"
SOURCE_COLUMNS = ("invoice_no", "stock_code", "quantity", "invoice_ts", "unit_price", "customer_id", "country")
REJECTS_FILE = "import_rejects.csv"

# (rule, column, SQL predicate over the typed line, detail): one quarantine row per rule a line breaks.
RULES: tuple[tuple[str, str, str, str], ...] = (
    ("guest_checkout", "customer_id", "customer_id is null", "'line without a customer (guest checkout)'"),
    ("cancellation", "invoice_no", "invoice_no like 'C%'", "'invoice ' || invoice_no || ' is a cancellation'"),
    (
        "non_positive_quantity",
        "quantity",
        "quantity is null or quantity <= 0",
        "'quantity ' || coalesce(quantity_raw, 'empty') || ' is not > 0'",
    ),
    (
        "non_positive_price",
        "unit_price",
        "unit_price is null or unit_price <= 0",
        "'unit_price ' || coalesce(unit_price_raw, 'empty') || ' is not > 0'",
    ),
)


@dataclass(frozen=True)
class ImportSummary:
    out_dir: Path
    lines_read: int
    lines_kept: int
    lines_rejected: int
    rejects_by_rule: dict[str, int]
    customers: int
    orders: int
    products: int


def _read_lines(source: Path) -> pd.DataFrame:
    """The source as text with its line numbers (header = line 1), so rejects point at the real line."""
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        missing = [c for c in SOURCE_COLUMNS if c not in header]
        if missing:
            raise ValueError(f"{source} lacks column(s) {', '.join(missing)}")
        index = [header.index(c) for c in SOURCE_COLUMNS]
        rows = [[row[i] if i < len(row) else "" for i in index] for row in reader]
    frame = pd.DataFrame(rows, columns=list(SOURCE_COLUMNS), dtype="string")
    frame.insert(0, "source_line", range(2, len(frame) + 2))
    return frame


def convert(source: Path, out_dir: Path) -> ImportSummary:
    """Write customers, orders, order_items, products and import_rejects CSVs for `source` into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = _read_lines(source)
    con = duckdb.connect(config=duckdb_config())
    try:
        con.register("source_lines", lines)
        con.execute(
            """
            create table typed as
            select
                source_line,
                nullif(trim(invoice_no), '') as invoice_no,
                nullif(trim(stock_code), '') as stock_code,
                nullif(trim(quantity), '') as quantity_raw,
                try_cast(nullif(trim(quantity), '') as bigint) as quantity,
                try_cast(nullif(trim(invoice_ts), '') as timestamp) as invoice_ts,
                nullif(trim(unit_price), '') as unit_price_raw,
                try_cast(nullif(trim(unit_price), '') as decimal(18, 3)) as unit_price,
                nullif(trim(customer_id), '') as customer_id,
                nullif(trim(country), '') as country
            from source_lines
            """
        )
        rule_selects = " union all ".join(
            f"select source_line, '{rule}' as rule, '{column}' as column_name, {detail} as detail"
            f" from typed where {predicate}"
            for rule, column, predicate, detail in RULES
        )
        con.execute(
            f"""
            create table rejects as
            select * from ({rule_selects})
            union all
            select source_line, 'invalid_line', 'invoice_ts', 'invoice_ts or invoice_no is missing or invalid'
            from typed where invoice_ts is null or invoice_no is null or stock_code is null
            """
        )
        con.execute(
            "create table kept as select * from typed where source_line not in (select source_line from rejects)"
        )
        source_name = f"{source.parent.name}/{source.name}"
        con.execute(
            f"""
            copy (
                select '{source_name}' as source_file, source_line, column_name, rule, detail
                from rejects order by source_line, rule
            ) to '{out_dir / REJECTS_FILE}' (header, delimiter ',')
            """
        )
        con.execute(
            f"""
            copy (
                select customer_id, any_value(country order by source_line) as country
                from typed where customer_id is not null
                group by customer_id order by customer_id
            ) to '{out_dir / "customers.csv"}' (header, delimiter ',')
            """
        )
        con.execute(
            f"""
            copy (
                select
                    invoice_no as order_id,
                    min(customer_id) as customer_id,
                    strftime(min(invoice_ts), '%Y-%m-%d %H:%M:%S') as ordered_at,
                    cast(round(sum(quantity * unit_price), 2) as decimal(18, 2)) as amount,
                    'paid' as status
                from kept
                group by invoice_no
                order by min(source_line)
            ) to '{out_dir / "orders.csv"}' (header, delimiter ',')
            """
        )
        con.execute(
            f"""
            copy (
                select
                    invoice_no as order_id,
                    row_number() over (partition by invoice_no order by source_line) as line_no,
                    stock_code as product_id,
                    quantity,
                    cast(unit_price as double) as unit_price
                from kept
                order by source_line
            ) to '{out_dir / "order_items.csv"}' (header, delimiter ',')
            """
        )
        con.execute(
            f"""
            copy (
                select distinct stock_code as product_id, 'unknown' as category
                from kept order by product_id
            ) to '{out_dir / "products.csv"}' (header, delimiter ',')
            """
        )

        def count(sql: str) -> int:
            return int(scalar(con, sql))

        return ImportSummary(
            out_dir=out_dir,
            lines_read=len(lines),
            lines_kept=count("select count(*) from kept"),
            lines_rejected=count("select count(distinct source_line) from rejects"),
            rejects_by_rule=dict(con.execute("select rule, count(*) from rejects group by 1 order by 1").fetchall()),
            customers=count("select count(distinct customer_id) from typed where customer_id is not null"),
            orders=count("select count(distinct invoice_no) from kept"),
            products=count("select count(distinct stock_code) from kept"),
        )
    finally:
        con.close()
