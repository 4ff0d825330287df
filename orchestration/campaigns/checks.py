"""The rules every planned send must meet before delivery, as great-expectations suites.

Each rule is a named list of expectations over the window's rows of fct_planned_sends, each joined with
its row of int_customer_eligibility_daily (the one place of the consent rule): what was planned must obey
the model. The Dagster asset checks (orchestration/defs/campaigns/checks.py) run
them, blocking delivery when one fails, and report how many rows broke which rule with masked examples.

great-expectations costs ~5 s and ~200 MB to import: it is imported inside `validate` only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

import duckdb
import pandas as pd

from channels.masking import mask_address
from orchestration.campaigns.config import PolicyConfig
from orchestration.campaigns.eligibility import ELIGIBILITY_TABLE, may_send
from orchestration.campaigns.legal import has_ad_form
from orchestration.campaigns.policy import is_night
from orchestration.campaigns.spec import CampaignSpec


class Rule(StrEnum):
    CONSENT = "consent_for_every_recipient"
    NO_DUPLICATES = "no_duplicate_sends"
    CONTACT_FORMAT = "valid_contact_format"
    AD_FORM = "legal_ad_form_present"
    NIGHT = "no_night_ad_without_night_consent"
    AUDIENCE_GUARD = "audience_guard"


RULE_DESCRIPTIONS = {
    Rule.CONSENT: "Every planned send is eligible in int_customer_eligibility_daily on its day, channel and"
    " purpose (consent, suppressions; for an ad of a category the existing-customer exception covers, that).",
    Rule.NO_DUPLICATES: "No send key twice, no customer twice per campaign cycle or per campaign and day.",
    Rule.CONTACT_FORMAT: "Every address is the eligibility model's valid address for its customer and channel"
    " (formats: the dbt var address_formats).",
    Rule.AD_FORM: "Every ad carries (광고) first, sender name and contact, and a free opt-out for its channel.",
    Rule.NIGHT: "No ad scheduled 21:00-08:00 on a non-exempt channel without night consent.",
    Rule.AUDIENCE_GUARD: "Warns when the audience guard holds a send list in the window (held sends are not"
    " delivered until a person runs `dangol approve --campaign <id> --date <day>`, or --reject).",
}

_KNOWN_CHANNELS = ["email", "sms", "kakao", "app_push", "web_push"]

# Each planned row with its eligibility row (purpose: ad, legal_notice for legally required info, info)
# and the category it advertises (for the existing-customer exception).
_WINDOW_SQL = f"""
select sends.*,
    eligibility.address as eligible_address,
    eligibility.is_address_valid,
    eligibility.is_eligible,
    eligibility.exception_categories,
    eligibility.has_night_consent,
    lists.advertised_category
from sends.fct_planned_sends as sends
left join sends.campaigns as campaigns on campaigns.campaign_id = sends.campaign_id
left join {ELIGIBILITY_TABLE} as eligibility
    on eligibility.as_of_date = sends.as_of_date
    and eligibility.customer_id = sends.customer_id
    and eligibility.channel = sends.channel
    and eligibility.purpose = case
        when sends.purpose = 'ad' then 'ad'
        when coalesce(campaigns.legally_required, false) then 'legal_notice'
        else 'info'
    end
left join sends.send_lists as lists
    on lists.send_key = sends.send_key and lists.as_of_date = sends.as_of_date and lists.channel = sends.channel
where sends.as_of_date between ? and ?
order by sends.as_of_date, sends.campaign_id, sends.customer_id
"""


def read_window(con: duckdb.DuckDBPyConnection, first: date, last: date) -> pd.DataFrame:
    return con.execute(_WINDOW_SQL, [first, last]).df()


def _true(value: Any) -> bool:
    return value is not None and not pd.isna(value) and bool(value)


def prepare(
    sends: pd.DataFrame, specs: Mapping[str, CampaignSpec], config: PolicyConfig, sender_name: str
) -> pd.DataFrame:
    """One boolean column per row-level rule (True where the rule holds or does not apply)."""
    frame = sends.copy()
    scheduled = frame["state"] == "scheduled"
    is_ad = frame["purpose"] == "ad"
    exempt = {str(c) for c in config.night.exempt_channels}

    def night_ok(row: pd.Series) -> bool:
        if row["purpose"] != "ad" or row["channel"] in exempt:
            return True
        if not is_night(pd.Timestamp(row["scheduled_at"]).to_pydatetime(), config):
            return True
        return _true(row["has_night_consent"])

    frame["consent_ok"] = [
        may_send(e, c, a)[0]
        for e, c, a in zip(
            frame["is_eligible"], frame["exception_categories"], frame["advertised_category"], strict=True
        )
    ]
    frame["address_ok"] = [
        _true(valid) and isinstance(address, str) and address == expected
        for valid, address, expected in zip(
            frame["is_address_valid"], frame["address"], frame["eligible_address"], strict=True
        )
    ]
    frame["ad_form_ok"] = [
        (not ad) or has_ad_form(ch, s, b, sender_name)
        for ad, ch, s, b in zip(is_ad, frame["channel"], frame["subject"], frame["body"], strict=True)
    ]
    frame["night_ok"] = [night_ok(r) for _, r in frame.iterrows()] if len(frame) else []
    frame["is_scheduled"] = scheduled
    return frame


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    passed: bool
    failing_rows: int
    by_expectation: dict[str, int]
    examples: list[dict[str, str]]
    # Failing rows per day; None when an expectation failed without naming its rows (every day then).
    failing_by_day: dict[date, int] | None = field(default_factory=dict)


def _expectations(gxe: Any, column: Any) -> dict[Rule, list[tuple[str, Any]]]:
    """Each rule's expectations, labelled for the metadata. `column` builds GX row conditions."""
    scheduled = column("is_scheduled") == True  # noqa: E712 - a GX condition, not a Python comparison

    def only(condition: Any) -> dict[str, Any]:
        return {"row_condition": condition}

    return {
        Rule.CONSENT: [
            (
                "consent_ok[scheduled]",
                gxe.ExpectColumnValuesToBeInSet(column="consent_ok", value_set=[True], **only(scheduled)),
            ),
        ],
        Rule.NO_DUPLICATES: [
            ("unique send_key[scheduled]", gxe.ExpectColumnValuesToBeUnique(column="send_key", **only(scheduled))),
            (
                "unique campaign, customer, cycle[scheduled]",
                gxe.ExpectCompoundColumnsToBeUnique(
                    column_list=["campaign_id", "customer_id", "cycle"], **only(scheduled)
                ),
            ),
            (
                "unique campaign, step, customer, day",
                gxe.ExpectCompoundColumnsToBeUnique(column_list=["campaign_id", "step", "customer_id", "as_of_date"]),
            ),
        ],
        Rule.CONTACT_FORMAT: [
            (
                "address_ok[scheduled]",
                gxe.ExpectColumnValuesToBeInSet(column="address_ok", value_set=[True], **only(scheduled)),
            ),
            ("known channel", gxe.ExpectColumnValuesToBeInSet(column="channel", value_set=_KNOWN_CHANNELS)),
        ],
        Rule.AD_FORM: [
            (
                "ad_form_ok[scheduled]",
                gxe.ExpectColumnValuesToBeInSet(column="ad_form_ok", value_set=[True], **only(scheduled)),
            ),
        ],
        Rule.NIGHT: [
            (
                "night_ok[scheduled]",
                gxe.ExpectColumnValuesToBeInSet(column="night_ok", value_set=[True], **only(scheduled)),
            ),
        ],
        Rule.AUDIENCE_GUARD: [
            ("state is scheduled", gxe.ExpectColumnValuesToBeInSet(column="state", value_set=["scheduled"])),
        ],
    }


def _examples(frame: pd.DataFrame, index: list[int], limit: int = 5) -> list[dict[str, str]]:
    rows = frame.loc[[i for i in index if i in frame.index][:limit]]
    return [
        {
            "campaign_id": str(r.campaign_id),
            "customer_id": str(r.customer_id),
            "as_of_date": str(r.as_of_date)[:10],
            "channel": str(r.channel),
            "address": mask_address(str(r.channel), str(r.address)),
            "scheduled_at": str(r.scheduled_at)[:16],
            "state": str(r.state),
        }
        for r in rows.itertuples(index=False)
    ]


def validate(frame: pd.DataFrame) -> dict[Rule, RuleResult]:
    """Run every rule's expectations with great-expectations (ephemeral context) over `frame`."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.row_conditions import Column

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("warehouse")
        .add_dataframe_asset("fct_planned_sends")
        .add_batch_definition_whole_dataframe("window")
        .get_batch(batch_parameters={"dataframe": frame.reset_index(drop=True)})
    )
    out: dict[Rule, RuleResult] = {}
    for rule, labelled in _expectations(gxe, Column).items():
        labels = [label for label, _ in labelled]
        suite = context.suites.add(gx.ExpectationSuite(name=str(rule), expectations=[e for _, e in labelled]))
        result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
        by_expectation: dict[str, int] = {}
        bad: list[int] = []
        unplaced = False
        for label, r in zip(labels, result.results, strict=True):
            count = int((r.result or {}).get("unexpected_count") or 0)
            by_expectation[label] = count
            index = [int(i) for i in (r.result or {}).get("unexpected_index_list") or [] if isinstance(i, int)]
            unplaced = unplaced or (count > 0 and not index)
            bad.extend(index)
        frame_reset = frame.reset_index(drop=True)
        failing = sorted(set(bad))
        days = pd.to_datetime(frame_reset.loc[failing, "as_of_date"]).dt.date.value_counts() if failing else {}
        out[rule] = RuleResult(
            rule=rule,
            passed=bool(result.success),
            failing_rows=len(failing) if failing else sum(by_expectation.values()),
            by_expectation=by_expectation,
            examples=_examples(frame_reset, failing),
            failing_by_day=None if unplaced else {d: int(n) for d, n in dict(days).items()},
        )
    return out


def failures_by_day(
    frame: pd.DataFrame, results: Mapping[Rule, RuleResult], ignore: frozenset[str] = frozenset()
) -> dict[date, str]:
    """Per day of `frame` whose rows break a rule (other than `ignore`): the rules broken and how often.

    One validation of the whole window names the days, so a backfill holds only its bad days; a rule that
    failed without naming its rows (or across days, such as a key planned twice) holds every day it touches,
    all of them when it names none."""
    all_days = sorted(set(pd.to_datetime(frame["as_of_date"]).dt.date)) if len(frame) else []
    held: dict[date, list[str]] = {}
    for rule, result in results.items():
        if result.passed or str(rule) in ignore:
            continue
        counts = result.failing_by_day
        for day in all_days if counts is None else sorted(counts):
            rows = result.failing_rows if counts is None else counts[day]
            held.setdefault(day, []).append(f"{rule} ({rows} rows)")
    return {day: ", ".join(rules) for day, rules in sorted(held.items())}
