"""The dbt project as Dagster sees it: built once, keys and groups derived by rule from the dbt graph."""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject

from orchestration.settings import PROJECT_ROOT

# Another copy of the project (a test's, a branch under review) may be served instead of the repository's.
DBT_PROJECT_DIR = Path(os.environ.get("DANGOL_DBT_PROJECT_DIR", PROJECT_ROOT / "dbt_project")).resolve()
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
    """Parse the dbt project into target/manifest.json when it is missing or out of date.

    Called whenever the code location loads, so "Reload definitions" in the UI shows an edited model
    (a reload starts a new code server, which imports the definitions again). Processes loading at the
    same moment (webserver, daemon, a run) take turns on a lock: one parses, the others find it fresh."""
    if not manifest_is_stale():
        return dbt_project.manifest_path
    target = dbt_project.manifest_path.parent
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".prepare.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest_is_stale():
            # Parse with the venv's dbt (the default preparer looks for `dbt` on PATH, which a plain
            # `.venv/bin/dangol` call does not have).
            dbt_cli_resource().cli(["parse", "--quiet"], target_path=target).wait()
    return dbt_project.manifest_path


# Models whose group is not their folder's, so that each group is one stretch of the data flow and the UI
# draws the groups left to right in that order: ingest -> staging -> intermediate -> predictions -> marts
# -> audiences -> campaigns -> deliver. The BG/NBD scores go out to Python and come back (predictions);
# the send decisions and plan are built from the campaigns' Python steps (campaigns).
_GROUP_OF_MODEL = {
    "stg_predictions__customer_bgnbd": "predictions",
    "int_customer_churn_risk_scored": "predictions",
}
_GROUP_OF_FOLDER = {"audiences": "audiences", "sends": "campaigns"}


class DangolDbtTranslator(DagsterDbtTranslator):
    """Groups follow the dbt folder (staging, intermediate, marts, audiences) except where the data flows
    out of dbt and back (_GROUP_OF_MODEL, _GROUP_OF_FOLDER); sources are ingest's."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "ingest"
        if dbt_resource_props.get("name") in _GROUP_OF_MODEL:
            return _GROUP_OF_MODEL[dbt_resource_props["name"]]
        folders = dbt_resource_props.get("fqn", [])[1:-1]
        for folder in reversed(folders):
            if folder in _GROUP_OF_FOLDER:
                return _GROUP_OF_FOLDER[folder]
        return folders[0] if folders else "dbt"


translator = DangolDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_code_references=False))


def dbt_cli_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE, profiles_dir=str(DBT_PROJECT_DIR))
