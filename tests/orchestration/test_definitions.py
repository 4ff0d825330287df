"""The code location loads, and its shape is pinned: a change to it must be a deliberate change here."""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.definitions import defs
from orchestration.lib.partitions import daily_partitions, days_of_window, dbt_vars

CAMPAIGN_IDS = [
    "consent_change_notice",
    "consent_reconfirmation",
    "help_offer",
    "referral_offer",
    "repurchase_reminder",
    "signup_benefit",
    "vip_note",
    "welcome_coupon",
    "win_back",
]
EXPECTED_GROUPS = {
    "ingest": {
        "raw/consent_notices",
        "raw/consents",
        "raw/cs_chats",
        "raw/customers",
        "raw/events",
        "raw/identities",
        "raw/order_items",
        "raw/orders",
        "raw/products",
        "raw/push_tokens",
        "raw/quarantine",
        "raw/surveys",
        "raw/web_push_subscriptions",
        "ledger/suppressions",
        "sends/delivery_record",
    },
    "staging": {
        "staging/stg_shop__consent_notices",
        "staging/stg_shop__consents",
        "staging/stg_shop__cs_chats",
        "staging/stg_shop__customers",
        "staging/stg_shop__events",
        "staging/stg_shop__identities",
        "staging/stg_shop__order_items",
        "staging/stg_shop__orders",
        "staging/stg_shop__products",
        "staging/stg_shop__push_tokens",
        "staging/stg_shop__surveys",
        "staging/stg_shop__web_push_subscriptions",
        "staging/stg_ledger__suppressions",
    },
    "intermediate": {
        "intermediate/int_customer_consents_pivoted",
        "intermediate/int_customer_eligibility_daily",
        "intermediate/int_customer_purchase_days",
        "intermediate/int_product_replenishment_cycles",
        "intermediate/int_customer_states_daily",
        "intermediate/int_events_stitched",
        "intermediate/int_customer_events_summarised",
        "intermediate/int_customer_service_summarised",
        "intermediate/int_customer_push_subscriptions_summarised",
        "intermediate/int_customer_messages_summarised",
    },
    "predictions": {
        "marts/model_fit_bgnbd",
        "predictions/customer_bgnbd",
        "staging/stg_predictions__customer_bgnbd",
        "intermediate/int_customer_churn_risk_scored",
    },
    "marts": {
        "marts/dim_customers",
        "marts/fct_customer_rfm",
        "marts/fct_customer_lifecycle",
        "marts/fct_customer_loyal_core",
        "marts/fct_customer_personas",
        "marts/fct_customer_segments_daily",
        "marts/fct_segment_sizes_daily",
    },
    "audiences": {
        "marts/fct_audience_consent_change_notice",
        "marts/fct_audience_consent_reconfirmation",
        "marts/fct_audience_help_offer",
        "marts/fct_audience_referral_offer",
        "marts/fct_audience_repurchase_due",
        "marts/fct_audience_signup_benefit",
        "marts/fct_audience_vip_note",
        "marts/fct_audience_welcome_coupon",
        "marts/fct_audience_win_back",
    },
    "campaigns": {
        "send_list/consent_change_notice",
        "send_list/consent_reconfirmation",
        "send_list/help_offer",
        "send_list/referral_offer",
        "send_list/repurchase_reminder",
        "send_list/signup_benefit",
        "send_list/vip_note",
        "send_list/welcome_coupon",
        "send_list/win_back",
        "sends/planned_sends_rendered",
        "sends/send_decisions_raw",
        "sends/fct_planned_sends",
        "sends/fct_send_decisions",
    },
    "deliver": {"deliveries"},
    "campaign_reports": {f"reports/{c}_report" for c in CAMPAIGN_IDS},
    "engagement": {"sends/message_events"},
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


# The order data flows through the groups; the UI draws them left to right in it when no edge goes back.
DATA_FLOW = ["ingest", "engagement", "staging", "intermediate", "predictions", "marts", "audiences", "campaigns"]
DATA_FLOW += ["deliver", "campaign_reports"]


def test_groups_follow_the_data_flow_and_no_two_assets_share_a_name() -> None:
    graph = _definitions().resolve_asset_graph()
    rank = {group: n for n, group in enumerate(DATA_FLOW)}
    backwards = [
        f"{parent.to_user_string()} ({graph.get(parent).group_name}) -> {key.to_user_string()} ({node.group_name})"
        for key in graph.get_all_asset_keys()
        for node in [graph.get(key)]
        for parent in node.parent_keys
        if rank[graph.get(parent).group_name] > rank[node.group_name]
    ]
    assert not backwards
    names: dict[str, list[str]] = {}
    for key in graph.get_all_asset_keys():
        names.setdefault(key.path[-1], []).append(key.to_user_string())
    assert not {name: keys for name, keys in names.items() if len(keys) > 1}


# The policy's blocking checks that gate delivery (great-expectations rules over the window's planned sends);
# dbt's own tests on the model are blocking checks too.
EXPECTED_POLICY_CHECKS = {
    "audience_guard",
    "consent_for_every_recipient",
    "legal_ad_form_present",
    "no_duplicate_sends",
    "no_night_ad_without_night_consent",
    "valid_contact_format",
}


def test_blocking_checks_gate_delivery() -> None:
    graph = _definitions().resolve_asset_graph()
    planned = dg.AssetKey(["sends", "fct_planned_sends"])
    blocking = {
        key.name for key in graph.asset_check_keys if key.asset_key == planned and graph.get_check_spec(key).blocking
    }
    assert blocking >= EXPECTED_POLICY_CHECKS
    assert planned in graph.get(dg.AssetKey(["deliveries"])).parent_keys


def test_jobs_schedules_and_sensors_are_pinned() -> None:
    definitions = _definitions()
    jobs = {job.name for job in definitions.resolve_all_job_defs()} - {"__ASSET_JOB"}
    assert jobs == {"nightly", "deliver", "load_message_events", "approve_send_list", "test_send", "explain_customer"}
    assert {s.name for s in definitions.schedules} == {"nightly_schedule"}
    assert {s.name for s in definitions.sensors or []} == {
        "due_sends",
        "message_events_sensor",
        "alert_on_failed_run",
        "alert_on_held_send_list",
    }


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


def test_due_sends_launch_the_delivery_only_job() -> None:
    """The sensor that hands sends off at their time launches `deliver`, whose one asset gates itself."""
    definitions = _definitions()
    sensor = definitions.resolve_sensor_def("due_sends")
    assert sensor.job_name == "deliver"
    assert sensor.minimum_interval_seconds == 300
    job = definitions.resolve_job_def("deliver")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {"deliveries"}
