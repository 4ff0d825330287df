"""The code location loads, and its shape is pinned: a change to it must be a deliberate change here."""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.definitions import defs
from orchestration.lib.partitions import daily_partitions, days_of_window, dbt_vars

EXPECTED_GROUPS = {
    "ingest": {
        "raw/consents", "raw/cs_chats", "raw/customers", "raw/events", "raw/identities", "raw/order_items",
        "raw/orders", "raw/products", "raw/push_tokens", "raw/quarantine", "raw/surveys",
        "raw/web_push_subscriptions",
    },
    "staging": {
        "staging/stg_shop__consents", "staging/stg_shop__cs_chats", "staging/stg_shop__customers",
        "staging/stg_shop__events", "staging/stg_shop__identities", "staging/stg_shop__order_items",
        "staging/stg_shop__orders", "staging/stg_shop__products", "staging/stg_shop__push_tokens",
        "staging/stg_shop__surveys", "staging/stg_shop__web_push_subscriptions",
    },
    "intermediate": {"intermediate/int_customer_consents_pivoted", "intermediate/int_customer_purchase_days"},
    "marts": {"marts/dim_customers"},
    "audiences": {"marts/fct_audience_repurchase_due"},
    "campaigns": {"send_list/repurchase_reminder"},
    "deliver": {"deliveries"},
}


def _definitions() -> dg.Definitions:
    return defs()


def test_asset_keys_and_groups_are_pinned() -> None:
    definitions = _definitions()
    graph = definitions.resolve_asset_graph()
    groups: dict[str, set[str]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add(key.to_user_string())
    assert groups == EXPECTED_GROUPS


def test_jobs_schedules_and_sensors_are_pinned() -> None:
    definitions = _definitions()
    jobs = {job.name for job in definitions.resolve_all_job_defs()} - {"__ASSET_JOB"}
    assert jobs == {"nightly"}
    assert {s.name for s in definitions.schedules} == {"nightly_schedule"}
    assert {s.name for s in definitions.sensors or []} == set()


def test_every_asset_is_daily_partitioned_in_seoul_and_writes_through_the_warehouse_pool() -> None:
    graph = _definitions().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_external:
            continue
        assert node.partitions_def == daily_partitions, key
        assert node.pools == {"warehouse"}, key
    assert daily_partitions.timezone == "Asia/Seoul"


def test_nightly_schedule_runs_the_previous_shop_day_at_two() -> None:
    definitions = _definitions()
    schedule = definitions.resolve_schedule_def("nightly_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Asia/Seoul"
    # 02:00 on 1 March 2024 in Seoul is still 29 February in UTC: the run is for 29 February (a leap day).
    tick = datetime(2024, 3, 1, 2, 0, tzinfo=ZoneInfo("Asia/Seoul"))
    with dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=definitions.get_repository_def()
    ) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.partition_key == "2024-02-29"
    assert request.job_name in (None, "nightly")


def test_partition_window_becomes_inclusive_dbt_vars() -> None:
    seoul = ZoneInfo("Asia/Seoul")
    window = dg.TimeWindow(datetime(2024, 2, 27, tzinfo=seoul), datetime(2024, 3, 2, tzinfo=seoul))
    first, last = days_of_window(window)
    assert dbt_vars(first, last) == {"start_date": "2024-02-27", "end_date": "2024-03-01"}
    single = daily_partitions.time_window_for_partition_key("2024-02-29")
    assert days_of_window(single) == (datetime(2024, 2, 29).date(), datetime(2024, 2, 29).date())
