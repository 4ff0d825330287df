"""The one composition root: everything under defs/ is loaded automatically."""

from pathlib import Path

import dagster as dg

from orchestration.lib.executor import warehouse_executor


@dg.definitions
def defs() -> dg.Definitions:
    """Runs execute their steps in one process. The warehouse pool (limit 1) serialises the steps that
    write anyway, so a process per step bought isolation at ~5-8 s of start-up per step (Dagster and
    the definitions imported again), minutes per nightly run; the CLI already ran in process. The executor
    also holds the warehouse's run lock for the whole run (orchestration/lib/executor.py)."""
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        dg.Definitions(executor=warehouse_executor),
    )
