"""`dangol`: generate a demo shop, run a day of the nightly job, or do both and print what was sent."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from orchestration.settings import PROJECT_ROOT, load_settings

if TYPE_CHECKING:
    import dagster as dg

    from channels.tracking.app import TrackConfig

DEFAULT_DAGSTER_HOME = PROJECT_ROOT / ".dagster_home"
CHANNEL_MODES = ("outbox", "fake", "live")


def ensure_dagster_home() -> Path:
    """An absolute, ready DAGSTER_HOME with our instance config, so `make dev` shows the CLI's runs."""
    from orchestration.lib.instance import prepare_instance

    home = prepare_instance(Path(os.environ.get("DAGSTER_HOME", DEFAULT_DAGSTER_HOME)))
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _today() -> date:
    return datetime.now(ZoneInfo(load_settings().timezone)).date()


def cmd_generate(args: argparse.Namespace) -> int:
    from orchestration.demo.shop import ShopSpec, generate_shop
    from orchestration.lib.progress import progress_bar

    end = date.fromisoformat(args.end_date) if args.end_date else None
    spec = ShopSpec(
        customers=args.customers,
        days=args.days,
        seed=args.seed,
        end_date=end,
        order_volume=args.order_volume,
        browse_volume=args.browse_volume,
        funnel_share=args.funnel_share,
    )
    with progress_bar() as bar:
        summary = generate_shop(spec, Path(args.out), progress=bar)
    print(f"demo shop in {summary.out_dir}: {summary.start_date} .. {summary.end_date}")
    for name, rows in summary.rows.items():
        dirty = summary.dirty.get(name, 0)
        print(f"  {name:<28} {rows:>10,} rows" + (f"  ({dirty:,} deliberately dirty)" if dirty else ""))
    return 0


def _at(text: str) -> datetime:
    """A shop-local moment from the command line: "2025-06-16 10:00" or ISO."""
    return datetime.fromisoformat(text.replace(" ", "T"))


def nightly_moment(day: date) -> datetime:
    """When the nightly schedule runs for `day`: the next morning at the nightly hour, shop time."""
    from orchestration.campaigns.send_list import planning_moment

    return planning_moment(day)


def _run_config(
    verbose: bool,
    at: datetime | None,
    delivery: Mapping[str, object] | None,
    resources: Mapping[str, Mapping[str, object]] | None = None,
) -> dict[str, object]:
    """A run's config: the CLI's choices reach the run through its resources' config, not the environment."""
    config: dict[str, object] = {"loggers": {"console": {"config": {"log_level": "DEBUG" if verbose else "WARNING"}}}}
    chosen = {name: {"config": dict(values)} for name, values in (resources or {}).items()}
    if at is not None:
        settings = load_settings()
        chosen["clock"] = {"config": {"frozen_at": at.isoformat(), "timezone": settings.timezone}}
    if chosen:
        config["resources"] = chosen
    if delivery:
        config["ops"] = {"deliveries": {"config": delivery}}
    return config


def _report(result: dg.ExecuteInProcessResult, log_path: Path, verbose: bool, what: str) -> None:
    if not verbose:
        print(f"{what} {result.run_id[:8]} {'succeeded' if result.success else 'FAILED'}; log: {log_path}")
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure and event.step_failure_data:
                error = event.step_failure_data.error
                print(
                    f"step {event.step_key} failed: {error.message.strip() if error else '(no error)'}", file=sys.stderr
                )


def run_day(
    day: date,
    *,
    data_dir: Path | None = None,
    mode: str | None = None,
    channels: str | None = None,
    at: datetime | None = None,
    deliver_past: dict[str, object] | None = None,
    deliver_until: datetime | None = None,
    verbose: bool = False,
) -> tuple[bool, list[datetime]]:
    """Materialise the nightly job for one day, in process, on the instance in DAGSTER_HOME.

    `data_dir` (the shop's exports) and `channels` (outbox, fake, live) set the run's resources (default:
    the environment's settings). `at` fixes the shop's clock for the run (default: the real clock). With
    `deliver_until`, the run's clock defaults to the nightly schedule's time, and the day's sends are then
    handed off at each of their due times up to that moment, with the clock fixed at each: what the
    due_sends sensor does live. Returns whether every run succeeded, and the hand-off times replayed.

    dbt's own output goes to a log file beside the warehouse unless `verbose`; Dagster prints warnings.
    """
    resources: dict[str, dict[str, object]] = {}
    if data_dir is not None:
        resources["shop_data"] = {"data_dir": str(data_dir.resolve())}
    if channels is not None:
        settings = load_settings()  # a resource's config is given whole
        resources["channels"] = {
            "mode": channels,
            "outbox_dir": str(settings.outbox_dir),
            "ledger_path": str(settings.ledger),
        }
    if day < load_settings().start_date:
        # The partitions are part of the definitions, so the first day must be known before they load.
        os.environ["DANGOL_START_DATE"] = day.replace(month=1, day=1).isoformat()
    ensure_dagster_home()
    if deliver_until is not None and at is None:
        at = nightly_moment(day)

    from orchestration.lib.dbt import prepare_manifest

    prepare_manifest()

    import dagster as dg

    from orchestration.definitions import defs

    definitions = defs()
    job = definitions.resolve_job_def("nightly")
    # Dagster's enum config takes the member's name (PLAN, SEND).
    delivery = {k: v for k, v in (("mode", mode and mode.upper()), ("deliver_past", deliver_past)) if v}
    log_path = load_settings().warehouse.parent / "logs" / f"run-{day}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    replayed: list[datetime] = []
    from orchestration.lib.warehouse import run_lock

    # execute_in_process bypasses the code location's executor, which holds this lock for daemon runs.
    with (
        dg.DagsterInstance.get() as instance,
        log_path.open("w") as log,
        contextlib.nullcontext() if verbose else contextlib.redirect_stdout(log),
        run_lock(load_settings().warehouse),
    ):
        result = job.execute_in_process(
            partition_key=day.isoformat(),
            instance=instance,
            raise_on_error=False,
            run_config=_run_config(verbose, at, delivery, resources),
            tags={"dangol/trigger": "cli", **({"dangol/mode": mode} if mode else {})},
        )
        ok = result.success
        results = [(result, "run")]
        if ok and deliver_until is not None:
            deliver = definitions.resolve_job_def("deliver")
            for moment in due_times(day, after=at, until=deliver_until):
                handed = deliver.execute_in_process(
                    partition_key=day.isoformat(),
                    instance=instance,
                    raise_on_error=False,
                    run_config=_run_config(verbose, moment, {"mode": "SEND"}, resources),
                    tags={"dangol/trigger": "cli-replay", "dangol/clock": moment.isoformat()},
                )
                replayed.append(moment)
                results.append((handed, f"hand-off at {moment:%H:%M}"))
                ok = ok and handed.success
    for run_result, what in results:
        _report(run_result, log_path, verbose, what)
    return ok, replayed


def due_times(day: date, *, after: datetime | None, until: datetime) -> list[datetime]:
    """The distinct send times of a day's plan in (after, until]: when the due_sends sensor would hand off."""
    from orchestration.lib.warehouse import connect

    settings = load_settings()
    with connect(settings.warehouse, read_only=True, timezone=settings.timezone) as con:
        rows = con.execute(
            "select distinct scheduled_at from sends.fct_planned_sends where as_of_date = ? and state = 'scheduled'"
            " and scheduled_at <= ? order by 1",
            [day, until],
        ).fetchall()
    return [r[0] for r in rows if after is None or r[0] > after]


def _print_fake_providers(channels: str | None) -> None:
    if (channels or os.environ.get("DANGOL_CHANNELS")) != "fake":
        return
    folder = load_settings().outbox_dir.parent / "fakes"
    print(f"fake providers (what each accepted, in {folder}):")
    for path in sorted(folder.glob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            print(f"  {path.stem:<14} {sum(1 for _ in handle):>8,}")


def _deliver_past(args: argparse.Namespace) -> dict[str, object] | None:
    if args.deliver_past_hours is None:
        return None
    if not args.requested_by:
        raise SystemExit("--deliver-past-hours needs --requested-by (who asks for it is recorded)")
    return {"max_age_hours": args.deliver_past_hours, "requested_by": args.requested_by, "note": args.note or ""}


def cmd_run(args: argparse.Namespace) -> int:
    day = date.fromisoformat(args.date)
    data_dir = Path(args.data_dir) if args.data_dir else None
    mode = "plan" if args.dry_run else args.mode
    ok, replayed = run_day(
        day,
        data_dir=data_dir,
        mode=mode,
        channels=args.channels,
        at=_at(args.at) if args.at else None,
        deliver_past=_deliver_past(args),
        deliver_until=_at(args.deliver_until) if args.deliver_until else None,
        verbose=args.verbose,
    )
    from orchestration.summary import print_summary

    print_summary(day, dry_run=mode == "plan", replayed=replayed)
    _print_fake_providers(args.channels)
    return 0 if ok else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from orchestration.demo.shop import ShopSpec, generate_shop

    settings = load_settings()
    today = _today()
    data_dir = Path(args.out)
    print(f"1/3 generating a demo shop ({args.customers:,} customers, {args.days} days) in {data_dir} ...")
    summary = generate_shop(
        ShopSpec(customers=args.customers, days=args.days, seed=args.seed, end_date=today), data_dir
    )
    if summary.start_date < settings.start_date:
        os.environ["DANGOL_START_DATE"] = summary.start_date.isoformat()
    day = today - timedelta(days=1)
    night = nightly_moment(day)
    print(
        f"2/3 last night's job: the nightly run for {day} at {night:%Y-%m-%d %H:%M} (warehouse {settings.warehouse}),"
        f" then each send handed off at its time today, with the clock fixed ..."
    )
    ok, replayed = run_day(
        day, data_dir=data_dir, channels=args.channels, deliver_until=datetime.combine(today, datetime.max.time())
    )
    print("3/3 summary")
    from orchestration.summary import print_summary

    print_summary(day, dry_run=False, replayed=replayed)
    _print_fake_providers(args.channels)
    return 0 if ok else 1


def cmd_dev(args: argparse.Namespace) -> int:
    """`dagster dev` on the same warehouse and instance as the CLI, with a fresh dbt manifest, and the
    tracking service (`dangol track`) beside it; both stop together."""
    import signal
    import subprocess

    from orchestration.lib.dbt import prepare_manifest

    ensure_dagster_home()
    prepare_manifest()
    # Started without a terminal, a process may inherit ignored SIGINT/SIGTERM; dagster dev must stop on them.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    bin_dir = Path(sys.executable).parent
    workspace = str(PROJECT_ROOT / "workspace.yaml")
    os.chdir(PROJECT_ROOT)
    track = subprocess.Popen([str(bin_dir / "dangol"), "track", "--host", args.host, "--port", str(args.track_port)])
    print(f"dangol track on http://{args.host}:{args.track_port} (clicks, opens, unsubscribes, receipts)")
    dagster = subprocess.Popen(
        [str(bin_dir / "dagster"), "dev", "-w", workspace, "-h", args.host, "-p", str(args.port)]
    )

    def stop(signum: int, _frame: object) -> None:
        for child in (dagster, track):
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        return dagster.wait()
    finally:
        if track.poll() is None:
            track.terminate()
        track.wait(30)


def track_config(**overrides: object) -> TrackConfig:
    """The tracking service's configuration: paths from the settings, secrets from the environment."""
    from channels.tracking.app import TrackConfig
    from orchestration.campaigns.legal import Sender

    settings = load_settings()
    return TrackConfig.from_env(
        event_log=settings.event_log,
        link_store=settings.link_store,
        ledger=settings.ledger,
        sender_name=Sender.from_env().name,
        timezone=settings.timezone,
        **overrides,
    )


def cmd_track(args: argparse.Namespace) -> int:
    """The tracking web service: clicks, opens, unsubscribes and provider receipts into the event log."""
    from channels.tracking.app import serve

    serve(track_config(), host=args.host, port=args.port)
    return 0


def cmd_optouts_080(args: argparse.Namespace) -> int:
    """Load the 080 provider's opt-out export (format: channels/tracking/optouts.py)."""
    from channels.ledger import Ledger
    from channels.tracking.eventlog import EventLog
    from channels.tracking.optouts import load_080_file

    settings = load_settings()
    with Ledger(settings.ledger) as ledger, EventLog(settings.event_log) as log:
        report = load_080_file(args.path, ledger, log)
    print(f"{report.loaded:,} opt-outs loaded (sms and kakao advertising), {len(report.rejected):,} rows rejected")
    for line in report.rejected[:20]:
        print(f"  {line}")
    return 0 if not report.rejected else 1


def cmd_explain(args: argparse.Namespace) -> int:
    """Why did (or didn't) a customer get a campaign's message on a day: read-only, from fct_send_decisions."""
    from orchestration.campaigns.explain import explain
    from orchestration.campaigns.spec import load_campaigns
    from orchestration.lib.warehouse import connect

    settings = load_settings()
    specs = {s.id: s for s in load_campaigns()}
    with connect(settings.warehouse, read_only=True, timezone=settings.timezone) as con:
        print(explain(con, args.customer, specs.get(args.campaign, args.campaign), date.fromisoformat(args.date)))
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    """Answer the audience guard for a held send list; the next run of the day plans (or drops) it."""
    from orchestration.campaigns.planning import record_approval
    from orchestration.campaigns.spec import load_campaigns
    from orchestration.lib.warehouse import connect

    if args.campaign not in {s.id for s in load_campaigns()}:
        print(f"no campaign {args.campaign!r}", file=sys.stderr)
        return 2
    settings = load_settings()
    decision = "rejected" if args.reject else "approved"
    with connect(settings.warehouse, timezone=settings.timezone) as con:
        record_approval(con, args.campaign, date.fromisoformat(args.date), decision, args.by, args.note)
    print(f"{args.campaign} on {args.date}: {decision}. Rerun the day to apply it: dangol run --date {args.date}")
    return 0


def cmd_import_online_retail(args: argparse.Namespace) -> int:
    """Convert the UCI Online Retail log into a contract folder (cleaning rule: orchestration/demo/online_retail.py)."""
    from orchestration.demo.online_retail import DEFAULT_SOURCE, convert

    summary = convert(Path(args.path) if args.path else DEFAULT_SOURCE, Path(args.out))
    print(f"online retail in {summary.out_dir}: {summary.lines_kept:,} of {summary.lines_read:,} lines kept")
    print(f"  customers {summary.customers:,}  orders {summary.orders:,}  products {summary.products:,}")
    print(f"  {summary.lines_rejected:,} lines rejected (to raw.quarantine at load):")
    for rule, n in summary.rejects_by_rule.items():
        print(f"    {rule:<24} {n:>8,}")
    print(
        f"times are UK local: run with DANGOL_TIMEZONE=Europe/London DANGOL_CURRENCY=GBP, e.g.\n"
        f"  dangol run --date 2011-12-09 --data-dir {summary.out_dir}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dangol", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a deterministic demo shop as CSV files")
    gen.add_argument("--customers", type=int, default=5_000)
    gen.add_argument("--days", type=int, default=365)
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--end-date", help="last day of history (default: today, shop time)")
    gen.add_argument(
        "--order-volume",
        type=float,
        default=1.0,
        help="orders per buyer as a multiple of the natural shop (a year of history: ~1.7 per customer; 7 gives ~10)",
    )
    gen.add_argument(
        "--browse-volume",
        type=float,
        default=1.0,
        help="browsing sessions without a purchase, as a multiple of the natural shop (0 for order funnels only)",
    )
    gen.add_argument(
        "--funnel-share", type=float, default=1.0, help="share of paid orders with a tracked web/app funnel"
    )
    gen.add_argument("--out", default="demo_data")
    gen.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", help="run the nightly job for one day, in process")
    run.add_argument("--date", required=True, help="the shop-local day, YYYY-MM-DD")
    run.add_argument("--data-dir", help="the CSV folder (default: DANGOL_DATA_DIR or demo_data)")
    run.add_argument("--dry-run", action="store_true", help="plan and preview, deliver nothing (--mode plan)")
    run.add_argument(
        "--mode",
        choices=("plan", "send"),
        help="plan: send lists and previews only; send: hand off what is due (default: send for one day)",
    )
    run.add_argument("--at", help='the shop clock for the run, "YYYY-MM-DD HH:MM" (default: the real clock)')
    run.add_argument(
        "--deliver-until",
        help='then hand the day\'s sends off at each due time up to this moment, "YYYY-MM-DD HH:MM", with the clock'
        " fixed at each (what the due_sends sensor does live); the run itself is then at the nightly time",
    )
    run.add_argument(
        "--deliver-past-hours", type=float, help="also deliver sends up to this many hours late (an explicit opt-in)"
    )
    run.add_argument("--requested-by", help="who asks for --deliver-past-hours (recorded)")
    run.add_argument("--note", help="why (recorded with --deliver-past-hours)")
    run.add_argument("--verbose", action="store_true", help="show Dagster's and dbt's full logs")
    run.add_argument("--channels", choices=CHANNEL_MODES, help="outbox (default), fake providers, or live ones")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser(
        "demo", help="generate a demo shop, run last night's job, hand off today's sends, print what was delivered"
    )
    demo.add_argument("--customers", type=int, default=5_000)
    demo.add_argument("--days", type=int, default=760, help="history length (> 2 years: consent re-confirmations)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--out", default=str(PROJECT_ROOT / "demo_data"))
    demo.add_argument(
        "--channels",
        choices=CHANNEL_MODES,
        default="outbox",
        help="outbox (default) or the local fake providers (real HTTP/SMTP servers on 127.0.0.1)",
    )
    demo.set_defaults(func=cmd_demo)

    dev = sub.add_parser("dev", help="open the Dagster UI (dagster dev) on the same warehouse")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--track-port", type=int, default=int(os.environ.get("DANGOL_TRACK_PORT", "8787")))
    dev.set_defaults(func=cmd_dev)

    track = sub.add_parser("track", help="run the tracking web service (clicks, opens, unsubscribes, receipts)")
    track.add_argument("--host", default=os.environ.get("DANGOL_TRACK_HOST", "127.0.0.1"))
    track.add_argument("--port", type=int, default=int(os.environ.get("DANGOL_TRACK_PORT", "8787")))
    track.set_defaults(func=cmd_track)

    optout = sub.add_parser("optouts-080", help="load the 080 provider's opt-out file into the suppression list")
    optout.add_argument("path", help="the provider's CSV export (UTF-8 or CP949)")
    optout.set_defaults(func=cmd_optouts_080)

    explain = sub.add_parser("explain", help="why a customer did or did not get a campaign's message on a day")
    explain.add_argument("--customer", required=True)
    explain.add_argument("--campaign", required=True)
    explain.add_argument("--date", required=True, help="the shop-local day, YYYY-MM-DD")
    explain.set_defaults(func=cmd_explain)

    approve = sub.add_parser("approve", help="approve (or --reject) a send list held by the audience guard")
    approve.add_argument("--campaign", required=True)
    approve.add_argument("--date", required=True, help="the shop-local day, YYYY-MM-DD")
    approve.add_argument("--reject", action="store_true", help="drop the held sends instead")
    approve.add_argument("--by", default=os.environ.get("USER", "cli"), help="who decides (recorded)")
    approve.add_argument("--note", default="")
    approve.set_defaults(func=cmd_approve)

    imports = sub.add_parser("import", help="convert another data format into a contract folder")
    formats = imports.add_subparsers(dest="format", required=True)
    retail = formats.add_parser("online-retail", help="the UCI Online Retail log (a real UK shop)")
    retail.add_argument("path", nargs="?", help="lines.csv.gz (default: ../shared/data/online_retail/lines.csv.gz)")
    retail.add_argument("--out", required=True, help="the contract folder to write")
    retail.set_defaults(func=cmd_import_online_retail)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
