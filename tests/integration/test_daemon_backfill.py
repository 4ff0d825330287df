"""A backfill launched through the real Dagster daemon and a nightly CLI run, at the same time, on the same
DuckDB file: neither may fail on the warehouse lock, every day gets its send list, nothing planned for a
past day is sent (the backfill plans only; the CLI run's sends are long past their time), and neither run
reads the other's window (each day's BG/NBD fit and customer 360 equal those of a run of that day alone)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from orchestration.lib.instance import prepare_instance
from tests.conftest import PROJECT_ROOT, ShopEnv
from tests.integration.test_nightly_run import D, measured_out, write_designed_shop

BIN = Path(sys.executable).parent
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def _wait_for_runs(instance: dg.DagsterInstance, expected: int, timeout: float) -> list[dg.DagsterRun]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = instance.get_runs()
        if len(runs) >= expected and all(r.status in FINISHED for r in runs):
            return runs
        time.sleep(2)
    raise AssertionError(f"runs not finished in {timeout:.0f} s: {[(r.run_id[:8], r.status) for r in runs]}")


def _launch_backfill(workspace: str, first: str, last: str, env: dict[str, str]) -> None:
    """`dagster job backfill`, as an operator would type it; its code server can time out on a loaded machine."""
    command = [
        str(BIN / "dagster"),
        "job",
        "backfill",
        "-w",
        workspace,
        "-j",
        "nightly",
        "--from",
        first,
        "--to",
        last,
        "--noprompt",
    ]
    for attempt in range(3):
        result = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
        if result.returncode == 0 and "Launched backfill" in result.stdout:
            return
        time.sleep(5 * (attempt + 1))
    raise AssertionError(f"backfill was not launched:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def test_daemon_backfill_and_nightly_run_share_the_warehouse(shop_env: ShopEnv) -> None:
    data = shop_env.root / "shop"
    expected = write_designed_shop(data, extra_buyers=40)
    home = prepare_instance(shop_env.root / "dagster_home")
    env = shop_env.env | {"DANGOL_DATA_DIR": str(data)}
    workspace = str(PROJECT_ROOT / "workspace.yaml")

    daemon = subprocess.Popen(
        [str(BIN / "dagster-daemon"), "run", "-w", workspace],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first, last = D - timedelta(days=2), D - timedelta(days=1)
        _launch_backfill(workspace, first.isoformat(), last.isoformat(), env)
        shop_env.dangol("run", "--date", D.isoformat(), "--data-dir", str(data))
        with dg.DagsterInstance.from_config(str(home)) as instance:
            runs = _wait_for_runs(instance, expected=2, timeout=400)
            failures = [r.run_id for r in runs if r.status is not dg.DagsterRunStatus.SUCCESS]
            assert not failures, f"failed runs: {failures}"
            backfill_runs = [r for r in runs if r.tags.get("dagster/backfill")]
            assert backfill_runs, "the daemon launched no backfill run"
            delivered_days = instance.get_materialized_partitions(dg.AssetKey(["deliveries"]))
            assert {first.isoformat(), last.isoformat(), D.isoformat()} <= delivered_days
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)

    with duckdb.connect(str(shop_env.warehouse), read_only=True) as con:
        handed = con.execute(
            "select send_date, state, count(*), count(distinct send_key) from sends.deliveries"
            " where campaign_id = 'repurchase_reminder' group by 1, 2 order by 1"
        ).fetchall()
        modes = con.execute("select first_day, last_day, mode from sends.delivery_runs").fetchall()
    # The backfill's runs (one over the range, or one per day, as the daemon chose) only plan; the CLI run sends.
    assert {mode for start, _, mode in modes if start < D} == {"plan"}
    assert {(start, end) for start, end, mode in modes if mode == "send"} == {(D, D)}
    assert min(start for start, _, _ in modes) == first and max(end for _, end, _ in modes) == D
    assert {state for _, state, _, _ in handed} == {"expired"}
    reminded = [c for c in expected if not measured_out(c)]
    assert (D, "expired", len(reminded), len(reminded)) in handed
    assert not shop_env.outbox_jsonl.exists()

    # Each fitted day (a window run fits its last day) against a run of that day alone, on its own warehouse.
    together = _fits_and_360(shop_env.warehouse, [last, D])
    assert len(together["fits"]) == 2 and together["fits"]["r"].notna().all(), together["fits"]
    for day in (last, D):
        alone = ShopEnv(shop_env.root / f"alone-{day}")
        alone.root.mkdir()
        alone.dangol("run", "--date", day.isoformat(), "--data-dir", str(data), "--dry-run")
        reference = _fits_and_360(alone.warehouse, [day])
        for name, frame in reference.items():
            mine = together[name][together[name]["as_of_date"] == pd.Timestamp(day)].reset_index(drop=True)
            pd.testing.assert_frame_equal(
                mine, frame, check_dtype=False, check_exact=False, rtol=1e-9, obj=f"{name} on {day}"
            )


def _fits_and_360(warehouse: Path, days: list) -> dict[str, pd.DataFrame]:
    """The BG/NBD fit, each buyer's predictions and each customer's 360 (segments, scores) for the days."""
    queries = {
        "fits": "select as_of_date, r, alpha, a, b, n_customers, n_repeat_customers, skipped_reason"
        " from marts.model_fit_bgnbd",
        "predictions": "select as_of_date, customer_id, p_alive, expected_purchases_90d"
        " from predictions.customer_bgnbd",
        "segments": "select * from marts.fct_customer_segments_daily",
    }
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            name: con.execute(
                f"select * from ({sql}) where as_of_date in (select unnest(?::date[])) order by all", [days]
            ).df()
            for name, sql in queries.items()
        }
