"""Who may get which message: the warehouse's int_customer_eligibility_daily, and how to refresh it.

The consent rule (the latest change at or before a moment wins, a withdrawal wins a tie; opt-outs belong
to the address; suppressions; the existing-customer exception) lives in that dbt model only. Python reads
its rows: the send policy and the blocking checks for the planned day, the hand-off for the day a message
really goes out (`eligibility_at_handoff`: the freshest state there is, through the same model).

Python's part is what dbt cannot do: copy the delivery ledger's suppressions (SQLite, outside the
warehouse) into `ledger.suppressions`, and pass the policy's existing-customer exception as a dbt var.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path

import duckdb
import pandas as pd

from channels.ledger import Ledger
from channels.models import Purpose
from orchestration.campaigns.config import PolicyConfig, load_policy
from orchestration.campaigns.spec import CampaignSpec
from orchestration.lib.partitions import dbt_vars

ELIGIBILITY_TABLE = "intermediate.int_customer_eligibility_daily"
MODEL = "int_customer_eligibility_daily"
# The models a hand-off rebuilds: the suppressions view (built empty before the first copy) and the model.
HANDOFF_SELECTION = ("stg_ledger__suppressions", MODEL)

SUPPRESSIONS_DDL = """
create schema if not exists ledger;
create table if not exists ledger.suppressions (
    channel varchar not null,
    address_hash varchar not null,
    kind varchar not null,
    reason varchar,
    suppressed_at timestamp,
    copied_at timestamp not null
);
create table if not exists ledger.source_files (
    file varchar primary key,
    sha256 varchar not null,
    loaded_at timestamp not null
);
"""

ELIGIBILITY_COLUMNS = [
    "as_of_date",
    "customer_id",
    "channel",
    "purpose",
    "address",
    "is_address_valid",
    "consent_state",
    "consent_recorded_at",
    "consent_source",
    "consent_scope",
    "has_night_consent",
    "night_consent_recorded_at",
    "suppression_kind",
    "suppression_reason",
    "exception_categories",
    "is_eligible",
    "ineligible_reason",
]


def message_purpose(spec: CampaignSpec) -> str:
    """The model's purpose for a campaign: ad, info, or legal_notice (a notice the law requires)."""
    if spec.purpose is Purpose.AD:
        return "ad"
    return "legal_notice" if spec.legally_required else "info"


def may_send(is_eligible: object, exception_categories: object, advertised_category: object) -> tuple[bool, bool]:
    """(may send, only through the existing-customer exception) for one row of the model and a message.

    The model lists the categories the exception covers for an ad without consent on record; an ad of
    one of them may go. Everything else is the model's `is_eligible`.
    """
    if is_eligible is not None and not pd.isna(is_eligible) and bool(is_eligible):
        return True, False
    if isinstance(exception_categories, str) and isinstance(advertised_category, str) and advertised_category:
        return advertised_category in exception_categories.split("|"), True
    return False, False


def dbt_eligibility_vars(policy: PolicyConfig) -> dict[str, object]:
    """The dbt vars the model takes from campaigns/_policy.yaml (their one place)."""
    rule = policy.existing_customer_exception
    return {"existing_customer_exception": {"enabled": rule.enabled, "months": rule.months}}


# -- the ledger's suppressions -------------------------------------------------------------------------


def _ledger_suppressions(ledger_path: Path, timezone: str) -> pd.DataFrame:
    columns = ["channel", "address_hash", "kind", "reason", "suppressed_at"]
    if not ledger_path.exists():
        return pd.DataFrame(columns=columns)
    Ledger(ledger_path).close()  # brings an older ledger's tables up to date (the `kind` column)
    with sqlite3.connect(f"file:{ledger_path}?mode=ro", uri=True) as db:
        rows = db.execute("select channel, address_hash, kind, reason, at from suppressions").fetchall()
    frame = pd.DataFrame(rows, columns=columns)
    # The ledger records UTC instants; the warehouse is shop-local.
    at = pd.to_datetime(frame["suppressed_at"], utc=True, errors="coerce", format="ISO8601")
    frame["suppressed_at"] = at.dt.tz_convert(timezone).dt.tz_localize(None)
    return frame


def copy_suppressions(con: duckdb.DuckDBPyConnection, ledger_path: Path, timezone: str) -> int:
    """Replace ledger.suppressions with the ledger's list as it stands; returns how many rows."""
    frame = _ledger_suppressions(ledger_path, timezone).assign(copied_at=datetime.now())
    con.execute(SUPPRESSIONS_DDL)
    con.execute("begin")
    con.execute("delete from ledger.suppressions")
    if len(frame):
        con.register("_suppressions", frame)
        con.execute("insert into ledger.suppressions by name select * from _suppressions")
        con.unregister("_suppressions")
    con.execute("commit")
    return len(frame)


# -- the consents file ---------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def reload_consents_if_changed(con: duckdb.DuckDBPyConnection, data_dir: Path, timezone: str) -> bool:
    """Reload consents.csv into raw.consents when its content differs from the last load recorded here."""
    from orchestration.ingest.contract import CONTRACTS
    from orchestration.ingest.loader import QUARANTINE_DDL, load_file

    contract = next(c for c in CONTRACTS if c.table == "consents")
    path = data_dir / contract.file_name
    digest = _sha256(path)
    con.execute(SUPPRESSIONS_DDL)
    known = con.execute("select sha256 from ledger.source_files where file = ?", [str(path)]).fetchone()
    if known is not None and known[0] == digest:
        return False
    con.execute("create schema if not exists raw")
    con.execute(QUARANTINE_DDL)
    now_local = datetime.now(_zone(timezone)).replace(tzinfo=None)
    load_file(con, contract, data_dir, timezone, now_local)
    con.execute("insert or replace into ledger.source_files values (?, ?, ?)", [str(path), digest, now_local])
    return True


def _zone(timezone: str) -> tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(timezone)


# -- building and reading the model --------------------------------------------------------------------


def build_eligibility(warehouse: Path, first: date, last: date, timezone: str, policy: PolicyConfig) -> None:
    """`dbt build` of the suppressions view and the eligibility model (with its tests) for first..last.

    Call it without an open connection to the warehouse: dbt is a second process and needs the file.
    """
    from orchestration.lib.dbt import DBT_EXECUTABLE, DBT_PROJECT_DIR
    from orchestration.lib.warehouse import warehouse_lock

    variables = dbt_vars(first, last) | {"shop_timezone": timezone} | dbt_eligibility_vars(policy)
    target = DBT_PROJECT_DIR / "target" / "eligibility"
    command = [
        DBT_EXECUTABLE,
        "build",
        "--select",
        *HANDOFF_SELECTION,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
        "--vars",
        json.dumps(variables),
    ]
    env = os.environ | {
        "DANGOL_WAREHOUSE": str(warehouse),
        "DANGOL_TIMEZONE": timezone,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    with warehouse_lock(warehouse):
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(line for line in result.stdout.splitlines()[-30:] if "ERROR" in line or "FAIL" in line)
        raise EligibilityError(f"dbt build of {MODEL} for {first}..{last} failed:\n{tail or result.stdout[-2000:]}")


class EligibilityError(RuntimeError):
    """The eligibility model could not be built: nothing may be handed over on a guess."""


def read_eligibility(
    con: duckdb.DuckDBPyConnection, first: date, last: date, customer_ids: Iterable[str] | None = None
) -> pd.DataFrame:
    """The model's rows for the window (optionally only some customers)."""
    sql = f"select {', '.join(ELIGIBILITY_COLUMNS)} from {ELIGIBILITY_TABLE} where as_of_date between ? and ?"
    params: list[object] = [first, last]
    if customer_ids is not None:
        ids = sorted(set(customer_ids))
        if not ids:
            return pd.DataFrame(columns=ELIGIBILITY_COLUMNS)
        sql += " and customer_id in (select unnest(?::varchar[]))"
        params.append(ids)
    frame = con.execute(sql, params).df()
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"]).dt.date
    return frame


@dataclass(frozen=True)
class HandoffSource:
    """Where the freshest state lives: the warehouse, the ledger and the shop's folder (consents.csv)."""

    warehouse: Path
    ledger_path: Path
    data_dir: Path
    timezone: str = "Asia/Seoul"

    @staticmethod
    def from_settings() -> HandoffSource:
        """The shop's own (DANGOL_WAREHOUSE, DANGOL_LEDGER, DANGOL_DATA_DIR, DANGOL_TIMEZONE)."""
        from orchestration.settings import load_settings

        settings = load_settings()
        return HandoffSource(settings.warehouse, settings.ledger, settings.data_dir, settings.timezone)


def eligibility_at_handoff(
    source: HandoffSource,
    day: date,
    keys: Iterable[tuple[str, str, str]],
    policy: PolicyConfig | None = None,
) -> pd.DataFrame:
    """The freshest eligibility, right before messages are handed to a provider on shop-local `day`.

    Reloads consents.csv if it changed since it was last loaded, copies the ledger's suppressions (every
    opt-out and bounce recorded so far), rebuilds int_customer_eligibility_daily for `day` with dbt, and
    returns its rows for `keys` - (customer_id, channel, purpose), purpose being the model's (`ad`, `info`,
    `legal_notice`: see `message_purpose`). A key the model has no row for comes back with is_eligible
    False and ineligible_reason `unknown_customer`. Takes the warehouse's writer lock itself: call it
    without holding a connection. Raises EligibilityError when the model cannot be built.
    """
    from orchestration.lib.warehouse import connect

    policy = policy or load_policy()
    wanted = pd.DataFrame(list(keys), columns=["customer_id", "channel", "purpose"]).drop_duplicates()
    with connect(source.warehouse, timezone=source.timezone) as con:
        reload_consents_if_changed(con, source.data_dir, source.timezone)
        copy_suppressions(con, source.ledger_path, source.timezone)
    build_eligibility(source.warehouse, day, day, source.timezone, policy)
    with connect(source.warehouse, read_only=True, timezone=source.timezone) as con:
        rows = read_eligibility(con, day, day, wanted["customer_id"])
    out = wanted.merge(rows, on=["customer_id", "channel", "purpose"], how="left")
    unknown = out["as_of_date"].isna()
    out.loc[unknown, "as_of_date"] = day
    out.loc[unknown, "is_eligible"] = False
    out.loc[unknown, "ineligible_reason"] = "unknown_customer"
    out["is_eligible"] = out["is_eligible"].astype(bool)
    return out[ELIGIBILITY_COLUMNS].reset_index(drop=True)
