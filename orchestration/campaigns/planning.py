"""The warehouse side of the policy: read what it decides against, write what it decided.

Python writes three tables in the `sends` schema, each replaced for the window's days on a rerun:
`planned_sends_rendered` and `send_decisions_raw` (dbt sources of fct_planned_sends and
fct_send_decisions) and `campaign_days` (per campaign and day: sizes and the audience guard's state,
which the guard compares the next days with). `approvals` holds people's answers to held send lists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from channels.ledger import Ledger, State
from channels.models import Purpose
from orchestration.campaigns.config import UNCAPPED_CLASS, PolicyConfig
from orchestration.campaigns.eligibility import read_eligibility
from orchestration.campaigns.handoff import DELIVERIES_DDL, REFUSED
from orchestration.campaigns.policy import (
    CAMPAIGN_DAY_COLUMNS,
    DECISION_COLUMNS,
    HISTORY_COLUMNS,
    PLANNED_COLUMNS,
    PolicyInputs,
    PolicyResult,
    SendState,
)
from orchestration.campaigns.send_list import SEND_LIST_COLUMNS, next_send_after
from orchestration.campaigns.spec import CampaignSpec
from orchestration.settings import load_settings

PLAN_DDL = """
create schema if not exists sends;
create table if not exists sends.planned_sends_rendered (
    send_key varchar not null,
    campaign_id varchar not null,
    step integer not null,
    customer_id varchar not null,
    as_of_date date not null,
    cycle varchar not null,
    channel varchar not null,
    message_type varchar not null,
    purpose varchar not null,
    priority integer not null,
    cap_class varchar not null,
    address varchar not null,
    subject varchar,
    body varchar not null,
    data varchar not null,
    content_bytes integer not null,
    render_warnings varchar,
    scheduled_at timestamp not null,
    cost_krw double not null,
    state varchar not null,
    planned_at timestamp not null
);
create table if not exists sends.send_decisions_raw (
    campaign_id varchar not null,
    step integer not null,
    customer_id varchar not null,
    as_of_date date not null,
    cycle varchar not null,
    send_key varchar not null,
    purpose varchar not null,
    decision varchar not null,
    policy_step varchar not null,
    reason varchar,
    detail varchar not null,
    channel varchar,
    scheduled_at timestamp,
    channels_considered varchar not null,
    decided_at timestamp not null
);
create table if not exists sends.campaign_days (
    campaign_id varchar not null,
    as_of_date date not null,
    audience_size integer not null,
    eligible integer not null,
    baseline double,
    guard_limit double,
    guard_state varchar not null,
    planned integer not null,
    held integer not null,
    excluded integer not null,
    decided_at timestamp not null
);
create table if not exists sends.approvals (
    campaign_id varchar not null,
    as_of_date date not null,
    decision varchar not null,
    decided_by varchar not null,
    note varchar,
    recorded_at timestamp not null,
    primary key (campaign_id, as_of_date)
);
"""

# Ledger states that mean "this key has gone out, or may have": never plan it on another day.
_SENT_STATES = frozenset(State) - {State.PLANNED, State.RETRY}
# The plan's names for its masked previews (addresses come from the eligibility model).
_CONTACTS_SQL = (
    "select customer_id, customer_name from staging.stg_shop__customers"
    " where customer_id in (select unnest(?::varchar[]))"
)
# The customer 360's customers per day (int_customer_states_daily: leads are not customers).
_CUSTOMERS_KNOWN_SQL = """
select as_of_date, count(*) from intermediate.int_customer_states_daily
where as_of_date between ? and ? group by as_of_date
"""


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The plan's tables, and the delivery record fct_send_decisions reads the hand-off's refusals from."""
    con.execute(PLAN_DDL)
    con.execute(DELIVERIES_DDL)


def read_send_lists(
    con: duckdb.DuckDBPyConnection, first: date, last: date, campaign_ids: Iterable[str]
) -> pd.DataFrame:
    ids = list(campaign_ids)
    if not ids:
        return pd.DataFrame(columns=SEND_LIST_COLUMNS)
    marks = ",".join("?" * len(ids))
    frame = con.execute(
        f"select {', '.join(SEND_LIST_COLUMNS)} from sends.send_lists"
        f" where as_of_date between ? and ? and campaign_id in ({marks})"
        " order by as_of_date, campaign_id, customer_id, channel_rank",
        [first, last, *ids],
    ).df()
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"]).dt.date
    return frame


def _sent_keys(ledger_path: Path, keys: list[str]) -> frozenset[str]:
    if not ledger_path.exists() or not keys:
        return frozenset()
    with Ledger(ledger_path) as ledger:
        return frozenset(k for k, s in ledger.states(keys).items() if s in _SENT_STATES)


def load_inputs(
    con: duckdb.DuckDBPyConnection,
    first: date,
    last: date,
    send_list: pd.DataFrame,
    ledger_path: Path,
    config: PolicyConfig,
) -> PolicyInputs:
    """Everything the policy decides the window against, as of the end of each of its days."""
    keys = sorted(set(send_list["send_key"])) if len(send_list) else []
    customers = sorted(set(send_list["customer_id"])) if len(send_list) else []
    # Only the history the window's decisions can see: its own keys (already planned?) and its customers'
    # ads scheduled within the longest cap window of its days (caps); never the shop's whole past.
    reach = max((cap.window_days for cap in config.frequency_caps), default=1) - 1
    history = con.execute(
        f"select {', '.join(HISTORY_COLUMNS)} from sends.planned_sends_rendered"
        " where state = ? and as_of_date not between ? and ?"
        " and (send_key in (select unnest(?::varchar[]))"
        "  or (customer_id in (select unnest(?::varchar[])) and purpose = ? and cap_class <> ?"
        "      and cast(scheduled_at as date) between ? and ?))",
        [
            str(SendState.SCHEDULED),
            first,
            last,
            keys,
            customers,
            str(Purpose.AD),
            UNCAPPED_CLASS,
            first - timedelta(days=reach),
            last + timedelta(days=reach),
        ],
    ).df()
    replanned = con.execute(
        "select send_key, as_of_date from sends.planned_sends_rendered where as_of_date between ? and ?",
        [first, last],
    ).fetchall()
    guard_history = con.execute(
        "select campaign_id, as_of_date, eligible, guard_state from sends.campaign_days"
        " where as_of_date < ? and as_of_date >= ? and as_of_date not between ? and ?",
        [last, first - timedelta(days=config.guard.lookback_days), first, last],
    ).df()
    approvals = con.execute(
        "select campaign_id, as_of_date, decision, recorded_at as decided_at from sends.approvals"
        " where as_of_date between ? and ?",
        [first, last],
    ).df()
    known = con.execute(_CUSTOMERS_KNOWN_SQL, [first, last]).fetchall()
    # A key the ledger sent for a day this window replans is that day's own message, not a repeat.
    replanned_day = {k: pd.Timestamp(d).date() for k, d in replanned}
    sent = {k: replanned_day.get(k) for k in _sent_keys(ledger_path, keys)}
    return PolicyInputs(
        contacts=con.execute(_CONTACTS_SQL, [customers]).df(),
        eligibility=read_eligibility(con, first, last, customers),
        history=history,
        sent_keys=sent,
        guard_history=guard_history,
        approvals=approvals,
        customers_known={pd.Timestamp(d).date(): int(n) for d, n in known},
    )


def _replace(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, first: date, last: date) -> None:
    con.execute(f"delete from sends.{table} where as_of_date between ? and ?", [first, last])
    if len(frame):
        con.register("_frame", frame)
        con.execute(f"insert into sends.{table} by name select * from _frame")
        con.unregister("_frame")


def write_plan(con: duckdb.DuckDBPyConnection, first: date, last: date, result: PolicyResult) -> None:
    """Replace the window's decisions, sends and campaign days in one transaction."""
    now = datetime.now()
    ensure_tables(con)
    con.execute("begin")
    _replace(con, "planned_sends_rendered", result.planned[PLANNED_COLUMNS].assign(planned_at=now), first, last)
    _replace(con, "send_decisions_raw", result.decisions[DECISION_COLUMNS].assign(decided_at=now), first, last)
    _replace(con, "campaign_days", result.campaign_days[CAMPAIGN_DAY_COLUMNS].assign(decided_at=now), first, last)
    # A new plan is judged again at its hand-off: the old plan's refusals (expired, blocked) no longer apply.
    con.execute(
        f"delete from sends.deliveries where send_date between ? and ? and state in ({', '.join('?' * len(REFUSED))})",
        [first, last, *(str(v) for v in REFUSED)],
    )
    con.execute("commit")


def campaign_catalogue(specs: Iterable[CampaignSpec]) -> pd.DataFrame:
    """One row per campaign file as it stands: what measurement needs (goal, window, holdout, coupon)."""
    return pd.DataFrame(
        [
            {
                "campaign_id": s.id,
                "name": s.name,
                "owner": s.owner,
                "purpose": str(s.purpose),
                "audience": s.audience,
                "channels": ",".join(str(c) for c in s.channels),
                "priority": s.priority,
                "cap_class": s.frequency_cap_class,
                "holdout_share": s.holdout_share,
                "legally_required": s.legally_required,
                "conversion_goal": str(s.conversion.goal) if s.conversion else None,
                "conversion_window_days": s.conversion.window_days if s.conversion else None,
                "coupon_prefix": s.coupon.prefix if s.coupon else None,
                "coupon_benefit": s.coupon.benefit if s.coupon else None,
                "coupon_valid_days": s.coupon.valid_days if s.coupon else None,
            }
            for s in specs
        ]
    )


def write_catalogue(con: duckdb.DuckDBPyConnection, specs: Iterable[CampaignSpec]) -> None:
    """sends.campaigns: replaced on every plan, so it always matches the reviewed files."""
    frame = campaign_catalogue(specs).assign(updated_at=datetime.now())
    con.register("_campaigns", frame)
    con.execute("create or replace table sends.campaigns as select * from _campaigns")
    con.unregister("_campaigns")


def record_approval(
    con: duckdb.DuckDBPyConnection,
    campaign_id: str,
    day: date,
    decision: str,
    decided_by: str,
    note: str = "",
    at: datetime | None = None,
) -> None:
    """A person's answer to a held send list: `approved` lets it go on the next run, `rejected` drops it.

    `at` (shop-local, default now): an approved list goes at the campaign's next send time after it."""
    if decision not in ("approved", "rejected"):
        raise ValueError("decision is approved or rejected")
    ensure_tables(con)
    at = at or datetime.now(load_settings().tz).replace(tzinfo=None, microsecond=0)
    con.execute(
        "insert or replace into sends.approvals values (?, ?, ?, ?, ?, ?)",
        [campaign_id, day, decision, decided_by, note, at],
    )


def reschedule_approved(
    send_list: pd.DataFrame, approvals: pd.DataFrame, specs: Mapping[str, CampaignSpec]
) -> pd.DataFrame:
    """A held send list approved after its send time goes at the campaign's next send time after the approval,
    not at a time already past (it would expire at hand-off); caps then count the day it really arrives."""
    approved = approvals[approvals["decision"] == "approved"]
    if not len(send_list) or not len(approved):
        return send_list
    decided = {
        (str(r.campaign_id), pd.Timestamp(r.as_of_date).date()): pd.Timestamp(r.decided_at).to_pydatetime()
        for r in approved.itertuples(index=False)
    }
    out = send_list.copy()
    out["base_scheduled_at"] = [
        next_send_after(specs[c], pd.Timestamp(at).to_pydatetime(), decided[(c, d)]) if (c, d) in decided else at
        for c, d, at in zip(out["campaign_id"], out["as_of_date"], out["base_scheduled_at"], strict=True)
    ]
    return out


def data_of(value: str | None) -> Mapping[str, str]:
    return json.loads(value) if value else {}
