"""Blocking asset checks on fct_planned_sends: delivery waits for them and does not run if one fails.

They read the warehouse for the run's window (never the partitioned asset as an input, which would load
every partition) and run the great-expectations rules of orchestration/campaigns/checks.py.

Over a window of several days (a backfill), a rule broken on some of its days holds those days only: the
check fails as a warning naming them (`held_days`), the run goes on, and delivery refuses exactly those
days' sends (it evaluates the same rules per day: orchestration/defs/deliver/deliveries.py). A rule broken
on every day of the window, or on a one-day run, fails as an error and blocks delivery.
"""

from typing import Any

import dagster as dg
import pandas as pd

from orchestration.campaigns.checks import (
    RULE_DESCRIPTIONS,
    Rule,
    RuleResult,
    failures_by_day,
    prepare,
    read_window,
    validate,
)
from orchestration.campaigns.config import load_policy
from orchestration.campaigns.legal import Sender
from orchestration.campaigns.spec import load_campaigns
from orchestration.defs.campaigns.plan import APPROVE_JOB
from orchestration.defs.console.approve import how_to_release_md
from orchestration.lib.partitions import window_days
from orchestration.lib.resources import WarehouseResource

PLANNED_SENDS_KEY = dg.AssetKey(["sends", "fct_planned_sends"])


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(str(rule), asset=PLANNED_SENDS_KEY, blocking=True, description=RULE_DESCRIPTIONS[rule])
        for rule in Rule
    ],
    can_subset=True,
)
def planned_sends_checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource):
    first, last = window_days(context)
    with warehouse.read() as con:
        sends = read_window(con, first, last)
    specs = {s.id: s for s in load_campaigns()}
    frame = prepare(sends, specs, load_policy(), Sender.from_env().name)
    results = validate(frame)
    days = len(set(frame["as_of_date"])) if len(frame) else 0
    selected = {key.name for key in context.selected_asset_check_keys}
    for rule, result in results.items():
        if str(rule) not in selected:
            continue
        metadata: dict[str, Any] = {
            "window": f"{first} .. {last}",
            "rows_checked": len(frame),
            "failing_rows": result.failing_rows,
            "failing_by_expectation": dg.MetadataValue.json(result.by_expectation),
        }
        if result.examples:
            metadata["examples_masked"] = dg.MetadataValue.json(result.examples)
        held_days = failures_by_day(frame, {rule: result})
        if held_days:
            metadata["held_days"] = dg.MetadataValue.json({str(d): why for d, why in held_days.items()})
        if rule is Rule.AUDIENCE_GUARD and not result.passed:
            waiting = frame[frame["state"] != "scheduled"]
            days = pd.to_datetime(waiting["as_of_date"]).dt.date
            held = sorted(set(zip(waiting["campaign_id"], days, strict=True)))
            metadata["held_sends"] = len(waiting)
            metadata["approve_job"] = APPROVE_JOB
            metadata["how_to_release"] = dg.MetadataValue.md(how_to_release_md(held))
        yield dg.AssetCheckResult(
            check_name=str(rule),
            asset_key=PLANNED_SENDS_KEY,
            passed=result.passed,
            severity=_severity(rule, result, len(held_days), days),
            metadata=metadata,
        )


def _severity(rule: Rule, result: RuleResult, held_days: int, days: int) -> dg.AssetCheckSeverity:
    """A held send list is the guard working, not a fault: a warning (it blocks nothing; delivery sends
    scheduled rows only, and the held ones wait for the approve_send_list job). A rule broken on some days
    of a longer window holds those days at delivery: a warning, so the other days go on. Else an error."""
    if rule is Rule.AUDIENCE_GUARD or (not result.passed and 0 < held_days < days):
        return dg.AssetCheckSeverity.WARN
    return dg.AssetCheckSeverity.ERROR
