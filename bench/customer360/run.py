"""The customer 360 and segments for one day at scale: the dbt project next to one hand-written DuckDB query.

    python -m bench.customer360 [--customers 1000000] [--orders-per-customer 10] [--repeat 3]

1. Synthesises a shop straight into the raw tables (default 1M customers, ~10M orders, ~20M order lines,
   10M events, consents, push tokens, chats, surveys; 3 years ending on the as-of day, plus a month of
   orders after it that the day must not see). Cached in bench/results/customer360/ between runs.
2. Alternates, `--repeat` times: `dbt run` of every model the 360 and the segments need (one day), and
   handwritten.sql (one statement). Each runs in a fresh child process under /usr/bin/time, so wall time
   and peak memory (max RSS) are measured the same way; both get the same DuckDB threads and memory limit.
3. Checks that both produced identical rows (every dim_customers column), fits BG/NBD on the day once,
   and writes bench/results/customer360-<time>.json. The figures reported are medians.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RESULTS = ROOT / "bench" / "results"
AS_OF = date(2025, 6, 15)
DAYS = 1096  # three years of history ending on AS_OF
DBT = str(Path(sys.executable).with_name("dbt"))


@dataclass(frozen=True)
class Measure:
    wall_s: float
    max_rss_mb: float


def _synthesise(path: Path, customers: int, orders_per_customer: float) -> dict[str, int]:
    """Raw tables with the loader's column types (an empty contract load makes them), filled by SQL."""
    from orchestration.ingest.loader import load_folder

    empty = path.parent / "empty_shop"
    empty.mkdir(parents=True, exist_ok=True)
    (empty / "customers.csv").write_text("customer_id\n")
    (empty / "orders.csv").write_text("order_id,customer_id,ordered_at,amount\n")
    start = f"date '{AS_OF}' - {DAYS - 1}"
    p_more = 1.0 - 1.0 / (orders_per_customer / 0.88)  # geometric orders per buyer; 12% never buy
    with duckdb.connect(str(path)) as con:
        con.execute("set TimeZone = 'Asia/Seoul'")
        load_folder(con, empty, "Asia/Seoul", datetime(2026, 1, 1))

        def u(*salt: object) -> str:
            """A deterministic uniform [0, 1) from a hash of the row's identity."""
            return f"((hash({', '.join(str(s) for s in salt)}) % 1000000) / 1000000.0)"

        con.execute("""
            insert into raw.products
            select 'P' || lpad(i::varchar, 4, '0'), 'product ' || i,
                   ['skincare', 'makeup', 'haircare', 'supplements', 'bodycare', 'fragrance', 'tea', 'snacks',
                    'pet', 'baby'][1 + i % 10],
                   cast(9900 + (i * 7919) % 90000 as decimal(18, 2)),
                   case when i % 5 < 3 then 20 + (i * 13) % 60 end, i + 2
            from range(200) t(i)""")
        con.execute(f"""
            insert into raw.customers
            select 'C' || lpad(i::varchar, 8, '0'), 'customer ' || i,
                   case when {u("i", 1)} < 0.9 then 'c' || i || '@example.com' end,
                   case when {u("i", 2)} < 0.8 then '010' || lpad((i % 100000000)::varchar, 8, '0') end,
                   cast({start} + cast({u("i", 3)} * {DAYS - 30} as integer) as timestamp)
                       + to_seconds(cast(floor({u("i", 4)} * 86400) as bigint)),
                   case when {u("i", 5)} < 0.7
                        then ['naver', 'instagram', 'kakao', 'google', 'direct'][1 + i % 5] end,
                   case when {u("i", 5)} < 0.7 then ['cpc', 'social', 'organic', 'referral'][1 + i % 4] end,
                   null,
                   case when i > 10 and {u("i", 6)} < 0.05
                        then 'C' || lpad((cast(floor({u("i", 7)} * i) as bigint))::varchar, 8, '0') end,
                   i + 2
            from range({customers}) t(i)""")
        con.execute(f"""
            create temp table buyer_orders as
            select customer_id, signed_up_at,
                   case when {u("customer_id", 8)} < 0.88
                        then 1 + cast(floor(ln(1 - {u("customer_id", 9)}) / ln({p_more})) as bigint) else 0 end
                       as n_orders
            from raw.customers""")
        con.execute(f"""
            insert into raw.orders
            select 'O' || customer_id || '-' || k, customer_id,
                   signed_up_at + to_seconds(cast({u("customer_id", "k", 10)}
                       * (epoch(cast(date '{AS_OF}' + 30 as timestamp)) - epoch(signed_up_at)) as bigint)),
                   cast(1000 * (5 + floor({u("customer_id", "k", 11)} * 150)) as decimal(18, 2)),
                   case when {u("customer_id", "k", 12)} < 0.97 then 'paid'
                        when {u("customer_id", "k", 12)} < 0.99 then 'cancelled' else 'refunded' end,
                   0
            from buyer_orders, range(n_orders) t(k)""")
        con.execute(f"""
            insert into raw.order_items
            select order_id, l + 1,
                   'P' || lpad((cast(floor({u("order_id", "l", 13)} * 200) as integer))::varchar, 4, '0'),
                   1 + cast(floor({u("order_id", "l", 14)} * 2) as integer),
                   cast(round(9900 + {u("order_id", "l", 15)} * 60000, -2) as decimal(18, 2)), 0
            from raw.orders, range(1 + cast(floor({u("order_id", 16)} * 2.99) as integer)) t(l)""")
        anonymous = max(customers // 2, 1)
        con.execute(f"""
            insert into raw.identities
            select 'a' || j, 'C' || lpad((j * 2)::varchar, 8, '0'),
                   cast({start} + cast(floor({u("j", 17)} * {DAYS}) as integer) as timestamp), j + 2
            from range({anonymous}) t(j) where {u("j", 18)} < 0.5""")
        con.execute(f"""
            insert into raw.events
            select 'E' || e,
                   cast({start} + cast({u("e", 19)} * ({DAYS} + 30) as integer) as timestamp)
                       + to_seconds(cast(floor({u("e", 20)} * 86400) as bigint)),
                   ['page_view', 'page_view', 'product_view', 'product_view', 'add_to_cart', 'checkout_start',
                    'sign_up', 'message_click'][1 + cast(floor({u("e", 21)} * 8) as integer)],
                   case when {u("e", 22)} < 0.3 then 'a' || cast(floor({u("e", 23)} * {anonymous}) as bigint) end,
                   case when {u("e", 22)} >= 0.3
                        then 'C' || lpad((cast(floor({u("e", 24)} * {customers}) as bigint))::varchar, 8, '0') end,
                   'P' || lpad((cast(floor({u("e", 25)} * 200) as integer))::varchar, 4, '0'),
                   case when {u("e", 26)} < 0.2 then ['naver', 'instagram', 'kakao'][1 + e % 3] end,
                   case when {u("e", 26)} < 0.2 then 'cpc' end,
                   case when {u("e", 26)} < 0.2 then 'summer' end,
                   e + 2
            from range({customers * 10}) t(e)""")
        con.execute(f"""
            insert into raw.consents
            select customer_id, channel, purpose, granted, recorded_at, 'signup_form', 0
            from (
                select customer_id, unnest(['email', 'sms', 'kakao', 'app_push']) as channel,
                       unnest(['ad', 'ad', 'info', 'night_ad']) as purpose,
                       {u("customer_id", 27)} < 0.7 as granted, signed_up_at as recorded_at
                from raw.customers
                union all
                select customer_id, 'email', 'ad', false,
                       signed_up_at + to_seconds(cast(floor({u("customer_id", 28)} * 86400 * 300) as bigint))
                from raw.customers where {u("customer_id", 29)} < 0.2
            )""")
        con.execute(f"""
            insert into raw.push_tokens
            select customer_id, 'tok-' || customer_id,
                   case when {u("customer_id", 30)} < 0.5 then 'ios' else 'android' end, signed_up_at,
                   case when {u("customer_id", 31)} < 0.1 then signed_up_at + interval 100 day end, 0
            from raw.customers where {u("customer_id", 32)} < 0.3""")
        con.execute(f"""
            insert into raw.web_push_subscriptions
            select customer_id, 'https://push.example/' || customer_id, 'p256', 'auth', signed_up_at, null, 0
            from raw.customers where {u("customer_id", 33)} < 0.1""")
        con.execute(f"""
            insert into raw.cs_chats
            select 'K' || customer_id, customer_id,
                   signed_up_at + to_seconds(cast(floor({u("customer_id", 34)} * 86400 * 400) as bigint)),
                   ['delivery', 'product', 'refund', 'payment', 'other']
                       [1 + cast(floor({u("customer_id", 35)} * 5) as integer)],
                   {u("customer_id", 36)} < 0.8, 0
            from raw.customers where {u("customer_id", 37)} < 0.2""")
        con.execute(f"""
            insert into raw.surveys
            select 'S' || customer_id, customer_id,
                   signed_up_at + to_seconds(cast(floor({u("customer_id", 38)} * 86400 * 400) as bigint)),
                   1 + cast(floor({u("customer_id", 39)} * 5) as integer), null, 0
            from raw.customers where {u("customer_id", 40)} < 0.3""")
        con.execute("checkpoint")
        tables = [
            "customers",
            "orders",
            "order_items",
            "products",
            "events",
            "identities",
            "consents",
            "push_tokens",
            "web_push_subscriptions",
            "cs_chats",
            "surveys",
        ]
        return {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in tables}


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[Measure, str]:
    """Run a child under /usr/bin/time -v: wall clock and its peak resident memory."""
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    return Measure(round(wall, 2), round(rss_kb / 1024, 1)), result.stdout


def _profiles(folder: Path, warehouse: Path, threads: int, memory_limit: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yml").write_text(
        "dangol:\n  target: bench\n  outputs:\n    bench:\n      type: duckdb\n"
        f"      path: '{warehouse}'\n      threads: {threads}\n"
        f"      settings: {{TimeZone: Asia/Seoul, memory_limit: '{memory_limit}', threads: {threads}}}\n"
    )
    return folder


def run_handwritten(warehouse: str, threads: int, memory_limit: str) -> None:
    """Child-process entry point: the one hand-written statement."""
    sql = (HERE / "handwritten.sql").read_text().replace("$as_of", AS_OF.isoformat())
    with duckdb.connect(warehouse) as con:
        con.execute(f"set threads = {threads}; set memory_limit = '{memory_limit}'; set TimeZone = 'Asia/Seoul'")
        con.execute("create schema if not exists bench")
        con.execute(sql)


def _differences(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = [r[0] for r in con.execute("describe marts.dim_customers").fetchall()]
        listed = ", ".join(columns)
        dbt_only = con.execute(
            f"select count(*) from (select {listed} from marts.dim_customers"
            f" except all select {listed} from bench.dim_customers_handwritten)"
        ).fetchone()[0]
        handwritten_only = con.execute(
            f"select count(*) from (select {listed} from bench.dim_customers_handwritten"
            f" except all select {listed} from marts.dim_customers)"
        ).fetchone()[0]
        rows = con.execute("select count(*) from marts.dim_customers").fetchone()[0]
        segment_rows = con.execute(
            "select count(*) from marts.fct_customer_segments_daily where as_of_date = ?", [AS_OF]
        ).fetchone()[0]
    return {
        "rows": rows,
        "segment_rows": segment_rows,
        "only_in_dbt": dbt_only,
        "only_in_handwritten": handwritten_only,
    }


def _fit_bgnbd(warehouse: Path) -> dict[str, float]:
    from orchestration.models.config import bgnbd_config
    from orchestration.models.predictions import fit_day, read_summary

    with duckdb.connect(str(warehouse), read_only=True) as con:
        started = time.perf_counter()
        summary = read_summary(con, AS_OF)
        result = fit_day(summary, AS_OF, bgnbd_config())
        seconds = time.perf_counter() - started
    params = asdict(result.fit.params) if result.fit else {}
    return {"seconds": round(seconds, 2), "buyers": len(summary), **params}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders-per-customer", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="8GB")
    parser.add_argument("--fresh", action="store_true", help="re-synthesise the shop even if cached")
    parser.add_argument("--handwritten-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.handwritten_child:
        run_handwritten(args.handwritten_child, args.threads, args.memory_limit)
        return 0

    work = RESULTS / "customer360"
    work.mkdir(parents=True, exist_ok=True)
    base = work / f"shop-{args.customers}-{args.orders_per_customer:g}.duckdb"
    if args.fresh or not base.exists():
        base.unlink(missing_ok=True)
        print(f"synthesising {args.customers:,} customers into {base} ...", flush=True)
        started = time.perf_counter()
        sizes = _synthesise(base, args.customers, args.orders_per_customer)
        print(f"  done in {time.perf_counter() - started:.0f} s: {sizes}", flush=True)
    with duckdb.connect(str(base), read_only=True) as con:
        sizes = {
            t: con.execute(f"select count(*) from raw.{t}").fetchone()[0]
            for t in ("customers", "orders", "order_items", "events", "consents")
        }
    warehouse = work / "warehouse.duckdb"
    shutil.copy(base, warehouse)
    profiles = _profiles(work / "profiles", warehouse, args.threads, args.memory_limit)
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    dbt_command = [
        DBT,
        "run",
        "--project-dir",
        str(ROOT / "dbt_project"),
        "--profiles-dir",
        str(profiles),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
        "--select",
        "+dim_customers",
        "+fct_segment_sizes_daily",
        "--vars",
        json.dumps({"start_date": AS_OF.isoformat(), "end_date": AS_OF.isoformat()}),
    ]
    hand_command = [
        sys.executable,
        "-m",
        "bench.customer360",
        "--handwritten-child",
        str(warehouse),
        "--threads",
        str(args.threads),
        "--memory-limit",
        args.memory_limit,
    ]
    dbt_runs: list[Measure] = []
    dbt_model_seconds: list[float] = []
    hand_runs: list[Measure] = []
    for i in range(args.repeat):
        measure, _ = _timed(dbt_command, env)
        run_results = json.loads((work / "target" / "run_results.json").read_text())
        dbt_model_seconds.append(round(sum(r["execution_time"] for r in run_results["results"]), 2))
        dbt_runs.append(measure)
        hand, _ = _timed(hand_command, {**env, "PYTHONPATH": str(ROOT)})
        hand_runs.append(hand)
        print(
            f"run {i + 1}: dbt {measure.wall_s:.1f} s ({dbt_model_seconds[-1]:.1f} s in models,"
            f" {measure.max_rss_mb:.0f} MB)  hand-written {hand.wall_s:.1f} s ({hand.max_rss_mb:.0f} MB)",
            flush=True,
        )
    check = _differences(warehouse)
    bgnbd = _fit_bgnbd(warehouse)
    dbt_wall = statistics.median(m.wall_s for m in dbt_runs)
    dbt_models = statistics.median(dbt_model_seconds)
    hand_wall = statistics.median(m.wall_s for m in hand_runs)
    report = {
        "as_of": AS_OF.isoformat(),
        "sizes": sizes,
        "threads": args.threads,
        "memory_limit": args.memory_limit,
        "dbt_wall_s_median": dbt_wall,
        "dbt_model_time_s_median": dbt_models,
        "dbt_max_rss_mb": max(m.max_rss_mb for m in dbt_runs),
        "handwritten_wall_s_median": hand_wall,
        "handwritten_max_rss_mb": max(m.max_rss_mb for m in hand_runs),
        "ratio_dbt_wall_to_handwritten": round(dbt_wall / hand_wall, 2),
        "ratio_dbt_models_to_handwritten": round(dbt_models / hand_wall, 2),
        "identical_rows": check["only_in_dbt"] == 0 and check["only_in_handwritten"] == 0,
        "check": check,
        "bgnbd_fit": bgnbd,
        "runs": {
            "dbt": [asdict(m) for m in dbt_runs],
            "dbt_model_s": dbt_model_seconds,
            "handwritten": [asdict(m) for m in hand_runs],
        },
    }
    out = RESULTS / f"customer360-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}, indent=2))
    print(f"written to {out}")
    return 0 if report["identical_rows"] else 1
