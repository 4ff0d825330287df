"""The audience guard's asset check in Dagster: a held send list is a warning with the way out, not a failure."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb

from orchestration.defs.campaigns.checks import PLANNED_SENDS_KEY, planned_sends_checks
from orchestration.lib.partitions import daily_partitions
from orchestration.lib.resources import WarehouseResource
from tests.campaigns.test_checks import ELIGIBLE, GOOD_EMAIL, GOOD_SMS, _warehouse


def test_a_held_send_list_warns_with_the_command_that_releases_it(tmp_path: Path) -> None:
    held = (*GOOD_SMS[:7], "held_for_approval")
    path = tmp_path / "warehouse.duckdb"
    memory = _warehouse([GOOD_EMAIL, held], ELIGIBLE)
    memory.execute(f"attach '{path}' as file")
    memory.execute("copy from database memory to file")
    memory.close()

    @dg.asset(key=PLANNED_SENDS_KEY, partitions_def=daily_partitions)
    def planned_sends() -> dg.MaterializeResult:  # stands in for the dbt model the warehouse above holds
        return dg.MaterializeResult()

    definitions = dg.Definitions(
        assets=[planned_sends],
        asset_checks=[planned_sends_checks],
        resources={"warehouse": WarehouseResource(path=str(path))},
    )
    job = definitions.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(partition_key="2025-06-15", raise_on_error=False)

    assert result.success  # a hold is the guard working: nothing failed
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    guard = evaluations["audience_guard"]
    assert not guard.passed and guard.severity == dg.AssetCheckSeverity.WARN
    assert "dangol approve --campaign promo --date 2025-06-15" in guard.metadata["how_to_release"].value
    assert guard.metadata["held_sends"].value == 1
    others = [e for name, e in evaluations.items() if name != "audience_guard"]
    assert others and all(e.passed for e in others)


def test_a_rule_broken_on_one_day_of_a_backfill_holds_that_day_only(tmp_path: Path) -> None:
    """Two days planned alike, but on the second c2's consent is gone: the window's run goes on (the check
    warns and names the day), and delivery refuses that day's plan only."""
    from datetime import date

    from orchestration.defs.deliver.deliveries import failed_checks

    path = tmp_path / "warehouse.duckdb"
    memory = _warehouse([GOOD_EMAIL, GOOD_SMS], ELIGIBLE)
    memory.execute(
        "insert into sends.fct_planned_sends select 'n' || send_key, campaign_id, step, customer_id,"
        " as_of_date + 1, cycle || 'n', channel, purpose, address, subject, body, scheduled_at + interval 1 day,"
        " state from sends.fct_planned_sends"
    )
    memory.execute(
        "insert into sends.send_lists select 'n' || send_key, as_of_date + 1, channel, null from sends.send_lists"
    )
    memory.execute(
        "insert into intermediate.int_customer_eligibility_daily select * replace (as_of_date + 1 as as_of_date,"
        " customer_id <> 'c2' as is_eligible) from intermediate.int_customer_eligibility_daily"
    )
    memory.execute(f"attach '{path}' as file")
    memory.execute("copy from database memory to file")
    memory.close()

    @dg.asset(key=PLANNED_SENDS_KEY, partitions_def=daily_partitions, backfill_policy=dg.BackfillPolicy.single_run())
    def planned_sends() -> dg.MaterializeResult:  # stands in for the dbt model the warehouse above holds
        return dg.MaterializeResult()

    definitions = dg.Definitions(
        assets=[planned_sends],
        asset_checks=[planned_sends_checks],
        resources={"warehouse": WarehouseResource(path=str(path))},
    )
    job = definitions.resolve_implicit_global_asset_job_def()
    window = {"dagster/asset_partition_range_start": "2025-06-15", "dagster/asset_partition_range_end": "2025-06-16"}
    result = job.execute_in_process(tags=window, raise_on_error=False)

    assert result.success
    consent = {e.check_name: e for e in result.get_asset_check_evaluations()}["consent_for_every_recipient"]
    assert not consent.passed and consent.severity == dg.AssetCheckSeverity.WARN
    assert consent.metadata["held_days"].value == {"2025-06-16": "consent_for_every_recipient (1 rows)"}
    with duckdb.connect(str(path), read_only=True) as con:
        assert failed_checks(con, date(2025, 6, 15), date(2025, 6, 16)) == {
            date(2025, 6, 16): "consent_for_every_recipient (1 rows)"
        }
        assert failed_checks(con, date(2025, 6, 16), date(2025, 6, 16)) == {
            date(2025, 6, 16): "consent_for_every_recipient (1 rows)"
        }
