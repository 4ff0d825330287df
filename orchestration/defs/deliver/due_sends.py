"""The due-sends sensor: when planned sends fall due, launch the `deliver` job for their day.

The nightly run at 02:00 plans day D for its campaigns' send times on D+1 (10:00, 11:00, 19:00, ...);
this sensor notices, every few minutes, that some of them are due and hands them off through the same
`deliveries` asset as every other job (which judges each send again at hand-off: checks, catch-up
window, night). At night it launches nothing for ads that must wait for the morning.

The ledger, not the run key, is what guarantees nothing is sent twice; the sensor only avoids launching
a run while one for the same day is still on its way.
"""

from datetime import date, datetime, timedelta

import dagster as dg
import pandas as pd

from orchestration.campaigns.config import load_policy
from orchestration.campaigns.handoff import Verdict, judge
from orchestration.defs.schedules import deliver_job
from orchestration.lib.clock import ClockResource
from orchestration.lib.resources import WarehouseResource
from orchestration.lib.warehouse import WarehouseBusy, scalar

# Sends planned for days further back than this are left to the runs that planned them.
LOOKBACK_DAYS = 7
_UNFINISHED = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
_WAITING_SQL = """
select planned.send_key, planned.as_of_date, planned.purpose, planned.channel, planned.scheduled_at
from sends.fct_planned_sends as planned
left join sends.deliveries as delivered on delivered.send_key = planned.send_key
where planned.state = 'scheduled' and delivered.send_key is null
  and planned.as_of_date >= ? and planned.scheduled_at <= ?
"""


def days_to_hand_off(waiting: pd.DataFrame, now: datetime) -> dict[date, dict[str, int]]:
    """Per planned day with sends to hand off (or to record as expired) now: how many of each."""
    verdicts = judge(waiting, now, timedelta(hours=load_policy().delivery.catch_up_hours), load_policy())
    act = verdicts["verdict"].isin([Verdict.HAND_OFF, Verdict.EXPIRED])
    if not act.any():
        return {}
    days = pd.to_datetime(waiting.loc[act, "as_of_date"]).dt.date
    counts = pd.crosstab(days, verdicts.loc[act, "verdict"].astype(str))
    return {d: {str(k): int(v) for k, v in row.items() if v} for d, row in counts.iterrows()}


@dg.sensor(
    name="due_sends",
    job=deliver_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 5 minutes: launches delivery for each planned day with sends that are due now"
    " (the night rule and the catch-up window are applied at hand-off).",
)
def due_sends(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, clock: ClockResource):
    now = clock.now()
    if not warehouse.file.exists():
        return dg.SkipReason("no warehouse yet")
    try:
        with warehouse.read(timeout=20) as con:
            tables = scalar(
                con,
                "select count(*) from information_schema.tables where table_schema = 'sends'"
                " and table_name in ('fct_planned_sends', 'deliveries')",
            )
            if tables != 2:
                return dg.SkipReason("nothing planned yet")
            waiting = con.execute(_WAITING_SQL, [now.date() - timedelta(days=LOOKBACK_DAYS), now]).df()
    except WarehouseBusy:
        return dg.SkipReason("the warehouse is busy; next tick")
    todo = days_to_hand_off(waiting, now)
    if not todo:
        return dg.SkipReason(f"nothing due at {now:%Y-%m-%d %H:%M}")
    running = {
        run.tags.get("dagster/partition")
        for run in context.instance.get_runs(
            filters=dg.RunsFilter(job_name=deliver_job.name, statuses=_UNFINISHED), limit=50
        )
    }
    requests = [
        dg.RunRequest(
            run_key=f"{day}@{now:%Y-%m-%dT%H:%M}",
            partition_key=day.isoformat(),
            run_config={"ops": {"deliveries": {"config": {"mode": "SEND"}}}},
            tags={"dangol/trigger": "due_sends", "dangol/due": ", ".join(f"{k} {v}" for k, v in counts.items())},
        )
        for day, counts in sorted(todo.items())
        if day.isoformat() not in running
    ]
    return requests or dg.SkipReason("a delivery run for every due day is still on its way")
