"""The dbt project as Dagster sees it: built once, keys and groups derived by rule from the dbt graph."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject

from orchestration.settings import PROJECT_ROOT

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))

# Offline, dbt's anonymous usage ping costs ~5 s per call.
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def manifest_is_stale() -> bool:
    """True when any model, macro or project file is newer than target/manifest.json."""
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests", "seeds"):
        sources.extend(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file())
    return any(p.stat().st_mtime > built for p in sources)


def prepare_manifest() -> Path:
    """Parse the dbt project into target/manifest.json when it is missing or out of date."""
    if manifest_is_stale():
        # Parse with the venv's dbt (the default preparer looks for `dbt` on PATH, which a plain
        # `.venv/bin/dangol` call does not have).
        dbt_cli_resource().cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()
    return dbt_project.manifest_path


class DangolDbtTranslator(DagsterDbtTranslator):
    """Groups follow the dbt folder (staging, intermediate, marts, audiences); sources are ingest's."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "ingest"
        fqn = dbt_resource_props.get("fqn", [])
        folders = fqn[1:-1]
        if "audiences" in folders:
            return "audiences"
        return folders[0] if folders else "dbt"


translator = DangolDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_code_references=False))


def dbt_cli_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE, profiles_dir=str(DBT_PROJECT_DIR))
