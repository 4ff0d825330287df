"""The audience guard's asset check in Dagster: a held send list is a warning with the way out, not a failure."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

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
