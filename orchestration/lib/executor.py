"""The code location's executor: Dagster's in-process executor, holding the warehouse's run lock.

Every run the daemon launches (schedules, sensors, backfills from the UI or `dagster job backfill`) goes
through it; `dangol run` executes in process, which bypasses executors, and takes the same lock itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg

from orchestration.lib.warehouse import run_lock
from orchestration.settings import load_settings


class _RunLocked(dg.Executor):
    """Waits for the warehouse's run lock before the first step and holds it until the last one ends."""

    def __init__(self, inner: dg.Executor) -> None:
        self._inner = inner

    @property
    def retries(self) -> Any:
        return self._inner.retries

    @property
    def step_dependency_config(self) -> Any:
        return self._inner.step_dependency_config

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[dg.DagsterEvent]:
        warehouse = load_settings().warehouse
        plan_context.log.info(f"waiting for the warehouse run lock on {warehouse.name}")
        with run_lock(warehouse):
            plan_context.log.info("holding the warehouse run lock: no other run interleaves with this one")
            yield from self._inner.execute(plan_context, execution_plan)


@dg.executor(name="warehouse_in_process", config_schema=dg.in_process_executor.config_schema.as_field())
def warehouse_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    """In process (the warehouse pool serialises writing steps anyway) and one run at a time."""
    create_in_process = dg.in_process_executor.executor_creation_fn
    assert create_in_process is not None  # Dagster's own executor always has one
    return _RunLocked(create_in_process(init_context))
