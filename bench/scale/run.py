"""One machine: what a nightly run costs and what each change saved.

    python -m bench.scale [--customers 20000] [--repeat 3] [--skip small_run]

Measures, each a median of `--repeat` runs, on a shop `dangol generate` makes (its volume controls: the
benchmark shape is 10 orders and 30 events per customer):

- policy      the send policy (`plan`) on a generated day of N customers (bench/scale/policy_world.py)
- ingest      the contract load of the shop's folder: first load, then the next night with nothing
              changed, then with events.csv touched (only it is read again)
- small_run   the fixed cost of a whole nightly run (`dangol run`) on a 200-customer shop, in a child
              process under /usr/bin/time: wall time and peak memory

Writes bench/results/scale-<time>.json, bench/results/scale.md (a table) and bench/results/scale.svg (a
chart). Performance lives here, never in the tests.
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
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
WORK = RESULTS / "scale"
DAY = date(2025, 6, 15)
BIN = Path(sys.executable).parent
# The benchmark shape: about 10 orders and 30 events per customer over a year.
SHAPE = {"order_volume": 7.0, "browse_volume": 0.5, "funnel_share": 0.35}


def _median(run: Callable[[], float], repeat: int) -> float:
    return statistics.median(run() for _ in range(repeat))


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_policy(customers: int, repeat: int) -> list[dict[str, object]]:
    from bench.scale.policy_world import world
    from orchestration.campaigns.config import load_policy
    from orchestration.campaigns.policy import plan

    rows = []
    for n in sorted({max(customers // 10, 500), customers}):
        send_list, inputs, specs = world(n)
        config = load_policy()

        def once() -> float:
            started = time.perf_counter()
            plan(send_list, inputs, specs, config)  # noqa: B023 - called within this iteration
            return time.perf_counter() - started

        rows.append(
            {"what": f"policy, {n:,} customers ({len(send_list):,} send-list rows)", "s": _median(once, repeat)}
        )
    return rows


def _shop(customers: int, name: str, shape: dict[str, float]) -> Path:
    from orchestration.demo.shop import ShopSpec, generate_shop

    out = WORK / name
    if not (out / "customers.csv").exists():
        generate_shop(ShopSpec(customers=customers, days=365, end_date=DAY, **shape), out)
    return out


def bench_ingest(customers: int, repeat: int) -> list[dict[str, object]]:
    import duckdb

    from orchestration.ingest.loader import load_folder
    from orchestration.lib.warehouse import duckdb_config

    shop = _shop(customers, f"shop-{customers}", SHAPE)
    sizes = {p.name: p.stat().st_size for p in shop.glob("*.csv")}
    now = datetime(2025, 6, 16, 2, 0)
    first, again, touched = [], [], []
    for k in range(repeat):
        path = WORK / f"ingest-{k}.duckdb"
        path.unlink(missing_ok=True)
        with duckdb.connect(str(path), config=duckdb_config()) as con:
            con.execute("set TimeZone = 'Asia/Seoul'")
            for times, change in ((first, None), (again, None), (touched, "events.csv")):
                if change:
                    os.utime(shop / change)
                started = time.perf_counter()
                load_folder(con, shop, "Asia/Seoul", now)
                times.append(time.perf_counter() - started)
        path.unlink(missing_ok=True)
    label = f"{customers:,} customers, {sum(sizes.values()) / 1e6:,.0f} MB of CSV"
    return [
        {"what": f"ingest, first load ({label})", "s": statistics.median(first)},
        {"what": "ingest, next night, nothing changed", "s": statistics.median(again)},
        {"what": "ingest, next night, events.csv changed", "s": statistics.median(touched)},
    ]


def bench_small_run(repeat: int) -> list[dict[str, object]]:
    shop = _shop(200, "shop-200", {})
    walls, rss = [], []
    for k in range(repeat):
        home = WORK / f"small-{k}"
        shutil.rmtree(home, ignore_errors=True)
        env = os.environ | {
            "DANGOL_WAREHOUSE": str(home / "warehouse" / "dangol.duckdb"),
            "DAGSTER_HOME": str(home / "dagster_home"),
            "DANGOL_DATA_DIR": str(shop),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        command = ["/usr/bin/time", "-v", str(BIN / "dangol"), "run", "--date", str(DAY), "--dry-run"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"dangol run failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        walls.append(_time_v(done.stderr, "Elapsed (wall clock) time"))
        rss.append(_time_v(done.stderr, "Maximum resident set size") / 1024)
        shutil.rmtree(home, ignore_errors=True)
    return [{"what": "nightly run, 200 customers (dry run)", "s": statistics.median(walls), "peak_mb": max(rss)}]


def _time_v(report: str, label: str) -> float:
    line = next(x for x in report.splitlines() if label in x)
    value = line.rsplit(": ", 1)[1].strip()
    if ":" in value:  # h:mm:ss or m:ss.ss
        parts = [float(p) for p in value.split(":")]
        return sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return float(value)


def write(rows: list[dict[str, object]], meta: dict[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"scale-{stamp}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    table = ["| measure | median s | peak MB |", "|---|---:|---:|"]
    for r in rows:
        peak = f"{float(r['peak_mb']):.0f}" if "peak_mb" in r else ""
        table.append(f"| {r['what']} | {float(r['s']):.2f} | {peak} |")
    note = f"{meta['when']}, load average at start {meta['load_start']}, at end {meta['load_end']}"
    (RESULTS / "scale.md").write_text("\n".join([*table, "", note, ""]))
    (RESULTS / "scale.svg").write_text(_svg(rows))
    return RESULTS / "scale.md"


def _svg(rows: list[dict[str, object]]) -> str:
    """A horizontal bar per measure (no plotting library needed for a bar chart)."""
    width, bar_h, left = 900, 26, 430
    top = max(float(r["s"]) for r in rows) or 1.0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{len(rows) * bar_h + 20}">']
    for i, r in enumerate(rows):
        y = 10 + i * bar_h
        w = (width - left - 80) * float(r["s"]) / top
        label = re.sub(r"[<>&]", "", str(r["what"]))
        parts.append(f'<text x="4" y="{y + 17}" font-size="12" font-family="sans-serif">{label}</text>')
        parts.append(f'<rect x="{left}" y="{y + 4}" width="{w:.1f}" height="{bar_h - 8}" fill="#4a78b5"/>')
        seconds = float(r["s"])
        parts.append(
            f'<text x="{left + w + 6:.1f}" y="{y + 17}" font-size="12" font-family="sans-serif">{seconds:.2f} s</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale")
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip", action="append", default=[], choices=("policy", "ingest", "small_run"))
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    meta: dict[str, object] = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "load_start": _load()}
    rows: list[dict[str, object]] = []
    if "policy" not in args.skip:
        rows += bench_policy(args.customers, args.repeat)
    if "ingest" not in args.skip:
        rows += bench_ingest(args.customers, args.repeat)
    if "small_run" not in args.skip:
        rows += bench_small_run(args.repeat)
    meta["load_end"] = _load()
    out = write(rows, meta)
    print(out.read_text())
    return 0
